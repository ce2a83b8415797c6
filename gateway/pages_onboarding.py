"""The province administrator's onboarding page (县区上线, issue 23 item 2): upload a county's national division
files and staff list, follow the job, read its report by line and what the county still lacks, take the initial
passwords once. Thin forms over the onboarding service's calls (gateway/routes_onboarding.py); who may is the
service's rule (a province's own administrator, its own counties), and its refusals are Chinese pages."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sanji.onboarding.v1 import onboarding_pb2 as pb

from gateway.edge import edge_of
from gateway.pages_kit import CsrfRefused, Posted, Staff, allow, csrf_of, render
from gateway.rest import file_response, status_tokens
from gateway.routes_onboarding import onboard_request, onboarding, read_county_form
from shared.tenancy import Role

router = APIRouter(include_in_schema=False)
STATUS = status_tokens(pb.JobStatus)
STATUS_NAMES = {"queued": "排队中", "running": "进行中", "done": "已完成", "failed": "已中止"}


def _csrf(request: Request, sent: str) -> None:
    token = edge_of(request).token_of(request)
    if not token or not sent or not hmac.compare_digest(sent, csrf_of(token)):
        raise CsrfRefused()


@router.get("/console/onboarding", response_class=HTMLResponse)
def jobs(request: Request, p: Staff):
    allow(p, Role.TENANT_ADMIN)
    found = onboarding.call(request, p, "ListJobs", pb.ListJobsRequest(limit=50))
    return render(request, "onboarding.html", {"jobs": found.jobs, "total": found.total, "status": STATUS,
                                                "names": STATUS_NAMES, "province": str(p.tenant)}, p=p)


@router.post("/console/onboarding")
async def onboard(request: Request, p: Staff):
    fields, files = await read_county_form(request)
    _csrf(request, fields.get("csrf", ""))
    allow(p, Role.TENANT_ADMIN)
    job = onboarding.call(request, p, "OnboardCounty", onboard_request(fields, files, str(p.tenant)[:2]),
                          at_least=30)
    return RedirectResponse(f"/console/onboarding/{job.id}", status_code=303)


@router.get("/console/onboarding/{job_id}", response_class=HTMLResponse)
def job(request: Request, job_id: str, p: Staff):
    allow(p, Role.TENANT_ADMIN)
    j = onboarding.call(request, p, "GetJob", pb.GetJobRequest(job_id=job_id))
    status = STATUS.get(j.status, "")
    return render(request, "onboarding_job.html", {"j": j, "status": status, "names": STATUS_NAMES,
                                                    "waiting": status in ("queued", "running")}, p=p)


@router.post("/console/onboarding/{job_id}/credentials")
def credentials(request: Request, job_id: str, p: Staff, form: Posted):
    allow(p, Role.TENANT_ADMIN)
    doc = onboarding.call(request, p, "TakeCredentials", pb.GetJobRequest(job_id=job_id))
    return file_response(doc.content, doc.content_type, doc.filename)
