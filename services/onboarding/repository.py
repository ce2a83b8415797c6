"""Persistence of the onboarding schema: jobs and the files a queued job runs on. On the unit of work only;
never commits. The worker finds waiting jobs through the named scope JOB_QUEUE (ids and provinces)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from services.onboarding.domain import Job, JobStatus, Outcome, Upload
from shared.db import RlsScope, UnitOfWork

JOB_QUEUE = RlsScope("onboarding job queue", {"on": "app.job_queue"})

_COLUMNS = ("id, tenant_code, county, status, requested_by, created_at, started_at, finished_at, report, problems,"
            " lacks, units_imported, staff_provisioned, passwords_set, credentials IS NOT NULL, error")


def _job(row: tuple) -> Job:
    (id_, province, county, status, by, created, started, finished, report, problems, lacks, units, staff,
     passwords, waiting, error) = row
    return Job(id=str(id_), province=province, county=county, status=JobStatus(status), requested_by=by,
               created_at=created, started_at=started, finished_at=finished, report=list(report),
               problems=[tuple(p) for p in problems], lacks=list(lacks), units_imported=units,
               staff_provisioned=staff, passwords_set=passwords, credentials_waiting=waiting, error=error)


class OnboardingRepository:
    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    def add(self, province: str, county: str, by: str, by_name: str, at: datetime,
            uploads: dict[str, Upload]) -> str:
        job_id = uuid.uuid4()
        self.uow.batch(
            ("INSERT INTO onboarding.jobs (id, tenant_code, county, status, requested_by, requested_by_name,"
             " created_at) VALUES (:id, :t, :c, 'queued', :by, :name, :at)",
             {"id": job_id, "t": province, "c": county, "by": by, "name": by_name, "at": at}),
            *(("INSERT INTO onboarding.job_files (job_id, tenant_code, kind, filename, content)"
               " VALUES (:id, :t, :k, :f, :b)", {"id": job_id, "t": province, "k": kind, "f": u.filename,
                                                  "b": u.content}) for kind, u in uploads.items()))
        return str(job_id)

    def get(self, job_id: str) -> Job | None:
        try:
            uuid.UUID(job_id)
        except ValueError:
            return None
        row = self.uow.row(f"SELECT {_COLUMNS} FROM onboarding.jobs WHERE id = :id", {"id": job_id})
        return _job(row) if row else None

    def list(self, limit: int, offset: int) -> tuple[list[Job], int]:
        rows = self.uow.rows(f"SELECT {_COLUMNS} FROM onboarding.jobs ORDER BY created_at DESC, id"
                             " LIMIT :l OFFSET :o", {"l": limit, "o": offset})
        total = self.uow.value("SELECT count(*) FROM onboarding.jobs")
        return [_job(r) for r in rows], total

    def waiting(self, limit: int = 20) -> list[tuple[str, str]]:
        """(job id, province) of the jobs waiting to run, oldest first (the queue scope shows only those)."""
        self.uow.widen(JOB_QUEUE, on="on")
        return [(str(i), t) for i, t in self.uow.rows(
            "SELECT id, tenant_code FROM onboarding.jobs WHERE status IN ('queued', 'running')"
            " ORDER BY created_at LIMIT :l", {"l": limit})]

    def claim(self, job_id: str, at: datetime) -> tuple[str, dict[str, Upload]] | None:
        """Take a waiting job (queued, or running and left by a process that died): its county and files; None
        when another process took it first."""
        row = self.uow.row("UPDATE onboarding.jobs SET status = 'running', started_at = :at, attempts = attempts + 1"
                           " WHERE id = :id AND (status = 'queued' OR (status = 'running'"
                           " AND started_at < :at - interval '15 minutes')) RETURNING county",
                           {"id": job_id, "at": at})
        if row is None:
            return None
        files = self.uow.rows("SELECT kind, filename, content FROM onboarding.job_files WHERE job_id = :id",
                              {"id": job_id})
        return row[0], {k: Upload(bytes(c), f) for k, f, c in files}

    def finish(self, job_id: str, at: datetime, outcome: Outcome) -> None:
        """The job's result; its files go (the staff list may carry passwords)."""
        self.uow.batch(
            ("UPDATE onboarding.jobs SET status = :s, finished_at = :at, report = CAST(:report AS jsonb),"
             " problems = CAST(:problems AS jsonb), lacks = CAST(:lacks AS jsonb), units_imported = :u,"
             " staff_provisioned = :staff, passwords_set = :pw, credentials = :cred, error = :err WHERE id = :id",
             {"id": job_id, "at": at, "s": JobStatus.FAILED if outcome.error else JobStatus.DONE,
              "report": json.dumps(outcome.report, ensure_ascii=False),
              "problems": json.dumps(outcome.problems, ensure_ascii=False),
              "lacks": json.dumps(outcome.lacks, ensure_ascii=False), "u": outcome.units_imported,
              "staff": outcome.staff_provisioned, "pw": outcome.passwords_set, "cred": outcome.credentials,
              "err": outcome.error}),
            ("DELETE FROM onboarding.job_files WHERE job_id = :id", {"id": job_id}))

    def take_credentials(self, job_id: str) -> str | None:
        """The initial-password sheet, erased as it is read: handed out once."""
        row = self.uow.row("UPDATE onboarding.jobs j SET credentials = NULL FROM onboarding.jobs prev"
                           " WHERE j.id = :id AND prev.id = j.id AND prev.credentials IS NOT NULL"
                           " RETURNING prev.credentials", {"id": job_id})
        return row[0] if row else None
