"""The words of the back office (后台分类审批) and what a case is made of. Plain Python, no I/O.

A case (办件) is opened when intake accepts an application. It is examined (审查) by a reviewer — or,
for joint approval (并联审批), by one reviewer per department, each with its own share of the
deadline — then decided (决定) by a decider who is not one of its reviewers, completed (办结) once any
fees are settled, and delivered (送达) within 10 working days of the decision. Items marked 即办 are
decided at the window by the chief representative (窗口首席代表) in one step.

The rules are in layers, each a module a reader can name:

- here: the vocabulary (statuses as StrEnums — their values are stored and travel in events and REST),
  who acts, the parts of a case, the commands that come in, and `CaseRecord`, what a case holds;
- `deadlines.py`: the deadline ledger — suspensions, resumptions, extensions — and the due dates computed
  from it on the tenant's working-day calendar (`DeadlineLedger`, a `CaseRecord` that keeps its ledger);
- `inspections.py`: site inspection (现场踏勘), which may suspend the clock (`SiteInspections`);
- `case.py`: the case itself (`Case`): opening, claiming, review, decision, fees, delivery.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.autoapproval import parse_rule
from shared.calendar import CalendarYear
from shared.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.tenancy import Principal, Role

# -- vocabulary --------------------------------------------------------------------------------------


class CaseStatus(enum.StrEnum):
    REVIEW = "review"
    DECISION = "decision"
    AWAITING_FEES = "awaiting_fees"
    COMPLETED = "completed"
    DELIVERED = "delivered"
    TERMINATED = "terminated"       # ended by intake (容缺 promise broken) before a decision


STATUS_NAMES = {CaseStatus.REVIEW: "审查中", CaseStatus.DECISION: "待决定", CaseStatus.AWAITING_FEES: "已决定，待缴费",
                CaseStatus.COMPLETED: "已办结，待送达", CaseStatus.DELIVERED: "已送达",
                CaseStatus.TERMINATED: "已终止办理"}
OPEN_STATUSES = (CaseStatus.REVIEW, CaseStatus.DECISION)                    # the decision clock runs
UNDELIVERED_STATUSES = (CaseStatus.AWAITING_FEES, CaseStatus.COMPLETED)     # the delivery clock runs


class StepKind(enum.StrEnum):
    REVIEW = "review"
    DEPARTMENT = "department_review"
    DECISION = "decision"
    WINDOW = "window_decision"


STEP_NAMES = {StepKind.REVIEW: "审查", StepKind.DEPARTMENT: "部门审查", StepKind.DECISION: "决定",
              StepKind.WINDOW: "窗口即办"}
REVIEW_KINDS = (StepKind.REVIEW, StepKind.DEPARTMENT)
STEP_ROLE = {StepKind.REVIEW: Role.REVIEWER, StepKind.DEPARTMENT: Role.REVIEWER, StepKind.DECISION: Role.DECIDER,
             StepKind.WINDOW: Role.CHIEF_REPRESENTATIVE}


class StepStatus(enum.StrEnum):
    WAITING = "waiting"
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    CANCELLED = "cancelled"


WINDOW_DESK = "window"
# who may read the back office's cases, desks and seal (the decisions stay with their steps' roles)
STAFF_ROLES = (Role.REVIEWER, Role.DECIDER, Role.HEAD, Role.CHIEF_REPRESENTATIVE, Role.WINDOW_CLERK,
               Role.SUPERVISOR, Role.TENANT_ADMIN)


class Outcome(enum.StrEnum):
    APPROVED = "approved"
    DENIED = "denied"


OUTCOMES = {"approve": Outcome.APPROVED, "approved": Outcome.APPROVED, "准予": Outcome.APPROVED,
            "deny": Outcome.DENIED, "denied": Outcome.DENIED, "不予": Outcome.DENIED}
OUTCOME_NAMES = {Outcome.APPROVED: "准予许可", Outcome.DENIED: "不予许可"}
CONCLUSIONS = {"agree": "同意", "disagree": "不同意"}

# Special procedures whose time is not counted (行政许可法第四十五条), and the applicant's correction.
PROCEDURES = {
    "hearing": "听证", "tender": "招标", "auction": "拍卖", "inspection": "检验", "testing": "检测",
    "quarantine": "检疫", "appraisal": "鉴定", "expert_review": "专家评审", "site_inspection": "现场踏勘",
    "correction": "申请人补正",
}
_PROCEDURE_BY_NAME = {v: k for k, v in PROCEDURES.items()} | {"补正": "correction"}


class InspectionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    RECORDED = "recorded"


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


class LedgerKind(enum.StrEnum):
    SUSPEND = "suspend"
    RESUME = "resume"
    EXTEND = "extend"


LEDGER_NAMES = {LedgerKind.SUSPEND: "暂停计时", LedgerKind.RESUME: "恢复计时", LedgerKind.EXTEND: "延长法定期限"}


@dataclass(frozen=True)
class JointSharePolicy:
    """How a province splits a joint case's promised limit (并联审批): the lead department keeps
    `lead_percent` of it (at least `lead_min_days` working days) to conclude and decide, the departments
    examine in parallel in the rest. Per province, as data (`approval.joint_share_policies`).

    The seeds fix no such split — they say only that the departments examine in parallel and the case
    is decided when all have concluded — so the numbers of `DEFAULT_JOINT_SHARE` are a DEFAULT, not a
    rule: a quarter (at least one day) for the lead, kept from before issue 21, until a province
    records its own."""

    lead_percent: int = 25
    lead_min_days: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.lead_percent < 100:
            raise InvalidArgument("lead_percent", f"牵头部门保留的时限比例应在 0 至 99 之间：{self.lead_percent}")
        if self.lead_min_days < 0:
            raise InvalidArgument("lead_min_days", f"牵头部门保留的最少工作日不能为负数：{self.lead_min_days}")


DEFAULT_JOINT_SHARE = JointSharePolicy()


def department_share(promised_days: int, policy: JointSharePolicy = DEFAULT_JOINT_SHARE) -> int:
    """A joint-approval department's share of the promised limit under the province's policy (never
    less than one working day)."""
    if promised_days <= 1:
        return max(promised_days, 1)
    lead = max(policy.lead_min_days, promised_days * policy.lead_percent // 100)
    return max(1, promised_days - lead)


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
    kind: StepKind
    desk: str
    seq: int
    status: StepStatus
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
    kind: LedgerKind
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
    status: InspectionStatus = InspectionStatus.SCHEDULED
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
class DeadlineChange:
    """A re-projection that moved a case's due dates (a calendar year published or corrected)."""

    at: dt.datetime
    cause: str
    previous_promised_due: dt.date | None
    promised_due: dt.date | None
    previous_statutory_due: dt.date | None
    statutory_due: dt.date | None
    provisional: bool
    previous_delivery_due: dt.date | None
    delivery_due: dt.date | None


