"""Supervision rules (电子监察): the rules as data, the evaluation of one case against them, orders and grades.

Plain Python: no I/O. The read model of a case (`CaseFacts`, its held steps `StepFacts`) is built from the
events of the services it watches; `evaluate` says which cards the case should carry today and when the next
threshold falls (`next_check_on`, the indexed column the sweep reads), so the work at a day boundary is
proportional to the cases crossing a threshold, never to all open cases.

Every rule has an id, its basis (seed section or law article), its severity, its thresholds and a text for
people. A province overrides thresholds by data (`RuleSet.for_tenant` with the province's overrides); the
defaults below say where each number comes from.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.calendar import PACKAGE_SOURCE_PREFIX, WorkingCalendar
from shared.errors import FailedPrecondition, InvalidArgument


class Severity(enum.StrEnum):
    YELLOW = "yellow"      # 黄牌：临近期限
    RED = "red"            # 红牌：超过期限或异常


class CardStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class OrderStatus(enum.StrEnum):
    ISSUED = "issued"
    ANSWERED = "answered"
    ESCALATED = "escalated"


class CaseStage(enum.StrEnum):
    """Where a case stands in the read model."""

    RECEIVED = "received"          # at the window, no window decision yet (受理环节之前)
    CORRECTION = "correction"      # 补正 requested
    REJECTED = "rejected"          # 不予受理
    ACCEPTED = "accepted"          # accepted, approval has not opened it yet
    OPEN = "open"                  # in approval
    DECIDED = "decided"
    COMPLETED = "completed"
    DELIVERED = "delivered"
    TERMINATED = "terminated"


UNDECIDED = frozenset({CaseStage.ACCEPTED, CaseStage.OPEN})
POST_LABEL = {"window": "受理人", "review": "审核人", "department_review": "审核人", "decision": "决定人",
              "window_decision": "窗口首席代表",
              "calendar": "日历发布人", "unit": "承办单位"}


# ---------------------------------------------------------------------------------------------
# Rules as data
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    basis: str
    severity: Severity
    subject_kind: str                      # case | step | application | calendar | complaint
    text: str
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def t(self, name: str) -> float:
        return float(self.thresholds[name])


CASE_PROMISED = "case-promised-deadline"
CASE_STATUTORY = "case-statutory-deadline"
STEP_BUDGET = "step-budget"
WINDOW_SAME_DAY = "window-same-day"
WINDOW_DEEMED = "window-deemed-acceptance"
SUSPENSION_WATCH = "suspension-watch"
CALENDAR_PROVISIONAL = "calendar-provisional"
COMPLAINT_PROGRESS = "complaint-progress"
COMPLAINT_RESULT = "complaint-result"
RATING_RECTIFICATION = "rating-rectification"

DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(CASE_PROMISED, "承诺时限预警与超期",
         "凉州区审批服务规范 第二十五条（承诺办理时限执行）；电子监察（DESIGN §6）",
         Severity.RED, "case",
         "办件临近承诺办结时限亮黄牌，超过承诺时限仍未办结亮红牌。",
         # 1 working day: the seeds ask for a warning "near" the deadline and fix no number; one day leaves the
         # unit time to act. A province may widen it.
         {"yellow_working_days": 1}),
    Rule(CASE_STATUTORY, "超过法定期限未办结", "《中华人民共和国行政许可法》第四十二条；问责情形“未在法定期限办结”",
         Severity.RED, "case", "办件超过法定办理期限仍未作出决定，亮红牌（与超承诺时限分别认定）。", {}),
    Rule(STEP_BUDGET, "环节超时（压件不报、压件不批）",
         "凉州区审批服务规范 第二十一条、第二十二条；逐环节、逐岗位监督（第二十五条）",
         Severity.RED, "step",
         "审查、决定环节由岗位人员认领后，在环节时限的最后一个工作日亮黄牌，超过环节时限亮红牌，牌亮在持有该环节的岗位人员名下。",
         # The catalogue gives no per-step limits (seed 000 §11 asks each department to set them in its rules);
         # until it does, a step's budget is a share of the case's promised limit: half for the review, a
         # quarter for the decision, at least one working day. Defaults of this platform, per province data.
         {"review_share": 0.5, "decide_share": 0.25, "min_days": 1, "yellow_working_days": 0}),
    Rule(WINDOW_SAME_DAY, "窗口收件当日未作受理决定", "凉州区审批服务规范 第十条（不得使事项处于受理环节之前）",
         Severity.YELLOW, "application",
         "窗口收件后至当日工作日结束仍未受理、补正或不予受理的，对收件人亮黄牌。", {}),
    Rule(WINDOW_DEEMED, "逾期未告知补正视为受理",
         "凉州区审批服务规范 第二十条（应予受理而不予受理）；《行政许可法》第三十二条",
         Severity.RED, "application",
         "收件后5个工作日内未作受理决定、依法视为受理的，对收件人亮红牌。", {}),
    Rule(SUSPENSION_WATCH, "暂停计时异常（时限规避）", "电子监察：时限规避监测（DESIGN §6 审批与时限台账）",
         Severity.YELLOW, "case",
         "办件暂停计时次数过多，或暂停的工作日超过承诺时限的一定比例，亮黄牌。",
         # Defaults of this platform (no seed fixes them): more than two suspensions, or paused days above half
         # the promised limit, are unusual enough to look at.
         {"max_suspensions": 2, "max_paused_share": 0.5}),
    Rule(CALENDAR_PROVISIONAL, "工作日历未发布", "DESIGN §6（工作日历为数据，未发布年度的期限为暂定）",
         Severity.YELLOW, "calendar",
         "办件期限跨入尚未发布工作日历的年度，期限为暂定；在该年度日历发布、期限重算之前亮黄牌，提示日历发布人。", {}),
    # complaints and ratings: the deadlines are the complaints service's (3/7 working days, the province's
    # rectification limit), carried by its events; supervision cards the unit when one passes unmet
    Rule(COMPLAINT_PROGRESS, "投诉未按时报告办理动态", "DESIGN §6 投诉与评价（3个工作日内报告办理动态）",
         Severity.RED, "complaint", "投诉受理后未在规定期限内向投诉人报告办理动态，对承办单位亮红牌。", {}),
    Rule(COMPLAINT_RESULT, "投诉未按时答复办理结果", "DESIGN §6 投诉与评价（7个工作日内答复办理结果，可延期一次）",
         Severity.RED, "complaint", "投诉未在规定期限（含批准的延期）内答复办理结果，对承办单位亮红牌。", {}),
    Rule(RATING_RECTIFICATION, "差评未按时整改", "好差评制度：差评整改（谁办理、谁负责；期限按省规定，默认15个工作日）",
         Severity.RED, "complaint", "差评整改单未在期限内核实、整改并反馈，对被评价单位及办理人亮红牌。", {}),
)

RULE_TITLES = {r.id: r.title for r in DEFAULT_RULES}


@dataclass(frozen=True)
class RuleSet:
    rules: Mapping[str, Rule]
    province: str = ""

    def __getitem__(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def __iter__(self):
        return iter(self.rules.values())

    @classmethod
    def for_tenant(cls, tenant: str, overrides: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
                   base: Sequence[Rule] = DEFAULT_RULES) -> RuleSet:
        """The rules a tenant is held to: the defaults, with its province's thresholds (overrides: province
        code (2 digits) → rule id → threshold → value). An unknown rule or threshold is refused."""
        province = tenant[:2]
        mine = (overrides or {}).get(province, {})
        rules = {r.id: r for r in base}
        for rule_id, values in mine.items():
            if rule_id not in rules:
                raise InvalidArgument("rule_id", f"没有编号为 {rule_id} 的监察规则")
            unknown = set(values) - set(rules[rule_id].thresholds)
            if unknown:
                raise InvalidArgument("thresholds", f"规则 {rule_id} 没有阈值 {'、'.join(sorted(unknown))}")
            rules[rule_id] = dataclasses.replace(rules[rule_id], thresholds={**rules[rule_id].thresholds, **values})
        return cls(rules, province)


# ---------------------------------------------------------------------------------------------
# The read model of a case
# ---------------------------------------------------------------------------------------------

@dataclass
class StepFacts:
    step_id: str
    kind: str                      # review | department_review | decision (approval's step kinds)
    desk: str
    holder: str
    holder_name: str
    claimed_on: dt.date
    done: bool = False


@dataclass
class CaseFacts:
    tenant: str
    application_id: str
    stage: CaseStage
    case_number: str = ""
    item_name: str = ""
    department: str = ""
    channel: str = ""
    received_on: dt.date | None = None
    received_by: str = ""
    deemed: bool = False
    accepted_by: str = ""
    immediate: bool = False
    promised_limit: int = 0
    statutory_limit: int = 0
    promised_due: dt.date | None = None
    statutory_due: dt.date | None = None
    promised_trace: str = ""
    statutory_trace: str = ""
    provisional_years: tuple[int, ...] = ()
    suspended: bool = False
    suspensions: int = 0
    paused_days: int = 0


@dataclass(frozen=True)
class WantedCard:
    """A card the case should carry today."""

    rule_id: str
    severity: Severity
    subject_kind: str
    subject_ref: str
    post: str = ""                 # window | review | decide | calendar | unit
    post_holder: str = ""
    post_holder_name: str = ""
    due: dt.date | None = None
    trace: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule_id, self.subject_ref)


@dataclass(frozen=True)
class Evaluation:
    cards: tuple[WantedCard, ...]
    next_check_on: dt.date | None      # the next day a card may appear, turn red or close by time alone


def working_days_before(cal: WorkingCalendar, due: dt.date, n: int) -> dt.date:
    """The day `n` working days before `due` (n = 0: `due` itself)."""
    d = due
    while n > 0:
        d -= dt.timedelta(days=1)
        if cal.is_working_day(d):
            n -= 1
    return d


def next_working_day_end(cal: WorkingCalendar, day: dt.date) -> dt.date:
    """The working day a window's "same day" ends on: `day` if it is a working day, else the next one."""
    d = day
    for _ in range(60):
        if cal.is_working_day(d):
            return d
        d += dt.timedelta(days=1)
    return day


