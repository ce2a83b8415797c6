"""Complaint and rating rules (投诉 · 吐槽找茬, 好差评), plain Python — no I/O.

Seed 000 §16: "接收群众投诉和网民留言后，要在第一时间安排专人负责 … 要严格执行'3日报动态、7日报结果'要求 …
因情况复杂无法按时办结的，在办理时限内向相关部门反馈原因、报告进展情况，延期办理时限原则上不超过10个工作日。"
§17: investigation by "走访群众、现场查看"; outcomes: "对合理利益诉求，要及时妥善解决；暂不具备解决条件的，要 …
解释情况，并积极创造条件解决；不符合政策规定的，要耐心细致解答政策"; "涉及多个部门的，由牵头部门负责协调".
§18: categories "教育、就业、医疗卫生、社会保障、民政救助、保障性住房、交通运管、不动产登记、机动车证照、征地拆迁";
promises in a reply are followed up "通过电话回访、实地督查、暗访等方式".
Seed 003 §11 (好差评) and §20 (吐槽找茬窗口).

The seed does not say whether the 日 of "3日/7日" are working days: the default counts working days on the
tenant's working-day calendar (shared.calendar), from the day after receipt, like a case's due date; a
province may count calendar days instead (`ComplaintRules.working_days`).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shared.calendar import WorkingCalendar
from shared.errors import AlreadyExists, FailedPrecondition, InvalidArgument, PermissionDenied
from shared.tenancy import DivisionCode, Principal, Role

MAX_CONTENT = 2000
MAX_TEXT = 1000
MAX_NAME = 50
MAX_SHORT = 100


# -- rules per province -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ComplaintRules:
    """The numbers of the rules, per province (data, not branches)."""

    working_days: bool = True          # 日 = working days on the tenant's calendar (a default: the seed is silent)
    progress_days: int = 3             # 3日报动态 (seed 000 §16)
    result_days: int = 7               # 7日报结果 (seed 000 §16)
    max_extension_days: int = 10       # 延期办理时限原则上不超过10个工作日 (seed 000 §16)
    max_extensions: int = 1            # one extension (the issue; a province may allow more)
    # 差评整改: verified, rectified and answered within N working days. A default chosen here (the seeds give
    # no number; the national 好差评 rules leave it to the provinces): 15.
    rectification_days: int = 15
    reopen_limit: int = 1              # 不满意 reopens once at the same level; the next one escalates


DEFAULT_RULES = ComplaintRules()
PROVINCE_RULES: dict[str, ComplaintRules] = {}   # province code (2 digits) → its rules; none differ yet


def rules_for(tenant: str) -> ComplaintRules:
    return PROVINCE_RULES.get(str(tenant)[:2], DEFAULT_RULES)


# -- vocabularies -----------------------------------------------------------------------------------------
class Channel(enum.StrEnum):
    PUBLIC = "public"        # 网上投诉（公众页面，无需登录）
    HALL = "hall"            # 吐槽找茬窗口（窗口人员登记）
    AGENT = "agent"          # 村代办员代为登记
    HOTLINE = "hotline"      # 12345 热线转办


class Kind(enum.StrEnum):
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"        # 举报（可匿名）


class Status(enum.StrEnum):
    RECEIVED = "received"
    ASSIGNED = "assigned"
    PROGRESSING = "progressing"
    REPLIED = "replied"
    CLOSED = "closed"
    ESCALATED = "escalated"

    @property
    def label(self) -> str:
        return {"received": "已登记", "assigned": "已指派专人", "progressing": "办理中", "replied": "已答复",
                "closed": "已办结", "escalated": "已提级办理"}[self.value]


class Outcome(enum.StrEnum):
    SOLVED = "solved"        # 合理诉求，及时解决
    PLAN = "plan"            # 暂不具备条件，解释情况并创造条件解决
    POLICY = "policy"        # 不符合政策，解答政策

    @property
    def label(self) -> str:
        return {"solved": "合理诉求，已解决", "plan": "暂不具备解决条件，已说明并制定解决计划",
                "policy": "不符合政策规定，已解答政策依据"}[self.value]


class ReplyChannel(enum.StrEnum):
    IN_PERSON = "in_person"  # 当面
    PHONE = "phone"          # 电话
    EMAIL = "email"          # 电子邮件
    SMS = "sms"              # 短信


class VisitMethod(enum.StrEnum):
    PHONE = "phone"          # 电话回访
    ON_SITE = "on_site"      # 实地督查
    UNDERCOVER = "undercover"  # 暗访


class InvestigationMethod(enum.StrEnum):
    VISIT = "visit"          # 走访群众
    SITE = "site"            # 现场查看
    OTHER = "other"


class Satisfaction(enum.StrEnum):
    SATISFIED = "satisfied"                  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"            # 不满意


class RatingChannel(enum.StrEnum):
    CASE = "case"                # 一事一评（受理通知单等上的二维码、公众进度页）
    WINDOW = "window"            # 一次一评（窗口评价器）
    UNIT_COMMENT = "unit_comment"  # 综合点评
    SUPERVISION = "supervision"  # 监督查评


class RectificationStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    RATED = "rated"


class AppealStatus(enum.StrEnum):
    NONE = "none"
    PENDING = "pending"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


# the seed's list (000 §18) plus service conduct, 办不成事 and 其他: data, in display order
CATEGORIES: dict[str, str] = {
    "education": "教育", "employment": "就业", "health": "医疗卫生", "social_security": "社会保障",
    "civil_assistance": "民政救助", "housing": "保障性住房", "transport": "交通运管",
    "real_estate": "不动产登记", "vehicle_licence": "机动车证照", "land_demolition": "征地拆迁",
    "service_conduct": "服务作风", "cannot_get_done": "办不成事", "other": "其他",
}

# 好差评: five levels, the last two are 差评
LEVELS: dict[int, str] = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}
BAD_LEVELS = frozenset({4, 5})
SATISFIED_LEVELS = frozenset({1, 2})     # the public "满意率": share of 非常满意 + 满意
# indicators, as data: online and in the hall
ONLINE_INDICATORS: dict[str, str] = {"overall": "整体满意度", "efficiency": "办事效率",
                                     "guide_accuracy": "办事指南精确度", "convenience": "办事便捷度",
                                     "usability": "平台操作性"}
HALL_INDICATORS: dict[str, str] = {"overall": "整体满意度", "service_efficiency": "服务效率",
                                   "service_level": "服务水平", "attitude": "服务态度"}


def is_bad(level: int) -> bool:
    return level in BAD_LEVELS


# -- input checks -----------------------------------------------------------------------------------------
def check_text(value: str, field: str, what: str, *, max_len: int = MAX_TEXT, required: bool = False) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise InvalidArgument(field, f"{what}含有不可见的空字符（\\x00），请删除后重试")
    if required and not value:
        raise InvalidArgument(field, f"请填写{what}")
    if len(value) > max_len:
        raise InvalidArgument(field, f"{what}过长：最多 {max_len} 字，现为 {len(value)} 字")
    return value


def parse(enum_cls: type[enum.StrEnum], value: str, field: str, what: str, *, default: str = "") -> enum.StrEnum:
    value = (value or "").strip() or default
    if not value:
        raise InvalidArgument(field, f"请选择{what}")
    try:
        return enum_cls(value)
    except ValueError:
        allowed = "、".join(m.value for m in enum_cls)
        raise InvalidArgument(field, f"不认识的{what}：{value[:40]}（可选：{allowed}）") from None


def check_category(value: str) -> str:
    value = (value or "").strip()
    if value not in CATEGORIES:
        raise InvalidArgument("category", f"不认识的投诉类别：{value[:40]}（可选：{'、'.join(CATEGORIES)}）")
    return value


_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def check_phone(value: str, field: str = "complainant.phone", *, required: bool = True) -> str:
    value = (value or "").strip().replace(" ", "")
    if not value:
        if required:
            raise InvalidArgument(field, "请填写联系电话（用于答复和凭电话后四位查询办理情况）")
        return ""
    if not (_MOBILE.match(value) or _LANDLINE.match(value)):
        raise InvalidArgument(field, "联系电话格式不正确：应为 11 位手机号码或带区号的固定电话")
    return value


def phone_last4(phone: str) -> str:
    return re.sub(r"\D", "", phone)[-4:]


@dataclass(frozen=True)
class Complainant:
    name: str = ""
    phone: str = ""
    id_number: str = ""
    anonymous: bool = False


def check_complainant(c: Complainant, kind: Kind) -> Complainant:
    """A complaint needs a name and a phone for the reply; an anonymous 举报 has no identity at all — no name, no
    ID, no phone (it is followed with the number and a query code printed on its receipt)."""
    if c.anonymous and kind != Kind.REPORT:
        raise InvalidArgument("complainant.anonymous", "只有举报可以匿名；投诉请留下姓名以便答复")
    name = check_text(c.name, "complainant.name", "投诉人姓名", max_len=MAX_NAME, required=not c.anonymous)
    phone = check_phone(c.phone, required=not c.anonymous)
    id_number = check_text(c.id_number, "complainant.id_number", "身份证号码", max_len=18)
    if id_number and not re.match(r"^\d{17}[\dX]$", id_number):
        raise InvalidArgument("complainant.id_number", "身份证号码格式不正确（18 位）")
    if c.anonymous:
        return Complainant(anonymous=True)
    return Complainant(name=name, phone=phone, id_number=id_number, anonymous=False)


@dataclass(frozen=True)
class Subject:
    tenant: str
    department: str = ""
    case_number: str = ""
    item_id: str = ""
    window: str = ""
    staff: str = ""


def check_subject(s: Subject) -> Subject:
    if not (s.tenant or "").strip():
        raise InvalidArgument("subject.tenant", "请选择被投诉的单位")
    code = DivisionCode.parse(s.tenant.strip(), "subject.tenant")
    return Subject(tenant=str(code),
                   department=check_text(s.department, "subject.department", "被投诉部门", max_len=MAX_SHORT),
                   case_number=check_text(s.case_number, "subject.case_number", "办件编号", max_len=64),
                   item_id=check_text(s.item_id, "subject.item_id", "事项标识", max_len=64),
                   window=check_text(s.window, "subject.window", "窗口", max_len=MAX_SHORT),
                   staff=check_text(s.staff, "subject.staff", "被投诉的工作人员", max_len=MAX_SHORT))


# -- who handles it ---------------------------------------------------------------------------------------
def handling_unit(subject: DivisionCode | str) -> str:
    """The level above supervises the level below: a complaint about a village point goes to its township,
    about a township centre or a county department (or the county centre itself) to the county bureau."""
    code = str(subject)
    if len(code) == 12:
        return code[:9]
    if len(code) == 9:
        return code[:6]
    if len(code) == 6:
        return code
    raise InvalidArgument("subject.tenant", "被投诉单位应为县、乡镇（街道）或村（社区）")


def level_above(tenant: str) -> str:
    """Where a second 不满意 escalates: township → county; county → its city (the first four digits + 00)."""
    if len(tenant) == 9:
        return tenant[:6]
    if len(tenant) == 6 and not tenant.endswith("00"):
        return tenant[:4] + "00"
    raise FailedPrecondition("已是最高一级办理单位，无法再提级")


@dataclass(frozen=True)
class EscalationRoute:
    to_tenant: str
    to_supervision: bool       # the level above is not on the platform: the unit's own supervision takes it
    notice: str                # told to the complainant (a public record)


def escalation_route(tenant: str, above_in_tree: bool) -> EscalationRoute:
    """A second 不满意 goes to the level above — when that level is a unit of this deployment's tenant tree. A
    county's level above is its city, which a county deployment usually does not hold: rather than hand it to a
    code no one reads, the county's own supervision (监察) takes it, seen there as escalated, and the complainant
    is told so."""
    above = level_above(tenant)
    if above_in_tree:
        return EscalationRoute(above, False, "投诉人再次不满意，已提交上一级办理")
    return EscalationRoute(tenant, True, f"投诉人再次不满意。上一级单位（区划代码 {above}）尚未接入本平台，"
                                         "无法在平台上转交；已转本级监察部门督办，办理结果将告知您。"
                                         "您也可以直接向上一级政务服务部门或 12345 热线反映")


# -- time limits -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimeLimits:
    received_on: dt.date
    progress_due: dt.date
    result_due: dt.date
    provisional: bool
    trace: str                 # the computation explained (Chinese), like a case's due date


def _due(calendar: WorkingCalendar, start: dt.date, days: int, rules: ComplaintRules) -> tuple[dt.date, bool, str]:
    if not rules.working_days:
        due = start + dt.timedelta(days=days)
        return due, False, f"起算日 {start.isoformat()}（当日不计），按自然日 {days} 日，截止 {due.isoformat()}"
    r = calendar.add_working_days(start, days)
    assert r.due is not None
    return r.due, r.provisional, r.explain()


def time_limits(calendar: WorkingCalendar, received_on: dt.date, rules: ComplaintRules = DEFAULT_RULES) -> TimeLimits:
    """3日报动态、7日报结果, counted from the day after receipt on the tenant's calendar, with the trace."""
    p_due, p_prov, p_trace = _due(calendar, received_on, rules.progress_days, rules)
    r_due, r_prov, r_trace = _due(calendar, received_on, rules.result_days, rules)
    trace = f"【报动态 {rules.progress_days} 日】\n{p_trace}\n【报结果 {rules.result_days} 日】\n{r_trace}"
    return TimeLimits(received_on, p_due, r_due, p_prov or r_prov, trace)


