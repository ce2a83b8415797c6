"""Use cases of the onboarding service: a province administrator queues a county's onboarding, reads its report
back and takes the initial passwords once; the worker runs waiting jobs, each in a transaction bound to the job's
province. The steps are the `Onboarder` port's (onboarder.py: infra/onboard/county.py, the command's own code)."""

from __future__ import annotations

import logging
from typing import Protocol

from services.onboarding.domain import Job, Outcome, Upload, check_uploads, province_of
from services.onboarding.repository import OnboardingRepository
from shared.clock import Clock
from shared.db import Database
from shared.errors import NotFound, PermissionDenied
from shared.tenancy import Principal, Role, UnitKind

log = logging.getLogger("sanji.onboarding")


class Onboarder(Protocol):
    def check(self, county: str, uploads: dict[str, Upload]) -> None:
        """Refuse files that cannot be read at all (InvalidArgument naming the file), before a job is queued."""

    def run(self, province: str, county: str, uploads: dict[str, Upload]) -> Outcome:
        """The steps, with their report; a step that cannot go on ends in Outcome.error."""


def _own_province(p: Principal) -> None:
    p.require(Role.TENANT_ADMIN)
    if p.tenant.kind is not UnitKind.PROVINCE:
        raise PermissionDenied("只有省级管理员可以查看上线任务")


class OnboardingHandlers:
    def __init__(self, db: Database, clock: Clock, onboarder: Onboarder):
        self.db = db
        self.clock = clock
        self.onboarder = onboarder

    def submit(self, p: Principal, county: str, uploads: dict[str, Upload]) -> Job:
        province = province_of(p, county)
        check_uploads(uploads)
        self.onboarder.check(county, uploads)
        with self.db.unit_of_work(p) as uow:
            repo = OnboardingRepository(uow)
            job_id = repo.add(province, county, p.username, p.display_name or p.username, self.clock.now(), uploads)
            job = repo.get(job_id)
            uow.commit()
        assert job is not None
        log.info("onboarding job %s queued: county %s by %s", job_id, county, p.username)
        return job

    def get(self, p: Principal, job_id: str) -> Job:
        _own_province(p)
        with self.db.unit_of_work(p) as uow:
            job = OnboardingRepository(uow).get(job_id)
        if job is None:
            raise NotFound("没有这个上线任务")
        return job

    def list(self, p: Principal, limit: int, offset: int) -> tuple[list[Job], int]:
        _own_province(p)
        with self.db.unit_of_work(p) as uow:
            return OnboardingRepository(uow).list(min(max(limit, 1) if limit else 50, 200), max(offset, 0))

    def take_credentials(self, p: Principal, job_id: str) -> tuple[str, bytes]:
        job = self.get(p, job_id)
        with self.db.unit_of_work(p) as uow:
            sheet = OnboardingRepository(uow).take_credentials(job_id)
            uow.commit()
        if sheet is None:
            raise NotFound("该任务没有待领取的初始密码（已领取，或未设置任何人的密码）")
        log.info("initial passwords of onboarding job %s taken by %s", job_id, p.username)
        return f"initial-passwords-{job.county}.csv", sheet.encode("utf-8")

    # -- the worker ----------------------------------------------------------------------------------
    def run_waiting(self) -> int:
        """Run every job waiting now; how many ran."""
        with self.db.unit_of_work() as uow:
            waiting = OnboardingRepository(uow).waiting()
        return sum(self.run_job(job_id, province) for job_id, province in waiting)

    def run_job(self, job_id: str, province: str) -> bool:
        with self.db.unit_of_work(tenant=province) as uow:
            claimed = OnboardingRepository(uow).claim(job_id, self.clock.now())
            uow.commit()
        if claimed is None:
            return False                            # another process took it
        county, uploads = claimed
        log.info("onboarding job %s: county %s running", job_id, county)
        try:
            outcome = self.onboarder.run(province, county, uploads)
        except Exception:  # noqa: BLE001 — the job records it; the worker goes on with the next
            log.exception("onboarding job %s failed", job_id)
            outcome = Outcome(error="上线过程中出现内部错误，已记录日志；可重新提交（上线可重复执行）")
        with self.db.unit_of_work(tenant=province) as uow:
            OnboardingRepository(uow).finish(job_id, self.clock.now(), outcome)
            uow.commit()
        log.info("onboarding job %s: county %s %s", job_id, county, "failed" if outcome.error else "done")
        return True
