"""The rules of the back office (后台分类审批) and of the deadline ledger. Plain Python, no I/O.

A case (办件) is opened when intake accepts an application. It is examined (审查) by a reviewer — or,
for joint approval (并联审批), by one reviewer per department, each with its own share of the
deadline — then decided (决定) by a decider who is not one of its reviewers, completed (办结) once any
fees are settled, and delivered (送达) within 10 working days of the decision. Items marked 即办 are
decided at the window by the chief representative (窗口首席代表) in one step.

The deadline is never stored as the truth: it is the case's budget of working days (promised and
statutory side by side) plus its ledger — suspensions for a special procedure or the applicant's
correction (the days are not counted), resumptions, and statutory extensions approved by the head —
computed on the tenant's working-day calendar (`shared.calendar`). What the database keeps of it
(`promised_due` …) is a cache for queues and supervision, recomputed from these three.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from shared.calendar import DeadlineResult, Pause, WorkingCalendar
from shared.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.tenancy import Principal, Role

# -- vocabulary --------------------------------------------------------------------------------------

REVIEW, DECISION, AWAITING_FEES, COMPLETED, DELIVERED = "review", "decision", "awaiting_fees", "completed", "delivered"
TERMINATED = "terminated"                               # ended by intake (容缺 promise broken) before a decision
STATUS_NAMES = {REVIEW: "审查中", DECISION: "待决定", AWAITING_FEES: "已决定，待缴费", COMPLETED: "已办结，待送达",
                DELIVERED: "已送达", TERMINATED: "已终止办理"}
OPEN_STATUSES = (REVIEW, DECISION)                      # the decision clock runs
UNDELIVERED_STATUSES = (AWAITING_FEES, COMPLETED)        # the delivery clock runs

S_REVIEW, S_DEPARTMENT, S_DECISION, S_WINDOW = "review", "department_review", "decision", "window_decision"
STEP_NAMES = {S_REVIEW: "审查", S_DEPARTMENT: "部门审查", S_DECISION: "决定", S_WINDOW: "窗口即办"}
REVIEW_KINDS = (S_REVIEW, S_DEPARTMENT)
STEP_ROLE = {S_REVIEW: Role.REVIEWER, S_DEPARTMENT: Role.REVIEWER, S_DECISION: Role.DECIDER,
             S_WINDOW: Role.CHIEF_REPRESENTATIVE}
WAITING, OPEN, CLAIMED, DONE, CANCELLED = "waiting", "open", "claimed", "done", "cancelled"
WINDOW_DESK = "window"

APPROVED, DENIED = "approved", "denied"
OUTCOMES = {"approve": APPROVED, "approved": APPROVED, "准予": APPROVED, "deny": DENIED, "denied": DENIED,
            "不予": DENIED}
OUTCOME_NAMES = {APPROVED: "准予许可", DENIED: "不予许可"}
CONCLUSIONS = {"agree": "同意", "disagree": "不同意"}

# Special procedures whose time is not counted (行政许可法第四十五条), and the applicant's correction.
PROCEDURES = {
    "hearing": "听证", "tender": "招标", "auction": "拍卖", "inspection": "检验", "testing": "检测",
    "quarantine": "检疫", "appraisal": "鉴定", "expert_review": "专家评审", "site_inspection": "现场踏勘",
    "correction": "申请人补正",
}
_PROCEDURE_BY_NAME = {v: k for k, v in PROCEDURES.items()} | {"补正": "correction"}

INSPECTION_MODES = {"independent": "独立踏勘", "joint": "联合踏勘", "delegated": "委托踏勘（原职能部门组织实施）"}
INSPECTION_RULES = ("", "counted", "suspends")          # the item's rule for 现场踏勘
INSPECTION_CONCLUSIONS = {"pass": "符合要求", "fail": "不符合要求"}
DELIVERY_METHODS = {"window": "综合窗口领取", "post": "邮寄送达", "village": "村（社区）代办点转交"}

DEFAULT_STATUTORY_DAYS = 20      # 行政许可法第四十二条: 二十日内作出决定
JOINT_STATUTORY_DAYS = 45        # 联合办理、集中办理: 四十五日
MAX_EXTENSION_DAYS = 10          # 经本行政机关负责人批准，可以延长十日
JOINT_MAX_EXTENSION_DAYS = 15    # 联合办理可以延长十五日
DELIVERY_DAYS = 10               # 作出准予决定之日起十日内颁发、送达
MAX_SUSPENSION_DAYS = 250
LIMIT_DAYS_MAX = 3650

SUSPEND, RESUME, EXTEND = "suspend", "resume", "extend"
LEDGER_NAMES = {SUSPEND: "暂停计时", RESUME: "恢复计时", EXTEND: "延长法定期限"}


def department_share(promised_days: int) -> int:
    """A joint-approval department's share of the promised limit: the lead keeps a quarter of it (at
    least one working day) to conclude and decide, the departments examine in parallel in the rest."""
    if promised_days <= 1:
        return max(promised_days, 1)
    return promised_days - max(1, promised_days // 4)


def remedies_text(body: str = "", court: str = "") -> str:
    """The applicant's remedies, as every written refusal must state them (行政复议法、行政诉讼法)."""
    return (f"申请人如对本决定不服，可以自收到本决定书之日起六十日内向{body.strip() or '本级人民政府'}申请行政复议，"
            f"或者自收到本决定书之日起六个月内向{court.strip() or '有管辖权的人民法院'}提起行政诉讼。")