@dataclass(frozen=True)
class ExtensionState:
    extensions: int            # extensions already approved
    pending: bool              # one requested and not yet approved
    result_due: dt.date


def check_extension_request(state: ExtensionState, today: dt.date, reason: str, days: int,
                            rules: ComplaintRules = DEFAULT_RULES) -> tuple[str, int]:
    """An extension is asked for within the time limit (on or before the result due date), with a reason told
    to the complainant, for at most `max_extension_days` working days, and only `max_extensions` times."""
    if state.extensions >= rules.max_extensions or state.pending:
        raise FailedPrecondition(f"延期办理只能申请 {rules.max_extensions} 次，本投诉已申请过", field="complaint_id")
    if today > state.result_due:
        raise FailedPrecondition(f"延期须在办理时限内（{state.result_due.isoformat()} 前）申请并向投诉人说明原因，"
                                 "现已超过时限", field="complaint_id")
    reason = check_text(reason, "reason", "延期原因（将告知投诉人）", max_len=MAX_TEXT, required=True)
    if not isinstance(days, int) or days < 1 or days > rules.max_extension_days:
        raise InvalidArgument("days", f"延期天数应为 1 至 {rules.max_extension_days} 个工作日")
    return reason, days


def check_extension_approval(state: ExtensionState, today: dt.date, approver: Principal, requested_by: str) -> None:
    """The unit's head approves (机关负责人批准), while the time limit still runs."""
    if not approver.has(Role.HEAD):
        raise PermissionDenied("延期办理须经单位负责人批准")
    if not state.pending:
        raise FailedPrecondition("没有待批准的延期申请", field="complaint_id")
    if today > state.result_due:
        raise FailedPrecondition(f"办理时限已于 {state.result_due.isoformat()} 届满，延期申请已失效",
                                 field="complaint_id")


