"""All proto ↔ domain translation of the onboarding service."""

from __future__ import annotations

from sanji.onboarding.v1 import onboarding_pb2 as pb

from services.onboarding.domain import FILES, Job, JobStatus, Upload

STATUS = {JobStatus.QUEUED: pb.JOB_STATUS_QUEUED, JobStatus.RUNNING: pb.JOB_STATUS_RUNNING,
          JobStatus.DONE: pb.JOB_STATUS_DONE, JobStatus.FAILED: pb.JOB_STATUS_FAILED}


def uploads_in(request: pb.OnboardCountyRequest) -> dict[str, Upload]:
    return {kind: Upload(getattr(request, kind).content, getattr(request, kind).filename) for kind in FILES
            if request.HasField(kind)}


def job_to_pb(job: Job) -> pb.Job:
    return pb.Job(
        id=job.id, province=job.province, county=job.county, status=STATUS[job.status],
        requested_by=job.requested_by, created_at=job.created_at.isoformat(),
        finished_at=job.finished_at.isoformat() if job.finished_at else "", report=job.report,
        problems=[pb.LineProblem(file=f, line=n, message=m) for f, n, m in job.problems], lacks=job.lacks,
        units_imported=job.units_imported, staff_provisioned=job.staff_provisioned, error=job.error,
        credentials_waiting=job.credentials_waiting, passwords_set=job.passwords_set)