def step_budget_days(rules: RuleSet, kind: str, promised_limit: int) -> int:
    r = rules[STEP_BUDGET]
    share = r.t("decide_share") if kind in ("decision", "window_decision") else r.t("review_share")
    return max(int(r.t("min_days")), math.ceil(share * max(promised_limit, 0)))


def _deadline_cards(case: CaseFacts, rules: RuleSet, cal: WorkingCalendar, today: dt.date, holder: StepFacts | None,
                    cards: list[WantedCard], nexts: list[dt.date]) -> None:
    post = (holder.kind if holder else "unit", holder.holder if holder else "", holder.holder_name if holder else "")
    if case.promised_due:
        due = case.promised_due
        yellow_from = working_days_before(cal, due, int(rules[CASE_PROMISED].t("yellow_working_days")))
        if today > due:
            cards.append(WantedCard(CASE_PROMISED, Severity.RED, "case", case.case_number, *post, due=due,
                                    trace=case.promised_trace))
        elif today >= yellow_from:
            cards.append(WantedCard(CASE_PROMISED, Severity.YELLOW, "case", case.case_number, *post, due=due,
                                    trace=case.promised_trace))
            nexts.append(due + dt.timedelta(days=1))
        else:
            nexts.append(yellow_from)
    if case.statutory_due:
        due = case.statutory_due
        if today > due:
            cards.append(WantedCard(CASE_STATUTORY, Severity.RED, "case", case.case_number, *post, due=due,
                                    trace=case.statutory_trace))
        else:
            nexts.append(due + dt.timedelta(days=1))


