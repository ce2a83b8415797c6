"""Who sees what (township vs county vs sibling, each wall on its own: the token, the service's check, RLS), the
督办函 from a red card to the unit's answer and its escalation, accountability, statistics and the public pages."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import grpc
from pypdf import PdfReader
from sanji.supervision.v1 import supervision_pb2 as pb

from services.supervision.repository import SupervisionRepository
from services.supervision.tests.conftest import COUNTY, OTHER_COUNTY, SIBLING, TOWNSHIP, err, field_of

D = dt.date
PD, IA, FP, UA = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT,
                  grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAUTHENTICATED)


def red_card(events, handlers, tenant: str) -> tuple[str, str]:
    """A case of `tenant` past its promised date: its red card's id and the case number."""
    app, number = events.new_case(tenant)
    events.accepted(tenant, app, number, D(2026, 9, 29))
    events.opened(tenant, app, number, D(2026, 9, 29), D(2026, 10, 10), D(2026, 11, 2))
    handlers.sweep(D(2026, 10, 12))
    with handlers.db.unit_of_work(tenant=tenant) as uow:
        cards, _ = SupervisionRepository(uow).list_cards(unit=tenant, status="open", severity="red", rule_id="",
                                                         case_number=number, post_holder="", limit=5, offset=0)
    return cards[0].id, number


def numbers(as_, user, **kw):
    return {c.case_number for c in as_(user).ListCards(pb.ListCardsRequest(limit=200, **kw)).cards}


def test_township_county_and_sibling_each_see_what_they_should(events, handlers, as_):
    _, own = red_card(events, handlers, TOWNSHIP)
    _, sibling = red_card(events, handlers, SIBLING)
    _, county = red_card(events, handlers, COUNTY)
    _, other = red_card(events, handlers, OTHER_COUNTY)
    seen = numbers(as_, "county.supervisor")
    assert {own, sibling, county} <= seen and other not in seen
    seen = numbers(as_, "dongdajie.supervisor")
    assert own in seen and not seen & {sibling, county, other}
    assert numbers(as_, "wenchuan.supervisor") >= {other} and not numbers(as_, "wenchuan.supervisor") & {own, county}


def test_the_token_wall(as_):
    e = err(as_(None).ListCards, pb.ListCardsRequest())
    assert e.code() == UA


def test_the_service_wall_refuses_a_unit_outside_the_subtree_and_non_supervisors(events, handlers, as_):
    e = err(as_("dongdajie.supervisor").ListCards, pb.ListCardsRequest(unit=SIBLING))
    assert e.code() == PD
    e = err(as_("dongdajie.supervisor").ListCards, pb.ListCardsRequest(unit=COUNTY))
    assert e.code() == PD
    e = err(as_("county.reviewer").ListCards, pb.ListCardsRequest())
    assert e.code() == PD
    e = err(as_("county.supervisor").ListCards, pb.ListCardsRequest(unit="62060x"))
    assert e.code() == IA and field_of(e) == "unit"
    card, _ = red_card(events, handlers, SIBLING)
    e = err(as_("dongdajie.supervisor").GetCard, pb.GetCardRequest(card_id=card))
    assert e.code() == grpc.StatusCode.NOT_FOUND           # the sibling's card does not exist for it
    e = err(as_("county.supervisor").GetCard, pb.GetCardRequest(card_id="not-a-uuid"))
    assert e.code() == IA and field_of(e) == "card_id"


def test_the_database_wall_holds_without_the_service_check(events, handlers, supervision_db):
    red_card(events, handlers, SIBLING)
    # bound to the township with supervision rights (subtree): a query with no filter at all
    with supervision_db.unit_of_work(tenant=TOWNSHIP, subtree=True) as uow:
        tenants = {r[0] for r in uow.rows("SELECT DISTINCT tenant_code FROM supervision.cards")}
    assert tenants <= {TOWNSHIP} or all(t.startswith(TOWNSHIP) for t in tenants)
    with supervision_db.unit_of_work(tenant=OTHER_COUNTY, subtree=True) as uow:
        assert uow.value("SELECT count(*) FROM supervision.cards WHERE tenant_code LIKE '620602%'") == 0
    with supervision_db.unit_of_work() as uow:              # public, no scope opened
        assert uow.value("SELECT count(*) FROM supervision.cases") == 0


