"""Translation between supervision's proto messages and its rows and commands: the events it watches (message →
`Fact`), the responses of its gRPC API, and the events it records (`EventsOut`). One table per status enum."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sanji.supervision.v1 import events_pb2 as ev
from sanji.supervision.v1 import supervision_pb2 as pb

from services.supervision.domain import POST_LABEL, RULE_TITLES, CardStatus, Deadline, Fact, OrderStatus, RuleSet
from services.supervision.repository import CardRow, OrderRow
from shared.calendar import CalendarYear
from shared.clock import CHINA_TZ
from shared.errors import InvalidArgument
from shared.hashchain import Verdict
from shared.messaging import PoisonMessage

# -- statuses: domain StrEnum ↔ proto enum (the REST token of each value is the domain's word) -------------------
CARD_STATUS = {CardStatus.OPEN: pb.CARD_STATUS_OPEN, CardStatus.CLOSED: pb.CARD_STATUS_CLOSED}
ORDER_STATUS = {OrderStatus.ISSUED: pb.ORDER_STATUS_ISSUED, OrderStatus.ANSWERED: pb.ORDER_STATUS_ANSWERED,
                OrderStatus.ESCALATED: pb.ORDER_STATUS_ESCALATED}
CARD_STATUS_FROM_PB = {v: k for k, v in CARD_STATUS.items()}
ORDER_STATUS_FROM_PB = {v: k for k, v in ORDER_STATUS.items()}


def card_status_filter(value: int) -> str:
    if value == pb.CARD_STATUS_UNSPECIFIED:
        return ""
    if value not in CARD_STATUS_FROM_PB:
        raise InvalidArgument("status", f"不认识的状态：{value}")
    return str(CARD_STATUS_FROM_PB[value])


def order_status_filter(value: int) -> str:
    if value == pb.ORDER_STATUS_UNSPECIFIED:
        return ""
    if value not in ORDER_STATUS_FROM_PB:
        raise InvalidArgument("status", f"不认识的状态：{value}")
    return str(ORDER_STATUS_FROM_PB[value])


def _iso(v: Any) -> str:
    return v.isoformat() if v else ""


# -- events in ---------------------------------------------------------------------------------------------------
def instant(value: str, name: str = "at") -> dt.datetime | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise PoisonMessage(f"{name!r} is not an ISO 8601 time: {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=CHINA_TZ)


_REASON = {"weekend": "周末", "unpublished_year": "未发布日历年度"}


def deadline_in(d: Any) -> Deadline | None:
    """A common.v1.Deadline as the read model keeps it (the due date and the trace people read)."""
    if d is None or not d.due and not d.start:
        return None
    try:
        due = dt.date.fromisoformat(d.due) if d.due else None
    except ValueError:
        raise PoisonMessage(f"deadline due is not a date: {d.due!r}") from None
    skipped = []
    for day in d.trace:
        if not day.counted:
            r = day.reason
            label = (_REASON.get(r) or (f"法定节假日（{r.split(':', 1)[1]}）" if r.startswith("holiday:") else
                     f"暂停计时（{r.split(':', 1)[1]}）" if r.startswith("paused:") else r))
            skipped.append(f"{day.date} {label}")
    made_up = [f"{day.date} 调休上班" for day in d.trace if day.counted and day.reason.startswith("makeup_workday")]
    trace = (f"起算日 {d.start}（当日不计），期限 {d.working_days} 个工作日，至 {d.due or '未定'}"
             + ("（暂定：" + "、".join(d.unpublished_years) + " 年日历未发布）" if d.provisional else "")
             + (f"；不计：{'，'.join(skipped)}" if skipped else "")
             + (f"；计入：{'，'.join(made_up)}" if made_up else ""))
    years = tuple(int(y) for y in d.unpublished_years if str(y).isdigit())
    return Deadline(due=due, working_days=d.working_days, provisional_years=years if d.provisional else (), trace=trace)


def fact_of(source: str, event_type: str, m: Any) -> Fact:
    """An event of a watched service as the read model takes it."""
    kind = f"{source}.{event_type}"
    g = lambda name, default="": getattr(m, name, default)  # noqa: E731
    at_field = next((n for n in ("at", "accepted_at", "received_at", "requested_at", "supplied_at", "rejected_at",
                                 "picked_up_at", "opened_at") if n in m.DESCRIPTOR.fields_by_name and g(n)), "")
    values: dict[str, Any] = {}
    promised = statutory = None
    if event_type == "application_submitted":
        values = {"channel": m.channel, "proxy_tenant": m.proxy_tenant, "item_id": m.item_id,
                  "received_by": g("received_by")}
    elif event_type == "application_accepted":
        values = {"accepted_by": m.accepted_by, "deemed": m.deemed, "immediate": m.immediate, "item_id": m.item_id,
                  "item_name": m.item_name, "department": m.department, "promised_limit": m.promised_limit_days,
                  "statutory_limit": m.statutory_limit_days or (45 if m.joint else 20),
                  "proxy_tenant": m.proxy_tenant, "waived": len(m.waived_materials),
                  "received_at": instant(m.received_at, "received_at")}
    elif event_type == "result_picked_up":
        values = {"channel": m.channel}
    elif event_type == "case_opened":
        values = {"case_id": m.case_id, "immediate": m.immediate, "item_name": m.item_name}
        promised, statutory = deadline_in(m.promised), deadline_in(m.statutory)
    elif event_type in ("clock_resumed", "due_date_reprojected"):
        values = {"paused_working_days": g("paused_working_days", 0)}
        promised, statutory = deadline_in(m.promised), deadline_in(m.statutory)
    elif event_type == "deadline_extended":
        statutory = deadline_in(m.statutory)
    elif event_type == "review_completed":
        values = {"reviewer": m.reviewer}
    elif event_type == "case_decided":
        values = {"decider": m.decider, "outcome": m.outcome, "late": m.late}
    elif event_type == "case_delivered":
        values = {"method": m.method}
    elif event_type in ("step_claimed", "step_released"):
        values = {"step_id": m.step_id, "step_kind": g("kind"), "desk": g("desk"), "holder": g("holder"),
                  "holder_name": g("holder_name")}
    elif event_type == "fees_settled":
        values = {"paid_fen": m.paid_fen}
    elif event_type == "refund_made":
        values = {"amount_fen": m.amount_fen}
    elif source == "complaints":
        values = {name: g(name) for name in ("complaint_id", "number", "handler", "progress_due", "result_due",
                                             "subject_department", "rectification_id", "staff", "due_on",
                                             "case_number", "rating_id", "level", "channel", "item_id",
                                             "department", "upheld") if name in m.DESCRIPTOR.fields_by_name}
    application_id = g("application_id") if source in ("intake", "approval") else ""
    case_number = g("case_number") if source not in ("agency", "complaints") else ""
    return Fact(kind=kind, application_id=application_id, case_number=case_number,
                at=instant(g(at_field), at_field) if at_field else None, values=values, promised=promised,
                statutory=statutory)


def calendar_year_in(m: Any) -> tuple[str, CalendarYear]:
    """approval's calendar_year_published as the calendar's own value (a year it cannot be is parked)."""
    try:
        return m.region, CalendarYear(year=m.year, holidays=dict(m.holidays), makeup_workdays=dict(m.makeup_workdays),
                                      published_by=m.published_by, published_at=instant(m.published_at, "published_at"))
    except InvalidArgument as exc:
        raise PoisonMessage(f"calendar_year_published unusable: {exc}") from None


# -- responses ---------------------------------------------------------------------------------------------------
def card_to_pb(c: CardRow, rules: RuleSet | None = None) -> pb.Card:
    rule = rules.rules.get(c.rule_id) if rules else None
    return pb.Card(
        id=c.id, tenant=c.tenant, rule_id=c.rule_id, rule_title=RULE_TITLES.get(c.rule_id, c.rule_id),
        basis=rule.basis if rule else "", severity=c.severity, status=CARD_STATUS[CardStatus(c.status)],
        subject_kind=c.subject_kind, subject_ref=c.subject_ref, case_number=c.case_number,
        application_id=c.application_id, item_name=c.item_name, department=c.department, post_holder=c.post_holder,
        post_holder_name=c.post_holder_name, post=POST_LABEL.get(c.post, c.post), due=_iso(c.due), trace=c.trace,
        text=c.text, raised_on=_iso(c.raised_on), raised_at=_iso(c.raised_at), closed_at=_iso(c.closed_at),
        closed_reason=c.closed_reason, cases=list(c.cases))


def order_to_pb(o: OrderRow) -> pb.SupervisionOrder:
    return pb.SupervisionOrder(
        id=o.id, number=o.number, tenant=o.tenant, unit=o.unit, card_id=o.card_id, rule_id=o.rule_id,
        case_number=o.case_number, issued_by=o.issued_by, issued_by_name=o.issued_by_name, issued_at=_iso(o.issued_at),
        reply_due=_iso(o.reply_due), request=o.request,
        status=ORDER_STATUS[OrderStatus(o.status if not (o.answered_at and o.status == "issued") else "answered")],
        reason=o.reason or "", rectification=o.rectification or "", answered_by=o.answered_by or "",
        answered_at=_iso(o.answered_at), escalated_to=o.escalated_to, escalated_at=_iso(o.escalated_at),
        post_holder=o.post_holder, severity=o.severity)


def rules_to_pb(rules: RuleSet) -> pb.ListRulesResponse:
    return pb.ListRulesResponse(province=rules.province, rules=[
        pb.Rule(id=r.id, title=r.title, basis=r.basis, severity=str(r.severity), text=r.text,
                thresholds={k: float(v) for k, v in r.thresholds.items()}, subject_kind=r.subject_kind)
        for r in rules])


def accountability_to_pb(r: dict[str, Any]) -> pb.AccountabilityRecord:
    return pb.AccountabilityRecord(
        id=str(r["id"]), tenant=r["tenant_code"], person=r["person"], person_name=r["person_name"],
        person_unit=r["person_unit"], grade=r["grade"], measure=r["measure"], rule_id=r["rule_id"],
        card_ids=list(r["card_ids"] or []), order_id=r["order_id"], rectify_by=_iso(r["rectify_by"]), note=r["note"],
        recorded_by=r["recorded_by"], recorded_at=_iso(r["recorded_at"]))


def accountability_in(r: pb.RecordAccountabilityRequest) -> dict[str, Any]:
    return {"person": r.person, "person_name": r.person_name, "person_unit": r.person_unit, "grade": r.grade,
            "measure": r.measure, "rule_id": r.rule_id, "card_ids": list(r.card_ids), "order_id": r.order_id,
            "rectify_by": r.rectify_by, "note": r.note}


def stats_row_to_pb(r: dict[str, Any]) -> pb.StatsRow:
    return pb.StatsRow(**{k: v for k, v in r.items() if k != "cards"}, cards_by_rule=r.get("cards", {}))


def verdict_to_pb(unit: str, v: Verdict) -> pb.ChainVerdict:
    f = v.finding
    return pb.ChainVerdict(unit=unit, ok=v.ok, records=v.records_checked, heads=v.heads_checked, last_seq=v.last_seq,
                           last_hash=v.last_hash, finding=f.kind if f else "", finding_seq=f.seq if f else 0,
                           finding_ref=f.ref if f else "", text=f.text if f else "留痕链完整：未发现篡改、删除或插入")


# -- events out --------------------------------------------------------------------------------------------------
class EventsOut:
    def card_raised(self, c: CardRow, now: dt.datetime) -> ev.CardRaised:
        return ev.CardRaised(card_id=c.id, tenant=c.tenant, rule_id=c.rule_id, severity=c.severity,
                             case_number=c.case_number, post_holder=c.post_holder, due=_iso(c.due), at=now.isoformat(),
                             subject_kind=c.subject_kind, subject_ref=c.subject_ref)

    def card_cleared(self, c: CardRow, reason: str, now: dt.datetime) -> ev.CardCleared:
        return ev.CardCleared(card_id=c.id, tenant=c.tenant, rule_id=c.rule_id, case_number=c.case_number,
                              reason=reason, at=now.isoformat())

    def order_issued(self, o: OrderRow, now: dt.datetime) -> ev.SupervisionOrderIssued:
        return ev.SupervisionOrderIssued(order_id=o.id, number=o.number, tenant=o.tenant, unit=o.unit,
                                         card_id=o.card_id, case_number=o.case_number, reply_due=_iso(o.reply_due),
                                         at=now.isoformat())

    def order_answered(self, o: OrderRow, now: dt.datetime) -> ev.SupervisionOrderAnswered:
        return ev.SupervisionOrderAnswered(order_id=o.id, number=o.number, tenant=o.tenant, unit=o.unit,
                                           at=now.isoformat())

    def order_escalated(self, o: OrderRow, target: str, now: dt.datetime) -> ev.SupervisionOrderEscalated:
        return ev.SupervisionOrderEscalated(order_id=o.id, number=o.number, tenant=o.tenant, unit=o.unit,
                                            escalated_to=target, at=now.isoformat())