def step_due(rules: RuleSet, cal: WorkingCalendar, step: StepFacts, promised_limit: int) -> dt.date | None:
    result = cal.add_working_days(step.claimed_on, step_budget_days(rules, step.kind, promised_limit))
    return result.due


def evaluate(case: CaseFacts, steps: Sequence[StepFacts], rules: RuleSet, cal: WorkingCalendar,
             today: dt.date) -> Evaluation:
    """The cards `case` should carry on `today`, and the next day that may change them."""
    cards: list[WantedCard] = []
    nexts: list[dt.date] = []
    # window: received, no decision at the window by the end of that working day
    if case.stage == CaseStage.RECEIVED and case.received_on:
        end = next_working_day_end(cal, case.received_on)
        if today > end:
            cards.append(WantedCard(WINDOW_SAME_DAY, Severity.YELLOW, "application", case.application_id, "window",
                                    case.received_by, due=end,
                                    trace=f"收件日 {case.received_on.isoformat()}，"
                                          f"应于 {end.isoformat()} 工作日结束前作出受理决定"))
        else:
            nexts.append(end + dt.timedelta(days=1))
    if case.deemed and case.stage in UNDECIDED:
        cards.append(WantedCard(WINDOW_DEEMED, Severity.RED, "application", case.application_id, "window",
                                case.received_by, due=case.received_on,
                                trace="收件后5个工作日内未作出受理决定，依法视为受理"))
    if case.stage in UNDECIDED and not case.immediate:
        held = [s for s in steps if not s.done]
        holder = held[0] if held else None
        if not case.suspended:
            _deadline_cards(case, rules, cal, today, holder, cards, nexts)
            for s in held:
                due = step_due(rules, cal, s, case.promised_limit)
                if due is None:
                    continue
                yellow_from = working_days_before(cal, due, int(rules[STEP_BUDGET].t("yellow_working_days")))
                budget = step_budget_days(rules, s.kind, case.promised_limit)
                trace = (f"{s.claimed_on.isoformat()} 认领（当日不计），环节时限 {budget} 个工作日，"
                         f"应于 {due.isoformat()} 前完成")
                if today > due:
                    cards.append(WantedCard(STEP_BUDGET, Severity.RED, "step", s.step_id, s.kind, s.holder,
                                            s.holder_name, due=due, trace=trace))
                elif today >= yellow_from:
                    cards.append(WantedCard(STEP_BUDGET, Severity.YELLOW, "step", s.step_id, s.kind, s.holder,
                                            s.holder_name, due=due, trace=trace))
                    nexts.append(due + dt.timedelta(days=1))
                else:
                    nexts.append(yellow_from)
        rule = rules[SUSPENSION_WATCH]
        limit = max(case.promised_limit, 1)
        if case.suspensions > rule.t("max_suspensions") or case.paused_days > rule.t("max_paused_share") * limit:
            cards.append(WantedCard(SUSPENSION_WATCH, Severity.YELLOW, "case", case.case_number,
                                    holder.kind if holder else "unit", holder.holder if holder else "",
                                    holder.holder_name if holder else "",
                                    trace=f"暂停计时 {case.suspensions} 次，累计 {case.paused_days} 个工作日"
                                          f"（承诺时限 {case.promised_limit} 个工作日）"))
    future = [d for d in nexts if d > today]
    return Evaluation(tuple(cards), min(future) if future else None)