def test_an_order_from_a_red_card_answered_by_the_unit_and_its_pdf(events, handlers, as_, clock):
    card, number = red_card(events, handlers, TOWNSHIP)
    clock.set_today(D(2026, 10, 12))
    order = as_("county.supervisor").IssueOrder(pb.IssueOrderRequest(card_id=card, request="限期办结并说明超期原因"))
    assert order.status == pb.ORDER_STATUS_ISSUED and order.unit == TOWNSHIP and order.tenant == COUNTY
    assert order.reply_due == "2026-10-15" and order.case_number == number and order.number.startswith("督办〔2026〕")
    again = as_("county.supervisor").IssueOrder(pb.IssueOrderRequest(card_id=card, request="限期办结并说明超期原因"))
    assert again.id == order.id                              # one order per card (its idempotency key)
    # the sibling township sees nothing of it; the township's admin answers it
    e = err(as_("xidajie.admin").AnswerOrder, pb.AnswerOrderRequest(order_id=order.id, reason="x", rectification="y"))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    e = err(as_("dongdajie.admin").AnswerOrder, pb.AnswerOrderRequest(order_id=order.id, reason="", rectification="y"))
    assert e.code() == IA and field_of(e) == "reason"
    answered = as_("dongdajie.admin").AnswerOrder(pb.AnswerOrderRequest(
        order_id=order.id, reason="审查人员休假未交接", rectification="建立AB岗，当日办结"))
    assert answered.status == pb.ORDER_STATUS_ANSWERED and answered.answered_by == "dongdajie.admin"
    doc = as_("county.supervisor").GetOrderDocument(pb.GetOrderRequest(order_id=order.id))
    text_ = "".join(p.extract_text() for p in PdfReader(io.BytesIO(doc.content)).pages)
    assert doc.content[:4] == b"%PDF" and "督办函" in text_ and number in text_ and "建立AB岗" in text_
    listed = as_("dongdajie.admin").ListOrders(pb.ListOrdersRequest())
    assert order.id in {o.id for o in listed.orders}
    assert order.id not in {o.id for o in as_("xidajie.admin").ListOrders(pb.ListOrdersRequest()).orders}


def test_an_order_not_answered_in_time_escalates_one_level_up(events, handlers, as_, clock):
    card, _ = red_card(events, handlers, TOWNSHIP)
    clock.set_today(D(2026, 10, 12))
    order = as_("dongdajie.supervisor").IssueOrder(pb.IssueOrderRequest(card_id=card,
                                                                        idempotency_key=str(uuid.uuid4())))
    handlers.sweep(D(2026, 10, 15))
    assert as_("dongdajie.supervisor").GetOrder(pb.GetOrderRequest(order_id=order.id)).status == pb.ORDER_STATUS_ISSUED
    handlers.sweep(D(2026, 10, 16))
    late = as_("dongdajie.supervisor").GetOrder(pb.GetOrderRequest(order_id=order.id))
    assert late.status == pb.ORDER_STATUS_ESCALATED and late.escalated_to == COUNTY


def test_only_a_red_open_card_takes_an_order(events, handlers, as_):
    app, number = events.new_case(COUNTY)
    events.accepted(COUNTY, app, number, D(2026, 9, 29))
    events.opened(COUNTY, app, number, D(2026, 9, 29), D(2026, 10, 10), D(2026, 11, 2))
    handlers.sweep(D(2026, 10, 9))
    [yellow] = as_("county.supervisor").ListCards(pb.ListCardsRequest(case_number=number)).cards
    e = err(as_("county.supervisor").IssueOrder, pb.IssueOrderRequest(card_id=yellow.id))
    assert e.code() == FP and field_of(e) == "card_id"
    e = err(as_("county.supervisor").IssueOrder, pb.IssueOrderRequest(card_id=yellow.id, reply_days=31))
    assert e.code() in (FP, IA)