def procedure_code(value: str) -> str:
    v = (value or "").strip()
    if v in PROCEDURES:
        return v
    if v in _PROCEDURE_BY_NAME:
        return _PROCEDURE_BY_NAME[v]
    names = "、".join(PROCEDURES.values())
    raise InvalidArgument("procedure", f"暂停计时的事由应为以下之一：{names}")


# -- who acts --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Actor:
    username: str
    name: str
    roles: frozenset[str]
    desks: frozenset[str] = frozenset()

    @classmethod
    def of(cls, p: Principal, desks: Iterable[str] = ()) -> Actor:
        return cls(p.username, p.display_name or p.username, frozenset(p.roles), frozenset(desks))

    def has(self, role: Role) -> bool:
        return str(role) in self.roles

    def require(self, *roles: Role) -> None:
        if not any(self.has(r) for r in roles):
            raise PermissionDenied(f"当前用户没有所需角色（{'、'.join(r.label for r in roles)}）")


# -- the parts of a case ---------------------------------------------------------------------------

@dataclass
class Step:
    id: str
    kind: str
    desk: str
    seq: int
    status: str
    share_days: int = 0
    opened_at: dt.datetime | None = None
    claimed_by: str = ""
    claimed_by_name: str = ""
    claimed_at: dt.datetime | None = None
    done_by: str = ""
    done_by_name: str = ""
    done_at: dt.datetime | None = None
    done_on: dt.date | None = None
    opinion: str = ""
    conclusion: str = ""


@dataclass
class LedgerEntry:
    id: str
    kind: str
    at: dt.datetime
    on_date: dt.date | None = None
    procedure: str = ""
    reason: str = ""
    days: int = 0
    by: str = ""
    by_name: str = ""
    approved_by: str = ""
    approved_by_name: str = ""
    ref: str = ""                 # resume → the suspension it ends
    notice_number: str = ""


@dataclass
class Inspection:
    id: str
    mode: str
    departments: tuple[str, ...]
    scheduled_on: dt.date
    suspends: bool
    requested_by: str
    requested_at: dt.datetime
    inspectors: str = ""
    note: str = ""
    status: str = "scheduled"     # scheduled | recorded
    findings: str = ""
    conclusion: str = ""
    recorded_by: str = ""
    recorded_at: dt.datetime | None = None
    suspension_id: str = ""


@dataclass
class HistoryEntry:
    at: dt.datetime
    actor: str
    actor_name: str
    action: str
    detail: str = ""
    opinion: str = ""


@dataclass(frozen=True)
class DecisionRecord:
    outcome: str
    decider: str
    decider_name: str
    at: dt.datetime
    decided_on: dt.date
    opinion: str
    reasons: tuple[str, ...]
    remedies: str
    document_number: str
    immediate: bool = False


@dataclass(frozen=True)
class CertificateRecord:
    number: str
    title: str
    holder: str
    seal_name: str
    seal_code: str
    issued_at: dt.datetime