def extension_due(calendar: WorkingCalendar, result_due: dt.date, days: int,
                  rules: ComplaintRules = DEFAULT_RULES) -> tuple[dt.date, bool, str]:
    """The extended result due date, whether it is provisional, and its trace."""
    due, provisional, trace = _due(calendar, result_due, days, rules)
    return due, provisional, f"【延期 {days} 日，自原截止日次日起算】\n{trace}"


def extended_due(calendar: WorkingCalendar, result_due: dt.date, days: int,
                 rules: ComplaintRules = DEFAULT_RULES) -> tuple[dt.date, str]:
    due, _, trace = extension_due(calendar, result_due, days, rules)
    return due, trace


REOPENED_HEADING = "【重新办理】"


@dataclass(frozen=True)
class Extension:
    days: int
    current_round: bool        # approved after the last reopening (it moves today's result due date)


def recount(calendar: WorkingCalendar, received_on: dt.date, rules: ComplaintRules = DEFAULT_RULES, *,
            reopened_on: dt.date | None = None, extension: Extension | None = None) -> TimeLimits:
    """Every time limit of a complaint counted again on today's calendar (a province published a year): the
    first round from the day of receipt; a reopened complaint's round from its day of reopening (the earlier
    round stays in the trace); an approved extension from the result due date of the round it was approved
    in. `provisional` is that of the dates in force."""
    first = time_limits(calendar, received_on, rules)
    trace, current = first.trace, first
    result_due, provisional = first.result_due, first.provisional
    if extension is not None and (reopened_on is None or not extension.current_round):
        due, ext_prov, ext_trace = extension_due(calendar, first.result_due, extension.days, rules)
        trace = f"{trace}\n{ext_trace}"
        if reopened_on is None:
            result_due, provisional = due, provisional or ext_prov
    if reopened_on is not None:
        current = time_limits(calendar, reopened_on, rules)
        trace = f"{trace}\n{REOPENED_HEADING}\n{current.trace}"
        result_due, provisional = current.result_due, current.provisional
        if extension is not None and extension.current_round:
            due, ext_prov, ext_trace = extension_due(calendar, current.result_due, extension.days, rules)
            trace = f"{trace}\n{ext_trace}"
            result_due, provisional = due, provisional or ext_prov
    return TimeLimits(received_on, current.progress_due, result_due, provisional, trace)


