"""Complaints and ratings (when the complaints service is present): progress not reported in time, the result not
given in time, a 差评 not rectified in time — each a red card on the handling unit, closed when met late."""

from __future__ import annotations

import datetime as dt
import uuid

from sanji.complaints.v1 import events_pb2 as complaints_ev
from sanji.supervision.v1 import supervision_pb2 as pb

from services.supervision.tests.conftest import TOWNSHIP

D = dt.date


def cards_of(as_, rule):
    return [c for c in as_("county.supervisor").ListCards(pb.ListCardsRequest(rule_id=rule, limit=200)).cards]


def test_complaint_deadlines_and_the_rectification_of_a_bad_rating(events, handlers, as_, clock):
    cid, number = str(uuid.uuid4()), f"TS{uuid.uuid4().hex[:10]}"
    events.send("complaints", complaints_ev.ComplaintReceived(
        complaint_id=cid, number=number, tenant=TOWNSHIP, received_at="2026-09-29T09:00:00+08:00",
        progress_due="2026-10-09", result_due="2026-10-13", handler="dongdajie.complaints"), TOWNSHIP)
    handlers.sweep(D(2026, 10, 9))
    assert [c for c in cards_of(as_, "complaint-progress") if c.case_number == number] == []
    handlers.sweep(D(2026, 10, 10))
    [late] = [c for c in cards_of(as_, "complaint-progress") if c.case_number == number]
    assert (late.severity, late.post_holder, late.tenant, late.due) == ("red", "dongdajie.complaints", TOWNSHIP,
                                                                         "2026-10-09")
    clock.set_today(D(2026, 10, 12))
    events.send("complaints", complaints_ev.ComplaintProgressReported(
        complaint_id=cid, number=number, tenant=TOWNSHIP, at="2026-10-12T10:00:00+08:00", late=True), TOWNSHIP)
    [late] = [c for c in cards_of(as_, "complaint-progress") if c.case_number == number]
    assert late.status == pb.CARD_STATUS_CLOSED
    # the one extension moves the result's due date: no card on the old one
    events.send("complaints", complaints_ev.ComplaintExtended(
        complaint_id=cid, number=number, tenant=TOWNSHIP, result_due="2026-10-20", days=5,
        at="2026-10-12T11:00:00+08:00"), TOWNSHIP)
    handlers.sweep(D(2026, 10, 14))
    assert [c for c in cards_of(as_, "complaint-result") if c.case_number == number] == []
    handlers.sweep(D(2026, 10, 21))
    [result] = [c for c in cards_of(as_, "complaint-result") if c.case_number == number]
    assert result.status == pb.CARD_STATUS_OPEN
    events.send("complaints", complaints_ev.ComplaintReplied(
        complaint_id=cid, number=number, tenant=TOWNSHIP, outcome="solved", at="2026-10-21T10:00:00+08:00"),
        TOWNSHIP)
    [result] = [c for c in cards_of(as_, "complaint-result") if c.case_number == number]
    assert result.status == pb.CARD_STATUS_CLOSED

    rid, case_number, rating = str(uuid.uuid4()), f"CASE{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    events.send("complaints", complaints_ev.RatingSubmitted(
        rating_id=rating, tenant=TOWNSHIP, channel="window", level=4, bad=True, case_number=case_number,
        staff="dongdajie.clerk", at="2026-10-09T09:30:00+08:00"), TOWNSHIP)
    events.send("complaints", complaints_ev.RectificationDue(
        rectification_id=rid, rating_id=rating, tenant=TOWNSHIP, staff="dongdajie.clerk",
        due_on="2026-10-30", case_number=case_number, at="2026-10-09T10:00:00+08:00"), TOWNSHIP)
    handlers.sweep(D(2026, 11, 2))
    [rect] = [c for c in cards_of(as_, "rating-rectification") if c.case_number == case_number]
    assert (rect.severity, rect.post_holder, rect.status) == ("red", "dongdajie.clerk", pb.CARD_STATUS_OPEN)
    events.send("complaints", complaints_ev.RectificationDone(
        rectification_id=rid, rating_id=rating, tenant=TOWNSHIP, at="2026-11-02T10:00:00+08:00", late=True),
        TOWNSHIP)
    [rect] = [c for c in cards_of(as_, "rating-rectification") if c.case_number == case_number]
    assert rect.status == pb.CARD_STATUS_CLOSED
    # the township's figures of October count the complaint (answered a day after its extended limit: not on time)
    # and the 差评 given that month, rectified (late)
    stats = as_("county.supervisor").GetStats(pb.GetStatsRequest(by="unit", month="2026-10", unit=TOWNSHIP))
    [row] = [r for r in stats.rows if r.key == TOWNSHIP]
    assert (row.complaints, row.complaints_on_time, row.rectification_rate) == (1, 0.0, 1.0)