@dataclass(frozen=True)
class Seal:
    name: str
    code: str


@dataclass(frozen=True)
class Projection:
    """The cached part of the deadline (for queues and supervision); the computation is the truth."""

    promised_due: dt.date | None
    statutory_due: dt.date | None
    delivery_due: dt.date | None
    provisional: bool
    suspended: bool


# -- opening ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenCase:
    """What an accepted application brings to the back office (from `application_accepted`)."""

    application_id: str
    case_number: str
    item_id: str
    item_version: int
    item_name: str
    accepted_at: dt.datetime
    accepted_on: dt.date
    promised_days: int
    statutory_days: int = 0
    item_type: str = ""
    department: str = ""
    immediate: bool = False
    joint: bool = False
    joint_departments: tuple[str, ...] = ()
    has_fees: bool = False
    site_inspection: str = ""
    government_invested: bool = False
    key_project: bool = False
    applicant_name: str = ""
    scenario_code: str = ""
    scenario_name: str = ""
    accepted_by: str = ""
    fee_codes: tuple[str, ...] = ()
    proxy_tenant: str = ""
    materials: tuple[dict, ...] = ()

    def validate(self) -> OpenCase:
        if not self.application_id:
            raise InvalidArgument("application_id", "缺少申请标识")
        if not self.case_number:
            raise InvalidArgument("case_number", "缺少办件编号")
        if not self.item_id:
            raise InvalidArgument("item_id", "缺少事项标识")
        for name in ("promised_days", "statutory_days"):
            v = getattr(self, name)
            if not 0 <= v <= LIMIT_DAYS_MAX:
                raise InvalidArgument(name, f"时限应在 0 至 {LIMIT_DAYS_MAX} 个工作日之间：{v}")
        if self.site_inspection not in INSPECTION_RULES:
            raise InvalidArgument("site_inspection", f"现场踏勘规则不正确：{self.site_inspection!r}")
        if self.joint and not [d for d in self.joint_departments if d.strip()]:
            raise InvalidArgument("joint_departments", "联办事项须列明参与审查的部门")
        return self


