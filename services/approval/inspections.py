"""Site inspection (现场踏勘) of a case. Plain Python, no I/O.

A reviewer holding the review arranges the inspection — independent, joint with other departments, or
delegated to the original department — and records its findings. When the item says inspection time is
not counted (`site_inspection = "suspends"`), arranging it suspends the clock (the applicant is told how
long, in working days, through the inspection day) and recording it resumes the clock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from services.approval.deadlines import DeadlineLedger
from services.approval.domain import (
    INSPECTION_CONCLUSIONS,
    INSPECTION_MODES,
    MAX_SUSPENSION_DAYS,
    Actor,
    Inspection,
    InspectionStatus,
    StepKind,
)
from shared.calendar import WorkingCalendar
from shared.errors import FailedPrecondition, InvalidArgument, NotFound
from shared.tenancy import Role


class SiteInspections(DeadlineLedger):
    """A case's site inspections, on top of its deadline ledger (an inspection may suspend the clock)."""

    def request_inspection(self, actor: Actor, mode: str, departments: Sequence[str], scheduled_on: dt.date,
                           inspectors: str, note: str, *, today: dt.date, now: dt.datetime,
                           notice_number: str, cal: WorkingCalendar) -> Inspection:
        self._require_running()
        actor.require(Role.REVIEWER)
        self._held(actor, StepKind.REVIEW, StepKind.DEPARTMENT)
        if mode not in INSPECTION_MODES:
            raise InvalidArgument("mode", "踏勘方式应为 independent（独立）、joint（联合）"
                                          "或 delegated（委托原职能部门）")
        depts = tuple(dict.fromkeys(d.strip() for d in departments if d and d.strip()))
        if mode == "joint" and not depts:
            raise InvalidArgument("departments", "联合踏勘须列明参加的部门")
        if mode == "delegated" and len(depts) != 1:
            raise InvalidArgument("departments", "委托踏勘须写明负责组织实施的原职能部门（一个）")
        if scheduled_on < today:
            raise InvalidArgument("scheduled_on", f"踏勘日期不能早于今天（{today.isoformat()}）")
        if any(i.status == InspectionStatus.SCHEDULED for i in self.inspections):
            raise FailedPrecondition("已有尚未记录结果的现场踏勘", field="case_id")
        suspends = self.site_inspection == "suspends"
        insp = Inspection(id=str(uuid.uuid4()), mode=mode, departments=depts, scheduled_on=scheduled_on,
                          suspends=suspends, requested_by=actor.username, requested_at=now,
                          inspectors=(inspectors or "").strip(), note=(note or "").strip())
        self.inspections.append(insp)
        self.new_inspections.append(insp)
        where = f"（{'、'.join(depts)}）" if depts else ""
        self._history(now, actor.username, actor.name, "安排现场踏勘",
                      f"{INSPECTION_MODES[mode]}{where}，定于 {scheduled_on.isoformat()}", insp.note)
        if suspends and self.open_suspension() is None:
            # told to the applicant: from today through the inspection day, in working days
            length = max(1, cal.working_days_between(today - dt.timedelta(days=1), scheduled_on))
            entry = self._suspend(actor.username, actor.name, "site_inspection",
                                  f"现场踏勘（{INSPECTION_MODES[mode]}）", min(length, MAX_SUSPENSION_DAYS),
                                  today, now, notice_number)
            insp.suspension_id = entry.id
        return insp

    def record_inspection(self, actor: Actor, inspection_id: str, findings: str, conclusion: str, *,
                          today: dt.date, now: dt.datetime, cal: WorkingCalendar) -> Inspection:
        insp = next((i for i in self.inspections if i.id == inspection_id), None)
        if insp is None:
            raise NotFound("现场踏勘记录不存在")
        actor.require(Role.REVIEWER)
        self._held(actor, StepKind.REVIEW, StepKind.DEPARTMENT)
        if insp.status != InspectionStatus.SCHEDULED:
            raise FailedPrecondition("该现场踏勘已记录结果", field="inspection_id")
        findings = (findings or "").strip()
        if not findings:
            raise InvalidArgument("findings", "请填写踏勘情况")
        if conclusion not in INSPECTION_CONCLUSIONS:
            raise InvalidArgument("conclusion", "踏勘结论应为 pass（符合要求）或 fail（不符合要求）")
        insp.status, insp.findings, insp.conclusion = InspectionStatus.RECORDED, findings, conclusion
        insp.recorded_by, insp.recorded_at = actor.username, now
        if insp not in self.new_inspections:
            self.dirty_inspections.add(insp.id)
        self._history(now, actor.username, actor.name, "记录现场踏勘",
                      f"{INSPECTION_MODES[insp.mode]}：{INSPECTION_CONCLUSIONS[conclusion]}", findings)
        open_ = self.open_suspension()
        if insp.suspension_id and open_ is not None and open_.id == insp.suspension_id:
            self._resume(actor.username, actor.name, open_, "现场踏勘结束", today, now, cal)
        return insp
