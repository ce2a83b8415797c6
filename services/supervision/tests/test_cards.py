"""Cards from events and from time: real PostgreSQL, supervision's own handlers fed through its subscription table,
the sweep driven by the `next_check_on` index on a pinned clock (National Day 2026 and its make-up Saturday)."""

from __future__ import annotations

import datetime as dt
import uuid

from sanji.supervision.v1 import supervision_pb2 as pb

from services.supervision.tests.conftest import COUNTY, TOWNSHIP

D = dt.date


def cards(as_, **kw):
    return as_("county.supervisor").ListCards(pb.ListCardsRequest(limit=200, **kw)).cards


def of_case(as_, number, status=pb.CARD_STATUS_UNSPECIFIED):
    return sorted((c.rule_id, c.severity, c.post_holder, c.status) for c in cards(as_, case_number=number,
                                                                                   status=status))


def test_a_case_held_by_its_reviewer_turns_yellow_then_red_on_him_and_closes_when_decided(events, handlers, clock,
                                                                                             as_):
    app, number = events.new_case()
    events.submitted(COUNTY, app, D(2026, 9, 29), clerk="county.clerk")
    events.accepted(COUNTY, app, number, D(2026, 9, 29))
    events.opened(COUNTY, app, number, D(2026, 9, 29), D(2026, 10, 10), D(2026, 11, 2))
    step = str(uuid.uuid4())
    events.claimed(COUNTY, app, number, step, D(2026, 9, 30))
    assert of_case(as_, number) == []
    handlers.sweep(D(2026, 10, 8))
    assert of_case(as_, number) == []
    handlers.sweep(D(2026, 10, 9))                          # the step's last day, and one day before the due date
    assert of_case(as_, number) == [("case-promised-deadline", "yellow", "county.reviewer", pb.CARD_STATUS_OPEN),
                                    ("step-budget", "yellow", "county.reviewer", pb.CARD_STATUS_OPEN)]
    [step_card] = [c for c in cards(as_, case_number=number) if c.rule_id == "step-budget"]
    assert step_card.post == "审核人" and step_card.due == "2026-10-09" and "2026-09-30 认领" in step_card.trace
    assert "起算日 2026-09-29" in [c for c in cards(as_, case_number=number)
                                  if c.rule_id == "case-promised-deadline"][0].trace
    handlers.sweep(D(2026, 10, 9))                          # again: nothing new
    assert len(of_case(as_, number)) == 2
    handlers.sweep(D(2026, 10, 10))                         # the make-up Saturday: the step is past its budget
    opened = of_case(as_, number, pb.CARD_STATUS_OPEN)
    assert opened == [("case-promised-deadline", "yellow", "county.reviewer", pb.CARD_STATUS_OPEN),
                      ("step-budget", "red", "county.reviewer", pb.CARD_STATUS_OPEN)]
    closed = [c for c in cards(as_, case_number=number, status=pb.CARD_STATUS_CLOSED)]
    assert [(c.rule_id, c.severity, c.closed_reason) for c in closed] == [("step-budget", "yellow", "升级为红牌")]
    handlers.sweep(D(2026, 10, 11))
    assert ("case-promised-deadline", "red", "county.reviewer", pb.CARD_STATUS_OPEN) in of_case(as_, number)
    clock.set_today(D(2026, 10, 12))
    events.reviewed(COUNTY, number, D(2026, 10, 12))
    assert [c.rule_id for c in cards(as_, case_number=number, status=pb.CARD_STATUS_OPEN)] == [
        "case-promised-deadline"]
    events.decided(COUNTY, number, D(2026, 10, 12))
    assert cards(as_, case_number=number, status=pb.CARD_STATUS_OPEN) == []
    reasons = {c.closed_reason for c in cards(as_, case_number=number, status=pb.CARD_STATUS_CLOSED)}
    assert reasons == {"升级为红牌", "环节已完成或已交回", "办件已办结"}
    assert len(cards(as_, case_number=number)) == 4          # every card stays in the record


