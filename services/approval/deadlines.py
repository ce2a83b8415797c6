"""The deadline ledger (期限台账) of a case, and the due dates computed from it. Plain Python, no I/O.

The deadline is never stored as the truth: it is the case's budget of working days (promised and
statutory side by side) plus its ledger — suspensions for a special procedure or the applicant's
correction (the days are not counted), resumptions, and statutory extensions approved by the head —
computed on the tenant's working-day calendar (`shared.calendar`). What the database keeps of it
(`promised_due` …) is a cache for queues and supervision (`Projection`), recomputed from these three:
by the case after each action, and in bulk (`project`) when a calendar year is published.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.approval.domain import (
    DELIVERY_DAYS,
    JOINT_MAX_EXTENSION_DAYS,
    MAX_EXTENSION_DAYS,
    MAX_SUSPENSION_DAYS,
    PROCEDURES,
    Actor,
    CaseRecord,
    LedgerEntry,
    LedgerKind,
    Step,
    StepKind,
    StepStatus,
    procedure_code,
)
from shared.calendar import DeadlineResult, Pause, WorkingCalendar
from shared.errors import FailedPrecondition, InvalidArgument
from shared.tenancy import Role


@dataclass(frozen=True)
class Projection:
    """The cached part of the deadline (for queues and supervision); the computation is the truth."""

    promised_due: dt.date | None
    statutory_due: dt.date | None
    delivery_due: dt.date | None
    provisional: bool
    suspended: bool


# -- projection (shared by the case and the bulk re-projection) ---------------------------------------

def project(cal: WorkingCalendar, accepted_on: dt.date, promised_days: int, statutory_total: int,
            pauses: Sequence[Pause], decided_on: dt.date | None) -> Projection:
    """Due dates on the fast path (no trace). An open pause leaves the decision due dates undated."""
    promised, p1 = cal.due_date(accepted_on, promised_days, pauses)
    statutory, p2 = cal.due_date(accepted_on, statutory_total, pauses)
    delivery, p3 = (cal.due_date(decided_on, DELIVERY_DAYS) if decided_on is not None else (None, False))
    suspended = any(p.end is None for p in pauses)
    if decided_on is not None:
        p1 = p2 = False                         # the decision clock has stopped
    return Projection(promised, statutory, delivery, p1 or p2 or p3, suspended)


def pauses_from_pairs(pairs: Iterable[tuple[dt.date, dt.date | None, str]]) -> list[Pause]:
    """(suspended_on, resumed_on or None, procedure) → pauses, as `DeadlineLedger.pauses` makes them."""
    out = []
    for start, resumed, procedure in pairs:
        label = PROCEDURES.get(procedure, procedure)
        if resumed is None:
            out.append(Pause(start, None, label))
        elif resumed > start:
            out.append(Pause(start, resumed - dt.timedelta(days=1), label))
    return out


class DeadlineLedger(CaseRecord):
    """A case with its ledger: reading it, the due dates it gives, and the entries reviewers, deciders and
    the head make in it."""

    # -- reading the ledger ----------------------------------------------------------------------
    def open_suspension(self) -> LedgerEntry | None:
        resumed = {e.ref for e in self.ledger if e.kind == LedgerKind.RESUME}
        return next((e for e in self.ledger if e.kind == LedgerKind.SUSPEND and e.id not in resumed), None)

    def pauses(self) -> list[Pause]:
        """Suspensions as pauses: from the day of suspension to the day before resumption (inclusive)."""
        ends = {e.ref: e.on_date for e in self.ledger if e.kind == LedgerKind.RESUME}
        out: list[Pause] = []
        for e in self.ledger:
            if e.kind != LedgerKind.SUSPEND or e.on_date is None:
                continue
            end = ends.get(e.id)
            label = PROCEDURES.get(e.procedure, e.procedure)
            if end is None:
                out.append(Pause(e.on_date, None, label))
            elif end > e.on_date:
                out.append(Pause(e.on_date, end - dt.timedelta(days=1), label))
        return out

    def extension_days(self) -> int:
        return sum(e.days for e in self.ledger if e.kind == LedgerKind.EXTEND)

    @property
    def max_extension_days(self) -> int:
        return JOINT_MAX_EXTENSION_DAYS if self.joint else MAX_EXTENSION_DAYS

    def _require_not_suspended(self) -> None:
        s = self.open_suspension()
        if s is not None:
            raise FailedPrecondition(f"计时暂停中（{PROCEDURES.get(s.procedure, s.procedure)}），请先恢复计时",
                                     field="case_id")

    # -- deadlines ---------------------------------------------------------------------------------
    def promised_deadline(self, cal: WorkingCalendar) -> DeadlineResult:
        return cal.add_working_days(self.accepted_on, self.promised_days, self.pauses())

    def statutory_deadline(self, cal: WorkingCalendar) -> DeadlineResult:
        return cal.add_working_days(self.accepted_on, self.statutory_days + self.extension_days(), self.pauses())

    def share_deadline(self, cal: WorkingCalendar, step: Step) -> DeadlineResult:
        return cal.add_working_days(self.accepted_on, step.share_days, self.pauses())

    def delivery_deadline(self, cal: WorkingCalendar) -> DeadlineResult | None:
        if self.decision is None:
            return None
        return cal.add_working_days(self.decision.decided_on, DELIVERY_DAYS)

    def projection(self, cal: WorkingCalendar) -> Projection:
        return project(cal, self.accepted_on, self.promised_days, self.statutory_days + self.extension_days(),
                       self.pauses(), self.decision.decided_on if self.decision else None)

    def late_departments(self, cal: WorkingCalendar, today: dt.date) -> list[str]:
        """Departments that concluded after their share of the deadline, or are still open past it."""
        out = []
        for s in self.steps:
            if s.kind != StepKind.DEPARTMENT:
                continue
            due = self.share_deadline(cal, s).due
            if due is None:
                continue
            done = s.done_on if s.status == StepStatus.DONE else None
            if (done is not None and done > due) or (done is None and today > due):
                out.append(s.desk)
        return out

    def is_late(self, cal: WorkingCalendar, today: dt.date) -> bool:
        """Decided (or, still open, today) after the promised due date — or a department ran late."""
        if self.late_departments(cal, today):
            return True
        due = self.promised_deadline(cal).due
        if due is None:
            return False
        when = self.decision.decided_on if self.decision else today
        return when > due

    # -- the entries -------------------------------------------------------------------------------
    def _require_handler(self, actor: Actor) -> Step:
        """Ledger entries are made by whoever holds a step of the case (the reviewer or the decider)."""
        actor.require(Role.REVIEWER, Role.DECIDER)
        return self._held(actor, StepKind.REVIEW, StepKind.DEPARTMENT, StepKind.DECISION)

    def suspend(self, actor: Actor, procedure: str, reason: str, days: int, *, today: dt.date, now: dt.datetime,
                notice_number: str) -> LedgerEntry:
        self._require_running()
        code = procedure_code(procedure)
        reason = (reason or "").strip()
        if not reason:
            raise InvalidArgument("reason", "请写明暂停计时的原因")
        if not 1 <= days <= MAX_SUSPENSION_DAYS:
            raise InvalidArgument("days", f"请填写告知申请人的暂停时长（1 至 {MAX_SUSPENSION_DAYS} 个工作日）")
        self._require_handler(actor)
        self._require_not_suspended()
        return self._suspend(actor.username, actor.name, code, reason, days, today, now, notice_number)

    def _suspend(self, by: str, by_name: str, code: str, reason: str, days: int, today: dt.date, now: dt.datetime,
                 notice_number: str) -> LedgerEntry:
        entry = LedgerEntry(id=str(uuid.uuid4()), kind=LedgerKind.SUSPEND, at=now, on_date=today, procedure=code,
                            reason=reason, days=days, by=by, by_name=by_name, notice_number=notice_number)
        self.ledger.append(entry)
        self.new_ledger.append(entry)
        self._history(now, by, by_name, "暂停计时",
                      f"{PROCEDURES[code]}，自 {today.isoformat()} 起暂停计时，告知申请人时长 {days} 个工作日"
                      f"（告知书 {notice_number}）", reason)
        return entry

    def resume(self, actor: Actor, reason: str, *, today: dt.date, now: dt.datetime,
               cal: WorkingCalendar) -> tuple[LedgerEntry, int]:
        """(the resumption, working days paused)."""
        self._require_running()
        suspension = self.open_suspension()
        if suspension is None:
            raise FailedPrecondition("该办件未暂停计时，无需恢复", field="case_id")
        self._require_handler(actor)
        return self._resume(actor.username, actor.name, suspension, (reason or "").strip(), today, now, cal)

    def _resume(self, by: str, by_name: str, suspension: LedgerEntry, reason: str, today: dt.date,
                now: dt.datetime, cal: WorkingCalendar) -> tuple[LedgerEntry, int]:
        assert suspension.on_date is not None
        on = max(today, suspension.on_date)
        entry = LedgerEntry(id=str(uuid.uuid4()), kind=LedgerKind.RESUME, at=now, on_date=on, reason=reason, by=by,
                            by_name=by_name, ref=suspension.id, procedure=suspension.procedure)
        self.ledger.append(entry)
        self.new_ledger.append(entry)
        paused = cal.working_days_between(suspension.on_date - dt.timedelta(days=1), on - dt.timedelta(days=1))
        what = PROCEDURES.get(suspension.procedure, suspension.procedure)
        self._history(now, by, by_name, "恢复计时",
                      f"{what}结束，自 {on.isoformat()} 起恢复计时，暂停 {paused} 个工作日不计入办理时限", reason)
        return entry, paused

    def extend(self, actor: Actor, days: int, reason: str, *, today: dt.date, now: dt.datetime) -> LedgerEntry:
        actor.require(Role.HEAD)
        self._require_running()
        reason = (reason or "").strip()
        cap = self.max_extension_days
        if not 1 <= days <= cap:
            raise InvalidArgument("days", f"延长的期限应为 1 至 {cap} 个工作日")
        already = self.extension_days()
        if already + days > cap:
            raise InvalidArgument("days", f"法定期限已延长 {already} 个工作日，累计不得超过 {cap} 个工作日"
                                          f"（本次最多还可延长 {cap - already} 个工作日）")
        if not reason:
            raise InvalidArgument("reason", "请写明延长期限的理由")
        entry = LedgerEntry(id=str(uuid.uuid4()), kind=LedgerKind.EXTEND, at=now, on_date=today, reason=reason,
                            days=days, by=actor.username, by_name=actor.name, approved_by=actor.username,
                            approved_by_name=actor.name)
        self.ledger.append(entry)
        self.new_ledger.append(entry)
        self._history(now, actor.username, actor.name, "延长法定期限",
                      f"经机关负责人批准，法定期限延长 {days} 个工作日", reason)
        return entry
