"""A province's calendar year published at approval (calendar_year_published) reaches supervision's own calendar:
the step budget of a case counts on the published year, not on the provisional Monday-to-Friday guess."""

from __future__ import annotations

import datetime as dt

from sanji.approval.v1 import events_pb2 as approval_ev

from services.supervision import domain


def test_a_published_year_is_supervision_s_calendar_too(events, handlers):
    cal = handlers.calendars.get("620602")
    assert not cal.is_published(2027) and cal.is_working_day(dt.date(2027, 2, 11))    # a Thursday, guessed
    events.send("approval", approval_ev.CalendarYearPublished(
        region="62", year=2027, holidays={"2027-02-11": "春节", "2027-02-12": "春节"},
        makeup_workdays={"2027-02-07": "春节"}, published_by="province.admin",
        published_at="2026-11-20T10:00:00+08:00"), "62")
    cal = handlers.calendars.get("620602")
    assert cal.is_published(2027) and not cal.is_working_day(dt.date(2027, 2, 11))
    assert cal.is_working_day(dt.date(2027, 2, 7))                                      # the make-up Sunday
    step = domain.StepFacts("s", "review", "", "county.reviewer", "", dt.date(2027, 2, 9))
    rules = domain.RuleSet.for_tenant("620602")
    # claimed Tuesday 02-09, 2 working days: 02-10, then 02-15 (the 11th and 12th are off, 13/14 the weekend)
    assert domain.step_due(rules, cal, step, 4) == dt.date(2027, 2, 15)