def test_promised_and_statutory_breaches_are_told_apart(events, handlers, as_):
    app, number = events.new_case()
    events.accepted(COUNTY, app, number, D(2026, 9, 29))
    events.opened(COUNTY, app, number, D(2026, 9, 29), D(2026, 10, 10), D(2026, 11, 2))
    handlers.sweep(D(2026, 10, 12))
    assert [r for r, s, _, _ in of_case(as_, number, pb.CARD_STATUS_OPEN)] == ["case-promised-deadline"]
    handlers.sweep(D(2026, 11, 3))
    assert [(r, s) for r, s, _, _ in of_case(as_, number, pb.CARD_STATUS_OPEN)] == [
        ("case-promised-deadline", "red"), ("case-statutory-deadline", "red")]


def test_window_card_on_the_clerk_closes_when_the_window_decides(events, handlers, clock, as_):
    app, number = events.new_case()
    events.submitted(COUNTY, app, D(2026, 9, 30), clerk="county.clerk")
    handlers.sweep(D(2026, 9, 30))
    assert of_case(as_, "", pb.CARD_STATUS_UNSPECIFIED) is not None
    handlers.sweep(D(2026, 10, 8))
    mine = [c for c in cards(as_, rule_id="window-same-day") if c.subject_ref == app]
    assert [(c.severity, c.status, c.due) for c in mine] == [("yellow", pb.CARD_STATUS_OPEN, "2026-09-30")]
    clock.set_today(D(2026, 10, 8))
    events.accepted(COUNTY, app, number, D(2026, 10, 8))
    mine = [c for c in cards(as_, rule_id="window-same-day") if c.subject_ref == app]
    assert [(c.status, c.closed_reason) for c in mine] == [(pb.CARD_STATUS_CLOSED, "窗口已作出受理决定")]


def test_suspension_watch_and_its_pause(events, handlers, clock, as_):
    app, number = events.new_case()
    events.accepted(COUNTY, app, number, D(2026, 9, 29))
    events.opened(COUNTY, app, number, D(2026, 9, 29), D(2026, 10, 10), D(2026, 11, 2))
    events.suspended(COUNTY, number, D(2026, 9, 30))
    handlers.sweep(D(2026, 10, 20))                     # suspended: the deadlines are not dates meanwhile
    assert of_case(as_, number) == []
    clock.set_today(D(2026, 10, 14))
    events.resumed(COUNTY, number, D(2026, 10, 14), 3, D(2026, 10, 15), D(2026, 11, 5), D(2026, 9, 29))
    assert [r for r, *_ in of_case(as_, number)] == ["case-promised-deadline", "suspension-watch"]


def test_a_provisional_deadline_raises_the_calendar_card_until_reprojected(events, handlers, as_):
    from sanji.approval.v1 import events_pb2 as approval_ev

    from services.supervision.tests.conftest import deadline

    app, number = events.new_case(TOWNSHIP)
    events.accepted(TOWNSHIP, app, number, D(2026, 9, 29))
    events.opened(TOWNSHIP, app, number, D(2026, 9, 29), D(2027, 1, 4), D(2027, 1, 20), provisional=("2027",))
    [card] = [c for c in cards(as_, rule_id="calendar-provisional", status=pb.CARD_STATUS_OPEN)
              if c.tenant == TOWNSHIP]
    assert number in card.cases and card.subject_ref == "calendar:2027" and "2027" in card.text
    events.send("approval", approval_ev.DueDateReprojected(
        case_number=number, tenant=TOWNSHIP, cause="calendar_published", at="2026-12-01T09:00:00+08:00",
        promised=deadline(D(2026, 9, 29), 4, D(2027, 1, 5)), statutory=deadline(D(2026, 9, 29), 20, D(2027, 1, 21))),
        TOWNSHIP)
    again = as_("county.supervisor").GetCard(pb.GetCardRequest(card_id=card.id))
    assert number not in again.cases
    if not again.cases:
        assert again.status == pb.CARD_STATUS_CLOSED