def evaluate_watch(due_on: dt.date, done: bool, today: dt.date) -> tuple[Severity | None, dt.date | None]:
    """A complaint's or a rectification's deadline: red once passed unmet; the next day to look again."""
    if done:
        return None, None
    if today > due_on:
        return Severity.RED, None
    return None, due_on + dt.timedelta(days=1)


def card_text(rule: Rule, card: WantedCard, case: CaseFacts) -> str:
    """What a card says, for people."""
    who = POST_LABEL.get(card.post, card.post)
    holder = f"{who} {card.post_holder_name or card.post_holder}" if card.post_holder else (who or "")
    what = f"办件 {case.case_number}" if case.case_number else f"申请 {case.application_id}"
    due = f"，期限 {card.due.isoformat()}" if card.due else ""
    colour = "红牌" if card.severity == Severity.RED else "黄牌"
    return f"【{colour}】{rule.title}：{what}（{case.item_name}）{('，' + holder) if holder else ''}{due}。{rule.text}"


# ---------------------------------------------------------------------------------------------
# Orders (督办函) and accountability (责任追究)
# ---------------------------------------------------------------------------------------------

# 3 working days to reply: the issue's default ("说明原因并进行整改"); a province may configure another.
DEFAULT_REPLY_DAYS = 3
MAX_REPLY_DAYS = 30


def order_reply_due(cal: WorkingCalendar, issued_on: dt.date, days: int) -> dt.date:
    if days < 1 or days > MAX_REPLY_DAYS:
        raise InvalidArgument("reply_days", f"回复期限应为 1 至 {MAX_REPLY_DAYS} 个工作日")
    due = cal.add_working_days(issued_on, days).due
    if due is None:
        raise FailedPrecondition("回复期限落入未发布工作日历的年度，无法计算")
    return due