# -- reply, departments and satisfaction ---------------------------------------------------------------------
@dataclass(frozen=True)
class PromiseInput:
    promise: str
    due_on: str


def check_reply(outcome: str, channel: str, text: str, promises: Sequence[PromiseInput],
                today: dt.date) -> tuple[Outcome, ReplyChannel, str, list[tuple[str, dt.date]]]:
    if not (outcome or "").strip():
        raise InvalidArgument("outcome", "答复须写明办理结果：solved（已解决）、plan（暂不具备条件，说明并计划解决）"
                                         "或 policy（不符合政策，解答政策）")
    o = parse(Outcome, outcome, "outcome", "办理结果")
    c = parse(ReplyChannel, channel, "channel", "答复方式")
    text = check_text(text, "text", "答复内容", max_len=MAX_CONTENT, required=True)
    if o == Outcome.PLAN and not promises:
        raise InvalidArgument("promises", "暂不具备解决条件的，须写明解决计划（承诺事项及日期）")
    out = []
    for i, p in enumerate(promises):
        what = check_text(p.promise, f"promises[{i}].promise", "承诺事项", max_len=MAX_TEXT, required=True)
        due = parse_date(p.due_on, f"promises[{i}].due_on", "承诺完成日期")
        if due < today:
            raise InvalidArgument(f"promises[{i}].due_on", "承诺完成日期不能早于今天")
        out.append((what, due))
    return o, c, text, out