def test_accountability_is_recorded_downwards_and_read_by_the_person_level_and_above(events, handlers, as_):
    card, _ = red_card(events, handlers, TOWNSHIP)
    rec = as_("county.supervisor").RecordAccountability(pb.RecordAccountabilityRequest(
        person="dongdajie.reviewer", person_name="陈街审", person_unit=TOWNSHIP, grade="minor",
        measure="written_self_criticism", card_ids=[card], rectify_by="2026-12-31"))
    assert rec.rule_id == "case-promised-deadline" and rec.tenant == COUNTY
    assert rec.id in {r.id for r in as_("dongdajie.supervisor").ListAccountability(
        pb.ListAccountabilityRequest()).records}
    assert rec.id not in {r.id for r in as_("xidajie.supervisor").ListAccountability(
        pb.ListAccountabilityRequest()).records}
    e = err(as_("dongdajie.supervisor").RecordAccountability, pb.RecordAccountabilityRequest(
        person="county.reviewer", person_unit=COUNTY, grade="major", measure="reassignment", card_ids=[card]))
    assert e.code() == PD                                    # never upwards
    e = err(as_("county.supervisor").RecordAccountability, pb.RecordAccountabilityRequest(
        person="dongdajie.reviewer", person_unit=TOWNSHIP, grade="major", measure="circulated_criticism",
        card_ids=[card]))
    assert e.code() == IA and field_of(e) == "measure"


def test_statistics_exports_and_the_public_scorecard_and_ranking(events, handlers, as_, stub, clock):
    app, number = events.new_case(COUNTY)
    events.accepted(COUNTY, app, number, D(2026, 9, 29))
    events.opened(COUNTY, app, number, D(2026, 9, 29), D(2026, 10, 10), D(2026, 11, 2))
    events.decided(COUNTY, number, D(2026, 9, 30))
    stats = as_("county.supervisor").GetStats(pb.GetStatsRequest(by="unit", month="2026-09"))
    [mine] = [r for r in stats.rows if r.key == COUNTY]
    assert mine.accepted >= 1 and mine.decided >= 1 and 0 < mine.on_time_promised <= 1
    by_dept = as_("county.supervisor").GetStats(pb.GetStatsRequest(by="department", month="2026-09"))
    assert "凉州区住房和城乡建设局" in {r.key for r in by_dept.rows}
    e = err(as_("county.supervisor").GetStats, pb.GetStatsRequest(by="weather"))
    assert e.code() == IA and field_of(e) == "by"
    csv_ = as_("county.supervisor").ExportStats(pb.ExportStatsRequest(by="unit", month="2026-09", format="csv"))
    assert csv_.content.decode("utf-8-sig").splitlines()[0].startswith("分组,名称,受理件数")
    pdf = as_("county.supervisor").ExportStats(pb.ExportStatsRequest(by="unit", month="2026-09", format="pdf"))
    assert pdf.content[:4] == b"%PDF"
    card = as_(None).GetScorecard(pb.GetScorecardRequest(unit=COUNTY, month="2026-09"))   # no token: public
    assert card.totals.accepted >= 1 and card.unit == COUNTY
    assert "county.decider" not in str(card) and "张审查" not in str(card)                 # no personal data
    ranking = as_(None).GetRanking(pb.GetRankingRequest(region="62", month="2026-09"))
    assert COUNTY in {c.key for c in ranking.counties} and "约谈" in ranking.basis
    e = err(as_(None).GetRanking, pb.GetRankingRequest(region="6", month="2026-09"))
    assert e.code() == IA and field_of(e) == "region"