# -- the case ----------------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    tenant: str
    case_number: str
    application_id: str
    item_id: str
    item_version: int
    item_name: str
    category: str
    accepted_at: dt.datetime
    accepted_on: dt.date
    promised_days: int
    statutory_days: int
    status: str
    opened_at: dt.datetime
    item_type: str = ""
    department: str = ""
    immediate: bool = False
    joint: bool = False
    joint_departments: tuple[str, ...] = ()
    has_fees: bool = False
    fee_codes: tuple[str, ...] = ()
    site_inspection: str = ""
    government_invested: bool = False
    key_project: bool = False
    applicant_name: str = ""
    scenario_code: str = ""
    scenario_name: str = ""
    accepted_by: str = ""
    proxy_tenant: str = ""
    materials: list[dict] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    inspections: list[Inspection] = field(default_factory=list)
    decision: DecisionRecord | None = None
    certificate: CertificateRecord | None = None
    fees_settled_at: dt.datetime | None = None
    # a `fees_settled` that arrived before the case was decided (or opened): honoured at the decision
    settlement_on_record: dt.datetime | None = None
    seal: Seal | None = None      # the tenant's approval seal (一枚印章), for certificates
    completed_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    delivery_method: str = ""
    delivered_by: str = ""
    delivery_recipient: str = ""
    delivery_tracking: str = ""
    version: int = 0
    # what changed in this unit of work (the repository writes it)
    new_steps: list[Step] = field(default_factory=list, repr=False)
    dirty_steps: set[str] = field(default_factory=set, repr=False)
    new_ledger: list[LedgerEntry] = field(default_factory=list, repr=False)
    new_history: list[HistoryEntry] = field(default_factory=list, repr=False)
    new_inspections: list[Inspection] = field(default_factory=list, repr=False)
    dirty_inspections: set[str] = field(default_factory=set, repr=False)
    new_decision: bool = field(default=False, repr=False)

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, cmd: OpenCase, *, case_id: str, tenant: str, category: str, now: dt.datetime) -> Case:
        cmd.validate()
        statutory = cmd.statutory_days or (JOINT_STATUTORY_DAYS if cmd.joint else DEFAULT_STATUTORY_DAYS)
        promised = 0 if cmd.immediate else min(cmd.promised_days or statutory, statutory)
        case = cls(
            id=case_id, tenant=tenant, case_number=cmd.case_number, application_id=cmd.application_id,
            item_id=cmd.item_id, item_version=cmd.item_version, item_name=cmd.item_name, category=category,
            accepted_at=cmd.accepted_at, accepted_on=cmd.accepted_on, promised_days=promised,
            statutory_days=statutory, status=REVIEW, opened_at=now, item_type=cmd.item_type,
            department=cmd.department, immediate=cmd.immediate, joint=cmd.joint and not cmd.immediate,
            joint_departments=tuple(dict.fromkeys(d.strip() for d in cmd.joint_departments if d.strip())),
            has_fees=cmd.has_fees, fee_codes=tuple(cmd.fee_codes), site_inspection=cmd.site_inspection,
            government_invested=cmd.government_invested, key_project=cmd.key_project,
            applicant_name=cmd.applicant_name, scenario_code=cmd.scenario_code, scenario_name=cmd.scenario_name,
            accepted_by=cmd.accepted_by, proxy_tenant=cmd.proxy_tenant, materials=[dict(m) for m in cmd.materials],
        )
        if case.immediate:
            case._add_step(S_WINDOW, WINDOW_DESK, OPEN, now)
            detail = "即办件，转窗口首席代表当场决定"
        elif case.joint:
            share = department_share(promised)
            for dept in case.joint_departments:
                case._add_step(S_DEPARTMENT, dept, OPEN, now, share_days=share)
            case._add_step(S_DECISION, category, WAITING, now)
            detail = f"并联审批：{'、'.join(case.joint_departments)} 同步审查，各部门时限 {share} 个工作日"
        else:
            case._add_step(S_REVIEW, category, OPEN, now)
            case._add_step(S_DECISION, category, WAITING, now)
            detail = "转入后台审查"
        case._history(now, cmd.accepted_by or "intake", "", "立案",
                      f"{detail}；承诺时限 {promised} 个工作日，法定时限 {statutory} 个工作日")
        return case

    def _add_step(self, kind: str, desk: str, status: str, now: dt.datetime, share_days: int = 0) -> Step:
        step = Step(id=str(uuid.uuid4()), kind=kind, desk=desk, seq=len(self.steps) + 1, status=status,
                    share_days=share_days, opened_at=now if status == OPEN else None)
        self.steps.append(step)
        self.new_steps.append(step)
        return step

    def terminate(self, reason: str, now: dt.datetime) -> bool:
        """The application was terminated at the window (容缺 materials not supplied by the promised
        date): the undecided case ends, its open work leaves the queues. False when there is nothing
        to end (already decided, or already terminated)."""
        if self.status not in OPEN_STATUSES:
            return False
        self.status = TERMINATED
        for s in self.steps:
            if s.status != DONE:
                s.status = CANCELLED
                self._touch(s)
        self._history(now, "intake", "综合窗口", "终止办理", reason or "申请已在受理窗口终止办理")
        return True

    def _touch(self, step: Step) -> None:
        if step not in self.new_steps:
            self.dirty_steps.add(step.id)

    def _history(self, at: dt.datetime, actor: str, actor_name: str, action: str, detail: str = "",
                 opinion: str = "") -> None:
        self.new_history.append(HistoryEntry(at, actor, actor_name, action, detail, opinion))

    # -- reading ---------------------------------------------------------------------------------
    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise NotFound("办理环节不存在或无权查看")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def reviewers(self) -> set[str]:
        return {u for s in self.steps if s.kind in REVIEW_KINDS for u in (s.done_by, s.claimed_by) if u}

    def claims_of(self, actor: Actor) -> list[Step]:
        return [s for s in self.steps if s.status == CLAIMED and s.claimed_by == actor.username]

    def open_suspension(self) -> LedgerEntry | None:
        resumed = {e.ref for e in self.ledger if e.kind == RESUME}
        return next((e for e in self.ledger if e.kind == SUSPEND and e.id not in resumed), None)

    def pauses(self) -> list[Pause]:
        """Suspensions as pauses: from the day of suspension to the day before resumption (inclusive)."""
        ends = {e.ref: e.on_date for e in self.ledger if e.kind == RESUME}
        out: list[Pause] = []
        for e in self.ledger:
            if e.kind != SUSPEND or e.on_date is None:
                continue
            end = ends.get(e.id)
            label = PROCEDURES.get(e.procedure, e.procedure)
            if end is None:
                out.append(Pause(e.on_date, None, label))
            elif end > e.on_date:
                out.append(Pause(e.on_date, end - dt.timedelta(days=1), label))
        return out

    def extension_days(self) -> int:
        return sum(e.days for e in self.ledger if e.kind == EXTEND)

    @property
    def max_extension_days(self) -> int:
        return JOINT_MAX_EXTENSION_DAYS if self.joint else MAX_EXTENSION_DAYS

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
            if s.kind != S_DEPARTMENT:
                continue
            due = self.share_deadline(cal, s).due
            if due is None:
                continue
            done = s.done_on if s.status == DONE else None
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

    # -- claiming ----------------------------------------------------------------------------------
    def claim(self, step_id: str, actor: Actor, now: dt.datetime) -> Step:
        step = self.step(step_id)
        role = STEP_ROLE[step.kind]
        if step.kind == S_WINDOW:
            raise FailedPrecondition("即办件由窗口首席代表直接当场决定，无需认领", field="step_id")
        actor.require(role)
        if step.status == CLAIMED and step.claimed_by == actor.username:
            return step                        # claiming what one holds changes nothing
        if not self.is_open:
            raise FailedPrecondition(f"办件当前状态为“{STATUS_NAMES[self.status]}”，不能认领", field="step_id")
        if step.status == WAITING:
            raise FailedPrecondition("审查尚未全部完成，决定环节尚未开放", field="step_id")
        if step.status == CLAIMED:
            raise FailedPrecondition(f"该环节已由 {step.claimed_by_name or step.claimed_by} 认领", field="step_id")
        if step.status == DONE:
            raise FailedPrecondition("该环节已办理完毕", field="step_id")
        if step.desk not in actor.desks:
            raise PermissionDenied(f"您未被分配到“{step.desk}”岗位，不能认领该岗位的办件")
        if step.kind == S_DECISION and actor.username in self.reviewers():
            raise PermissionDenied("同一办件的审核人与决定人不得为同一人（审批分离）")
        if step.kind in REVIEW_KINDS and any(s.kind == S_DECISION and actor.username in (s.claimed_by, s.done_by)
                                             for s in self.steps):
            raise PermissionDenied("同一办件的审核人与决定人不得为同一人（审批分离）")
        step.status, step.claimed_by, step.claimed_by_name, step.claimed_at = CLAIMED, actor.username, actor.name, now
        self._touch(step)
        self._history(now, actor.username, actor.name, "认领", f"认领{STEP_NAMES[step.kind]}环节（{step.desk}）")
        return step

    def release(self, step_id: str, actor: Actor, now: dt.datetime) -> Step:
        step = self.step(step_id)
        if step.status != CLAIMED or step.claimed_by != actor.username:
            raise FailedPrecondition("该环节未由您认领，无需放弃", field="step_id")
        step.status, step.claimed_by, step.claimed_by_name, step.claimed_at = OPEN, "", "", None
        self._touch(step)
        self._history(now, actor.username, actor.name, "放弃认领", f"退回{STEP_NAMES[step.kind]}队列（{step.desk}）")
        return step

    def _held(self, actor: Actor, *kinds: str, field_name: str = "case_id") -> Step:
        """The step of these kinds the actor has claimed on this case, or a clear refusal."""
        for s in self.steps:
            if s.kind in kinds and s.status == CLAIMED and s.claimed_by == actor.username:
                return s
        what = "、".join(STEP_NAMES[k] for k in kinds)
        raise FailedPrecondition(f"该办件的{what}环节未由您认领，请先从待办队列认领", field=field_name)

    def _require_running(self, field_name: str = "case_id") -> None:
        if not self.is_open:
            raise FailedPrecondition(f"办件当前状态为“{STATUS_NAMES[self.status]}”，计时已结束", field=field_name)

    def _require_not_suspended(self) -> None:
        s = self.open_suspension()
        if s is not None:
            raise FailedPrecondition(f"计时暂停中（{PROCEDURES.get(s.procedure, s.procedure)}），请先恢复计时",
                                     field="case_id")

    # -- review ------------------------------------------------------------------------------------
    def complete_review(self, step_id: str, actor: Actor, opinion: str, conclusion: str, now: dt.datetime,
                        today: dt.date, cal: WorkingCalendar) -> tuple[Step, bool, bool]:
        """(the step, whether it concluded late, whether every review is now done)."""
        step = self.step(step_id)
        if step.kind not in REVIEW_KINDS:
            raise InvalidArgument("step_id", "该环节不是审查环节")
        actor.require(Role.REVIEWER)
        if step.status != CLAIMED or step.claimed_by != actor.username:
            raise FailedPrecondition("该审查环节未由您认领，请先从待办队列认领", field="step_id")
        opinion = (opinion or "").strip()
        if not opinion:
            raise InvalidArgument("opinion", "请填写审查意见")
        conclusion = (conclusion or "agree").strip()
        if conclusion not in CONCLUSIONS:
            raise InvalidArgument("conclusion", "审查结论应为 agree（同意）或 disagree（不同意）")
        self._require_not_suspended()
        pending = [i for i in self.inspections if i.status == "scheduled"]
        if pending:
            raise FailedPrecondition(f"现场踏勘（{pending[0].scheduled_on.isoformat()}）尚未记录结果", field="step_id")
        late = False
        if step.kind == S_DEPARTMENT:
            due = self.share_deadline(cal, step).due
            late = due is not None and today > due
        step.status, step.done_by, step.done_by_name, step.done_at, step.done_on = (
            DONE, actor.username, actor.name, now, today)
        step.opinion, step.conclusion = opinion, conclusion
        self._touch(step)
        where = f"（{step.desk}）" if step.kind == S_DEPARTMENT else ""
        detail = f"{STEP_NAMES[step.kind]}{where}：{CONCLUSIONS[conclusion]}" + ("（超出部门时限）" if late else "")
        self._history(now, actor.username, actor.name, STEP_NAMES[step.kind], detail, opinion)
        all_done = all(s.status == DONE for s in self.steps if s.kind in REVIEW_KINDS)
        if all_done:
            for s in self.steps:
                if s.kind == S_DECISION and s.status == WAITING:
                    s.status, s.opened_at = OPEN, now
                    self._touch(s)
            self.status = DECISION
        return step, late, all_done

    # -- decision ----------------------------------------------------------------------------------
    def plan_decision(self, actor: Actor, outcome: str, reasons: Sequence[str], *, immediate: bool = False,
                      ) -> tuple[str, tuple[str, ...]] | None:
        """Check a decision before anything is numbered: (outcome, reasons), or None when the same
        decider already made the same decision (a repeated submission records nothing new)."""
        if self.decision is not None:
            same = OUTCOMES.get((outcome or "").strip()) == self.decision.outcome
            if same and self.decision.decider == actor.username:
                return None
            raise FailedPrecondition(
                f"该办件已于 {self.decision.decided_on.isoformat()} 由 {self.decision.decider_name} 作出决定"
                f"（{OUTCOME_NAMES[self.decision.outcome]}），不能重复决定", field="case_id")
        if immediate:
            actor.require(Role.CHIEF_REPRESENTATIVE)
            if not self.immediate:
                raise FailedPrecondition("该事项不是即办件，须经审查后由决定人决定", field="case_id")
            self._require_running()
        else:
            actor.require(Role.DECIDER)
            if self.immediate:
                raise FailedPrecondition("即办件由窗口首席代表当场决定", field="case_id")
            self._require_running()
            self._held(actor, S_DECISION)
            if actor.username in self.reviewers():
                raise PermissionDenied("同一办件的审核人与决定人不得为同一人（审批分离）")
        code = OUTCOMES.get((outcome or "").strip())
        if code is None:
            raise InvalidArgument("outcome", "决定结果应为 approve（准予）或 deny（不予）")
        clean = tuple(r.strip() for r in reasons if r and r.strip())
        if code == DENIED and not clean:
            raise InvalidArgument("reasons", "作出不予许可决定须逐条写明理由")
        if len(clean) != len([r for r in reasons if r is not None]) and code == DENIED:
            raise InvalidArgument("reasons", "不予许可的理由不能为空白")
        self._require_not_suspended()
        return code, clean

    def record_decision(self, actor: Actor, outcome: str, reasons: tuple[str, ...], opinion: str, *,
                        now: dt.datetime, today: dt.date, document_number: str, seal: Seal | None,
                        remedies: str, immediate: bool = False) -> bool:
        """Write the decision (and, when approved, the certificate); True if the case is completed now."""
        opinion = (opinion or "").strip() or ("经审查，符合法定条件、标准，准予许可。" if outcome == APPROVED
                                              else "经审查，不符合法定条件、标准，不予许可。")
        if outcome == APPROVED and seal is None:
            raise FailedPrecondition("本单位尚未登记行政审批专用章，不能出具许可证件", field="seal")
        kind = S_WINDOW if immediate else S_DECISION
        step = next(s for s in self.steps if s.kind == kind)
        step.status, step.done_by, step.done_by_name, step.done_at, step.done_on = (
            DONE, actor.username, actor.name, now, today)
        if immediate:
            step.claimed_by, step.claimed_by_name, step.claimed_at = actor.username, actor.name, now
        step.opinion, step.conclusion = opinion, outcome
        self._touch(step)
        self.decision = DecisionRecord(outcome=outcome, decider=actor.username, decider_name=actor.name, at=now,
                                       decided_on=today, opinion=opinion, reasons=reasons,
                                       remedies=remedies if outcome == DENIED else "", document_number=document_number,
                                       immediate=immediate)
        self.new_decision = True
        if outcome == APPROVED and seal is not None:
            self.certificate = CertificateRecord(number=document_number, title=f"{self.item_name}准予许可决定书",
                                                 holder=self.applicant_name, seal_name=seal.name, seal_code=seal.code,
                                                 issued_at=now)
        detail = f"{OUTCOME_NAMES[outcome]}，文号 {document_number}"
        if reasons:
            detail += "；理由：" + "；".join(reasons)
        self._history(now, actor.username, actor.name, "窗口即办" if immediate else "决定", detail, opinion)
        if outcome == APPROVED and self.has_fees and self.fees_settled_at is None:
            if self.settlement_on_record is not None:
                self.fees_settled_at = self.settlement_on_record
                self._history(now, "fees", "收费窗口", "收费结清", "决定作出前费用已缴清（或减免）")
                self._complete(now)
                return True
            self.status = AWAITING_FEES
            self._history(now, "system", "系统", "待缴费", "该事项依法收费，缴清（或减免）后办结出件")
            return False
        self._complete(now)
        return True

    def number_decision(self, number: str) -> None:
        """Put the document number on a decision just recorded (numbers are taken as late as possible)."""
        assert self.decision is not None
        old = self.decision.document_number
        self.decision = replace(self.decision, document_number=number)
        if self.certificate is not None:
            self.certificate = replace(self.certificate, number=number)
        for h in self.new_history:
            h.detail = h.detail.replace(old, number)

    def _complete(self, now: dt.datetime) -> None:
        self.status, self.completed_at = COMPLETED, now
        self._history(now, "system", "系统", "办结", "办件已办结，待送达（出件）")

    # -- fees ------------------------------------------------------------------------------------
    def settle_fees(self, at: dt.datetime, now: dt.datetime, detail: str) -> bool:
        """`fees_settled` arrived; True if the case completes now (it was waiting for it)."""
        if self.fees_settled_at is not None:
            return False
        self.fees_settled_at = at
        self._history(now, "fees", "收费窗口", "收费结清", detail)
        if self.status == AWAITING_FEES:
            self._complete(now)
            return True
        return False

    # -- the ledger ------------------------------------------------------------------------------
    def _require_handler(self, actor: Actor) -> Step:
        """Ledger entries are made by whoever holds a step of the case (the reviewer or the decider)."""
        actor.require(Role.REVIEWER, Role.DECIDER)
        return self._held(actor, S_REVIEW, S_DEPARTMENT, S_DECISION)

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
        entry = LedgerEntry(id=str(uuid.uuid4()), kind=SUSPEND, at=now, on_date=today, procedure=code, reason=reason,
                            days=days, by=by, by_name=by_name, notice_number=notice_number)
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
        entry = LedgerEntry(id=str(uuid.uuid4()), kind=RESUME, at=now, on_date=on, reason=reason, by=by,
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
        entry = LedgerEntry(id=str(uuid.uuid4()), kind=EXTEND, at=now, on_date=today, reason=reason, days=days,
                            by=actor.username, by_name=actor.name, approved_by=actor.username,
                            approved_by_name=actor.name)
        self.ledger.append(entry)
        self.new_ledger.append(entry)
        self._history(now, actor.username, actor.name, "延长法定期限",
                      f"经机关负责人批准，法定期限延长 {days} 个工作日", reason)
        return entry

    # -- site inspection (现场踏勘) --------------------------------------------------------------------
    def request_inspection(self, actor: Actor, mode: str, departments: Sequence[str], scheduled_on: dt.date,
                           inspectors: str, note: str, *, today: dt.date, now: dt.datetime,
                           notice_number: str, cal: WorkingCalendar) -> Inspection:
        self._require_running()
        actor.require(Role.REVIEWER)
        self._held(actor, S_REVIEW, S_DEPARTMENT)
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
        if any(i.status == "scheduled" for i in self.inspections):
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
        self._held(actor, S_REVIEW, S_DEPARTMENT)
        if insp.status != "scheduled":
            raise FailedPrecondition("该现场踏勘已记录结果", field="inspection_id")
        findings = (findings or "").strip()
        if not findings:
            raise InvalidArgument("findings", "请填写踏勘情况")
        if conclusion not in INSPECTION_CONCLUSIONS:
            raise InvalidArgument("conclusion", "踏勘结论应为 pass（符合要求）或 fail（不符合要求）")
        insp.status, insp.findings, insp.conclusion = "recorded", findings, conclusion
        insp.recorded_by, insp.recorded_at = actor.username, now
        if insp not in self.new_inspections:
            self.dirty_inspections.add(insp.id)
        self._history(now, actor.username, actor.name, "记录现场踏勘",
                      f"{INSPECTION_MODES[insp.mode]}：{INSPECTION_CONCLUSIONS[conclusion]}", findings)
        open_ = self.open_suspension()
        if insp.suspension_id and open_ is not None and open_.id == insp.suspension_id:
            self._resume(actor.username, actor.name, open_, "现场踏勘结束", today, now, cal)
        return insp

    # -- delivery (送达) ---------------------------------------------------------------------------
    def deliver(self, actor: Actor, method: str, recipient: str, tracking: str, *, now: dt.datetime) -> None:
        actor.require(Role.WINDOW_CLERK, Role.CHIEF_REPRESENTATIVE)
        if self.status == DELIVERED:
            raise FailedPrecondition("该办件已送达，不能重复送达", field="case_id")
        if self.status == AWAITING_FEES:
            raise FailedPrecondition("费用尚未缴清（或减免），暂不能出件", field="case_id")
        if self.status != COMPLETED:
            raise FailedPrecondition(f"办件当前状态为“{STATUS_NAMES[self.status]}”，尚未办结", field="case_id")
        if method not in DELIVERY_METHODS:
            raise InvalidArgument("method", "送达方式应为 window（综合窗口领取）、post（邮寄）或 village（代办点转交）")
        tracking = (tracking or "").strip()
        if method == "post" and not tracking:
            raise InvalidArgument("tracking_number", "邮寄送达须填写邮件号码")
        self.status, self.delivered_at, self.delivery_method = DELIVERED, now, method
        self.delivered_by, self.delivery_recipient = actor.username, (recipient or "").strip()
        self.delivery_tracking = tracking
        self._history(now, actor.username, actor.name, "送达",
                      DELIVERY_METHODS[method] + (f"，邮件号 {tracking}" if tracking else ""))


# -- projection (shared by the aggregate and the bulk re-projection) -----------------------------------

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
    """(suspended_on, resumed_on or None, procedure) → pauses, as `Case.pauses` makes them."""
    out = []
    for start, resumed, procedure in pairs:
        label = PROCEDURES.get(procedure, procedure)
        if resumed is None:
            out.append(Pause(start, None, label))
        elif resumed > start:
            out.append(Pause(start, resumed - dt.timedelta(days=1), label))
    return out