def parse_date(value: str, field: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidArgument(field, f"{what}应为 YYYY-MM-DD") from None


def late_departments(parts: Iterable[tuple[str, bool, dt.datetime | None]], result_due: dt.date,
                     today: dt.date) -> list[str]:
    """Co-handling departments (lead or not) that had not reported their part by the result due date — the
    late one is named. parts: (department, lead, reported_at)."""
    out = []
    for dept, _lead, reported_at in parts:
        if reported_at is None and today > result_due or reported_at is not None and reported_at.date() > result_due:
            out.append(dept)
    return out


class AfterSatisfaction(enum.StrEnum):
    CLOSE = "close"
    REOPEN = "reopen"
    ESCALATE = "escalate"


def after_satisfaction(s: Satisfaction, reopened: int, rules: ComplaintRules = DEFAULT_RULES) -> AfterSatisfaction:
    """满意 / 基本满意 closes; the first 不满意 reopens it once at the same level; a second escalates it."""
    if s != Satisfaction.DISSATISFIED:
        return AfterSatisfaction.CLOSE
    return AfterSatisfaction.REOPEN if reopened < rules.reopen_limit else AfterSatisfaction.ESCALATE


def check_may_rate_handling(status: Status) -> None:
    if status != Status.REPLIED:
        raise FailedPrecondition("投诉尚未答复，答复后才能评价办理情况", field="number")


# -- privacy -------------------------------------------------------------------------------------------------
def identity_visible(p: Principal, handling_tenant: str, subject_staff: str) -> bool:
    """The complainant's identity is seen by the handling unit's complaint handlers and by supervision —
    never by the staff member complained about (even holding one of those roles)."""
    if subject_staff and p.username == subject_staff:
        return False
    if p.has(Role.COMPLAINT_HANDLER) and str(p.tenant) == handling_tenant:
        return True
    return p.has(Role.SUPERVISOR) and handling_tenant.startswith(str(p.tenant))


# -- ratings -------------------------------------------------------------------------------------------------
def check_level(level: int, field: str = "level") -> int:
    if level not in LEVELS:
        raise InvalidArgument(field, "评价等级应为 1 至 5：1 非常满意、2 满意、3 基本满意、4 不满意、5 非常不满意")
    return level


def check_indicators(indicators: Mapping[str, int], channel: RatingChannel) -> dict[str, int]:
    allowed = HALL_INDICATORS if channel == RatingChannel.WINDOW else ONLINE_INDICATORS
    out = {}
    for code, level in indicators.items():
        if code not in allowed:
            raise InvalidArgument("indicators", f"不认识的评价指标：{code[:40]}（可选：{'、'.join(allowed)}）")
        out[code] = check_level(level, f"indicators.{code}")
    return out


def check_id_suffix(value: str) -> str:
    value = (value or "").strip().upper()
    if not re.match(r"^[0-9X]{6}$", value):
        raise InvalidArgument("id_suffix", "请填写申请人身份证号码后 6 位")
    return value


@dataclass(frozen=True)
class CaseFacts:
    """What the complaints service knows of a case, from intake's and approval's events (its read model)."""

    case_number: str
    tenant: str
    accepted: bool
    id_suffix: str
    item_id: str = ""
    item_name: str = ""
    handled_by: str = ""      # who answers for it (谁办理、谁负责): the decider, else the accepting clerk
    department: str = ""
    completed: bool = False


def check_case_rating(case: CaseFacts | None, id_suffix: str) -> CaseFacts:
    """一事一评: the case exists, belongs to the ID whose suffix is given, and was accepted."""
    import hmac

    if case is None or not case.id_suffix or not hmac.compare_digest(case.id_suffix, id_suffix):
        raise InvalidArgument("case_number", "办件编号与身份证号码后 6 位不匹配，或该办件不存在、尚未受理")
    if not case.accepted:
        raise FailedPrecondition("该办件尚未受理，受理后才能评价", field="case_number")
    return case


def rectification_due(calendar: WorkingCalendar, rated_on: dt.date,
                      rules: ComplaintRules = DEFAULT_RULES) -> tuple[dt.date, str]:
    """差评整改: verified, rectified and answered within `rectification_days` working days of the rating."""
    due, _, trace = _due(calendar, rated_on, rules.rectification_days, rules)
    return due, trace


def visit_required(real_name: bool) -> bool:
    """Every 差评 with a real name gets a return visit (100 %)."""
    return real_name


# Where the return visit sits in a rectification. Seed 000 §18: "对办理情况特别是答复中承诺的事项,要通过电话回访、
# 实地督查、暗访等方式进行督查,逐项跟踪问效,以解决问题的实际效果取信于民" — the visit checks the actual effect of
# what was done and answered, so it follows the answer (核实、整改、反馈) and comes before the rectification is
# closed by the rater's rating: a real-name 差评's rectification cannot be rated until its visit is recorded.
def check_may_visit(status: RectificationStatus, visited: bool) -> None:
    if visited:
        raise FailedPrecondition("已经回访过了", field="rectification_id")
    if status == RectificationStatus.OPEN:
        raise FailedPrecondition("整改尚未反馈（answer）：回访核查的是整改和答复的实际效果，请先整改反馈再回访",
                                 field="answer")


def check_may_rate_rectification(status: RectificationStatus, visit_required: bool, visited: bool) -> None:
    """The rater rates the rectification once it was answered and — for a real-name 差评 — visited."""
    if status == RectificationStatus.OPEN:
        raise FailedPrecondition("单位尚未整改反馈，反馈后才能评价整改", field="case_number")
    if status == RectificationStatus.RATED:
        raise AlreadyExists("整改已经评价过了", field="case_number")
    if visit_required and not visited:
        raise FailedPrecondition("实名差评须先回访（return_visit）：单位尚未记录回访，回访后才能评价整改",
                                 field="return_visit")


def visit_share(real_name_bad: int, visited: int) -> float:
    """The share of real-name 差评 whose return visit is recorded (the target is 100 %); 1.0 when there is none."""
    return visited / real_name_bad if real_name_bad else 1.0


@dataclass(frozen=True)
class FigureRow:
    level: int
    counted: bool       # False: an upheld appeal left it out of the unit's figures (it stays in the record)


def figures(rows: Iterable[FigureRow]) -> tuple[int, int, float, list[int], int]:
    """(count, satisfied, satisfaction share, counts by level 1..5, bad) over the counted ratings."""
    by_level = [0, 0, 0, 0, 0]
    for r in rows:
        if r.counted:
            by_level[r.level - 1] += 1
    count = sum(by_level)
    satisfied = by_level[0] + by_level[1]
    return count, satisfied, (satisfied / count if count else 0.0), by_level, by_level[3] + by_level[4]


def check_appeal_decider(p: Principal, rated_tenant: str) -> None:
    """申诉复核: a supervisor of a level above the rated unit decides — never the unit itself."""
    if not p.has(Role.SUPERVISOR):
        raise PermissionDenied("申诉由上一级监察人员复核")
    me = str(p.tenant)
    if me == rated_tenant or not rated_tenant.startswith(me):
        raise PermissionDenied("申诉由被评价单位的上级复核，本单位不能复核自己的申诉")


def complaint_number(tenant: str, day: dt.date, seq: int) -> str:
    """TS + the handling unit's code + date + a daily sequence: unique, and readable on a phone call."""
    return f"TS{tenant}{day:%Y%m%d}{seq:04d}"


def check_number(value: str, field: str = "number") -> str:
    value = (value or "").strip().upper()
    if not re.match(r"^TS\d{6,12}\d{8}\d{4}$", value):
        raise InvalidArgument(field, "投诉编号格式不正确")
    return value


def check_last4(value: str) -> str:
    value = (value or "").strip()
    if not re.match(r"^\d{4}$", value):
        raise InvalidArgument("phone_last4", "请填写联系电话后四位数字")
    return value