def escalation_target(unit: str) -> str:
    """The level above a unit (township → county, county → city, village → township)."""
    return {12: unit[:9], 9: unit[:6], 6: unit[:4], 4: unit[:2]}.get(len(unit), unit)


class Grade(enum.StrEnum):
    MINOR = "minor"        # 情节较轻
    MAJOR = "major"        # 情节较重
    SEVERE = "severe"      # 情节严重


# seed 000 §25: 较轻 → 书面检查或通报批评，限期整改；较重 → 取消年终评先评优资格或调离审批岗位；严重 → 交由纪检监察机关
MEASURES: dict[Grade, dict[str, str]] = {
    Grade.MINOR: {"written_self_criticism": "责令作出书面检查", "circulated_criticism": "通报批评"},
    Grade.MAJOR: {"no_awards": "取消年终评先、评优资格", "reassignment": "责令调离审批岗位"},
    Grade.SEVERE: {"referred_to_discipline": "移交纪检监察机关"},
}
GRADE_LABEL = {Grade.MINOR: "情节较轻", Grade.MAJOR: "情节较重", Grade.SEVERE: "情节严重"}


def check_accountability(grade: str, measure: str, rectify_by: dt.date | None, today: dt.date) -> Grade:
    try:
        g = Grade(grade)
    except ValueError:
        raise InvalidArgument("grade", "情节等级应为 minor（较轻）、major（较重）或 severe（严重）") from None
    if measure not in MEASURES[g]:
        allowed = "、".join(f"{k}（{v}）" for k, v in MEASURES[g].items())
        raise InvalidArgument("measure", f"{GRADE_LABEL[g]}的处理方式应为：{allowed}")
    if g == Grade.MINOR and rectify_by is None:
        raise InvalidArgument("rectify_by", "情节较轻的须限期整改：请填写整改期限")
    if rectify_by is not None and rectify_by < today:
        raise InvalidArgument("rectify_by", "整改期限不能早于今天")
    return g


def parse_month(value: str, today: dt.date) -> str:
    value = (value or "").strip()
    if not value:
        return f"{today.year:04d}-{today.month:02d}"
    try:
        dt.date.fromisoformat(value + "-01")
    except ValueError:
        raise InvalidArgument("month", f"月份格式应为 YYYY-MM：{value!r}") from None
    return value


STATS_GROUPS = ("unit", "department", "item", "staff", "month")


def check_group(by: str) -> str:
    by = (by or "unit").strip()
    if by not in STATS_GROUPS:
        raise InvalidArgument("by", f"统计维度应为 {'、'.join(STATS_GROUPS)} 之一")
    return by


# ---------------------------------------------------------------------------------------------
# What an event says, as the read model takes it
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Deadline:
    """A deadline as an event reports it (approval's computation: budget, due date, provisional years, trace)."""

    due: dt.date | None
    working_days: int = 0
    provisional_years: tuple[int, ...] = ()
    trace: str = ""


@dataclass(frozen=True)
class Fact:
    """One event, as the read model takes it: its kind (`<source>.<event_type>`), the case it concerns (by
    application id or case number) and the values it carries."""

    kind: str
    application_id: str = ""
    case_number: str = ""
    at: dt.datetime | None = None
    values: Mapping[str, object] = field(default_factory=dict)
    promised: Deadline | None = None
    statutory: Deadline | None = None


def rating_figures(r: Mapping[str, Any] | None) -> dict[str, Any]:
    """好差评: satisfaction = (非常满意 + 满意) / ratings; 差评 rectification rate = rectified / 差评."""
    if not r:
        return {}
    n, bad = int(r["ratings"]), int(r["bad"])
    return {"ratings": n, "satisfied": int(r["satisfied"]), "bad_ratings": bad,
            "rectified": int(r["rectified"]), "satisfaction": int(r["satisfied"]) / n if n else 0.0,
            "rectification_rate": int(r["rectified"]) / bad if bad else 0.0}


def calendar_publisher(cal: WorkingCalendar) -> str:
    """Who publishes the working-day calendar the tenant counts on: the publisher of its latest year published by a
    person (not the national years the chinese-calendar package seeds); '' when none has been."""
    for year in sorted(cal.years, reverse=True):
        cy = cal.year(year)
        by = (cy.published_by or "") if cy else ""
        if by and not by.startswith(PACKAGE_SOURCE_PREFIX):
            return by
    return ""
