"""Whole-project limits (全流程审批时限): one construction project's cases across departments and items, with
the project's own deadline ledger. Plain Python, no I/O.

- seed 002 (怀化): “城市规划区房地产建设项目审批时间压缩到70个工作日以内”;
- seed 003 §35 (聊城): “对工程建设项目审批制度实施全流程、全覆盖改革 … 确保全过程审批时间控制在100个工作日以内”.

A project counts its own budget of working days from the day it starts, on the tenant's calendar; its own
suspensions (with their reasons) pause it like a case's special procedures. Each case keeps its own deadline;
the project names what holds it up: a case still open past the project's due date, or the open case whose
promised date runs latest (the critical one), with its department.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from shared.calendar import Pause, WorkingCalendar
from shared.errors import FailedPrecondition, InvalidArgument

# kind → (name, the whole-process cap in working days, where the cap comes from)
PROJECT_KINDS: dict[str, tuple[str, int, str]] = {
    "real_estate": ("房地产建设项目", 70, "怀化市城市规划区房地产建设项目并联审批办法：压缩到70个工作日以内"),
    "construction": ("工程建设项目", 100, "工程建设项目审批制度改革：全过程审批时间控制在100个工作日以内"),
}
FINISHED = ("completed", "delivered", "terminated")
MAX_NAME = 200
MAX_REASON = 500


@dataclass
class ProjectCase:
    case_id: str
    case_number: str
    item_name: str
    department: str
    status: str
    promised_due: dt.date | None = None
    completed_on: dt.date | None = None

    @property
    def open(self) -> bool:
        return self.status not in FINISHED


@dataclass
class ProjectPause:
    id: str
    start: dt.date
    reason: str
    by: str
    end: dt.date | None = None
    resumed_by: str = ""


@dataclass(frozen=True)
class Hold:
    """What holds the project up: a case, its department, and why."""

    case_number: str
    department: str
    item_name: str
    reason: str


@dataclass
class Project:
    id: str
    tenant: str
    name: str
    kind: str
    limit_days: int
    started_on: dt.date
    created_by: str = ""
    cases: list[ProjectCase] = field(default_factory=list)
    pauses: list[ProjectPause] = field(default_factory=list)
    new_pauses: list[ProjectPause] = field(default_factory=list, repr=False)
    ended_pauses: list[ProjectPause] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls, *, tenant: str, name: str, kind: str, limit_days: int, started_on: dt.date,
               by: str) -> Project:
        name = (name or "").strip()
        if not name:
            raise InvalidArgument("name", "请填写项目名称")
        if len(name) > MAX_NAME:
            raise InvalidArgument("name", f"项目名称过长（最多 {MAX_NAME} 字）")
        if kind not in PROJECT_KINDS:
            raise InvalidArgument("kind", "项目类型应为 real_estate（房地产建设项目）或 construction（工程建设项目）")
        label, cap, _ = PROJECT_KINDS[kind]
        days = limit_days or cap
        if not 1 <= days <= cap:
            raise InvalidArgument("limit_days", f"{label}全流程审批时限不得超过 {cap} 个工作日：{days}")
        return cls(id=str(uuid.uuid4()), tenant=tenant, name=name, kind=kind, limit_days=days, started_on=started_on,
                   created_by=by)

    # -- the cases -----------------------------------------------------------------------------------
    def add_case(self, case: ProjectCase) -> None:
        if any(c.case_id == case.case_id for c in self.cases):
            raise FailedPrecondition(f"办件 {case.case_number} 已在该项目中", field="case_number")
        self.cases.append(case)

    # -- the project's ledger ---------------------------------------------------------------------
    def open_pause(self) -> ProjectPause | None:
        return next((p for p in self.pauses if p.end is None), None)

    def suspend(self, reason: str, *, by: str, today: dt.date) -> ProjectPause:
        reason = (reason or "").strip()
        if not reason:
            raise InvalidArgument("reason", "请写明项目暂停计时的事由（如听证、专家评审、申请人补正）")
        if len(reason) > MAX_REASON:
            raise InvalidArgument("reason", f"事由过长（最多 {MAX_REASON} 字）")
        if self.open_pause() is not None:
            raise FailedPrecondition("项目已在暂停计时中，请先恢复计时", field="project_id")
        pause = ProjectPause(id=str(uuid.uuid4()), start=today, reason=reason, by=by)
        self.pauses.append(pause)
        self.new_pauses.append(pause)
        return pause

    def resume(self, *, by: str, today: dt.date) -> ProjectPause:
        pause = self.open_pause()
        if pause is None:
            raise FailedPrecondition("项目未在暂停计时中", field="project_id")
        pause.end, pause.resumed_by = max(today, pause.start), by
        self.ended_pauses.append(pause)
        return pause

    # -- the deadline and what holds it up --------------------------------------------------------
    def due(self, cal: WorkingCalendar) -> tuple[dt.date | None, bool]:
        """The project's due date (None while it is suspended) and whether it is provisional."""
        return cal.due_date(self.started_on, self.limit_days, [Pause(p.start, p.end, p.reason) for p in self.pauses])

    def finished_on(self) -> dt.date | None:
        if not self.cases or any(c.open for c in self.cases):
            return None
        return max((c.completed_on for c in self.cases if c.completed_on), default=None)

    def late(self, cal: WorkingCalendar, today: dt.date) -> bool:
        due, _ = self.due(cal)
        if due is None:
            return False
        done = self.finished_on()
        return (done or today) > due

    def holding_up(self, cal: WorkingCalendar, today: dt.date) -> list[Hold]:
        """The cases that hold the project up, with their departments: every open case once the project's due
        date has passed; before that, the open cases promised after the project's due date, or else the open
        case whose promised date runs latest."""
        open_cases = [c for c in self.cases if c.open]
        if not open_cases:
            return []
        due, _ = self.due(cal)
        if due is not None and today > due:
            why = f"项目已超过全流程时限（{due.isoformat()}），该办件仍未办结"
            return [Hold(c.case_number, c.department, c.item_name, why) for c in open_cases]
        beyond = [c for c in open_cases if due is not None and c.promised_due is not None and c.promised_due > due]
        if beyond:
            return [Hold(c.case_number, c.department, c.item_name,
                         f"承诺办结日期 {c.promised_due.isoformat()} 晚于项目全流程时限 {due.isoformat()}")
                    for c in beyond]
        dated = [c for c in open_cases if c.promised_due is not None]
        if not dated:
            return [Hold(c.case_number, c.department, c.item_name, "办件暂停计时中，办结日期待定") for c in open_cases]
        last = max(dated, key=lambda c: c.promised_due or dt.date.min)
        when = last.promised_due.isoformat() if last.promised_due else ""
        return [Hold(last.case_number, last.department, last.item_name, f"尚未办结的办件中承诺办结日期最晚（{when}）")]