@dataclass(frozen=True)
class DecisionRecord:
    outcome: Outcome
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


# -- commands that come in as events ---------------------------------------------------------------

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
    collect_tenant: str = ""                    # 委托收件: the window that took it in (intake)
    materials: tuple[dict, ...] = ()
    auto_approval: str = ""                     # 秒批: the item's rule (shared/autoapproval.py), "" none
    applicant_birth_date: dt.date | None = None  # the fact the window verified (from the resident ID)

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
        if self.auto_approval:
            parse_rule(self.auto_approval, "auto_approval")
        return self


@dataclass(frozen=True)
class SettleFees:
    """The fee window settled a case's fees (`fees_settled`); `settled_at` None: when it arrived."""

    case_number: str
    paid_fen: int
    waived_fen: int
    waived_in_full: bool
    settled_at: dt.datetime | None


@dataclass(frozen=True)
class RecordPickUp:
    """The result was handed out at intake (`result_picked_up`); `picked_up_at` None: when it arrived."""

    case_number: str
    picked_up_at: dt.datetime | None
    recorded_by: str
    channel: str
    picked_up_by: str
    tracking_number: str


@dataclass(frozen=True)
class TerminateCase:
    """intake terminated the application (`application_terminated`)."""

    case_number: str
    reason: str


# -- what a case holds ------------------------------------------------------------------------------

@dataclass
class CaseRecord:
    """A case's state and the helpers every rule on it uses. What it does is built on it in layers:
    `deadlines.DeadlineLedger` → `inspections.SiteInspections` → `case.Case`."""

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
    status: CaseStatus
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
    collect_tenant: str = ""        # 委托收件: the window that took the application in for this unit
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
        return [s for s in self.steps if s.status == StepStatus.CLAIMED and s.claimed_by == actor.username]

    # -- what every action checks ----------------------------------------------------------------
    def _held(self, actor: Actor, *kinds: StepKind, field_name: str = "case_id") -> Step:
        """The step of these kinds the actor has claimed on this case, or a clear refusal."""
        for s in self.steps:
            if s.kind in kinds and s.status == StepStatus.CLAIMED and s.claimed_by == actor.username:
                return s
        what = "、".join(STEP_NAMES[k] for k in kinds)
        raise FailedPrecondition(f"该办件的{what}环节未由您认领，请先从待办队列认领", field=field_name)

    def _require_running(self, field_name: str = "case_id") -> None:
        if not self.is_open:
            raise FailedPrecondition(f"办件当前状态为“{STATUS_NAMES[self.status]}”，计时已结束", field=field_name)


# -- local holidays (issue 15: the calendar is not a way to hide lateness) ---------------------------------

# The levels that may add a local holiday for their area (a province publishes its whole arrangement instead;
# a township or village follows its county's calendar).
LOCAL_HOLIDAY_LEVELS = frozenset({"city", "county"})


@dataclass(frozen=True)
class LocalHolidayPolicy:
    """A province's rule for its cities' and counties' local holidays. Without a row for the province, none
    may be added: this default is the safe one (a holiday moves every open deadline)."""

    allowed: bool = False
    max_days_per_year: int = 0


def check_local_holiday(day: dt.date, today: dt.date, year: CalendarYear | None, policy: LocalHolidayPolicy,
                        used_this_year: int) -> None:
    """Refuse a local holiday that is not a whole future working day the province lets its units add.
    `year` is the arrangement that applies to the unit (national or provincial); `used_this_year` counts the
    unit's local holidays of that year already approved or proposed."""
    if not policy.allowed:
        raise PermissionDenied("本省未授权市县增设地方节假日（节假日和调休由国家、省统一安排）", field="day")
    if day <= today:
        raise InvalidArgument("day", f"地方节假日只能设在今后的日期，不能是今天或已过的日期（{day.isoformat()}）")
    if year is None:
        raise FailedPrecondition(f"{day.year} 年节假日安排尚未由国家或省发布，暂不能增设地方节假日", field="day")
    if day in year.holidays:
        raise InvalidArgument("day", f"{day.isoformat()} 已是节假日（{year.holidays[day]}），无需增设")
    if day in year.makeup_workdays:
        raise InvalidArgument("day", f"{day.isoformat()} 是调休上班日（{year.makeup_workdays[day]}），不能改为休息日")
    if day.weekday() >= 5:
        raise InvalidArgument("day", f"{day.isoformat()} 是周末休息日，无需增设")
    if used_this_year >= policy.max_days_per_year:
        raise FailedPrecondition(
            f"本单位 {day.year} 年的地方节假日已达本省允许的 {policy.max_days_per_year} 天", field="day")
