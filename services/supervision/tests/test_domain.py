"""Supervision rules without I/O: each rule on real dates across National Day 2026 (10-01..10-07 off, Saturday
10-10 a make-up working day), the promised/statutory distinction, the step budget on its post holder."""

from __future__ import annotations

import datetime as dt

import pytest

from services.supervision import domain as d
from shared.calendar import WorkingCalendar, seed_year_from_package
from shared.errors import InvalidArgument

CAL = WorkingCalendar([seed_year_from_package(2026)])
RULES = d.RuleSet.for_tenant("620602")
D = dt.date


def case(**over) -> d.CaseFacts:
    base = dict(tenant="620602", application_id="a1", stage=d.CaseStage.OPEN, case_number="N1", item_name="施工许可",
                promised_limit=4, statutory_limit=20, promised_due=D(2026, 10, 10), statutory_due=D(2026, 11, 2))
    base.update(over)
    return d.CaseFacts(**base)


def cards(c, steps=(), today=D(2026, 9, 30)):
    e = d.evaluate(c, list(steps), RULES, CAL, today)
    return {(w.rule_id, w.severity) for w in e.cards}, e


def test_case_deadline_yellow_the_working_day_before_the_make_up_saturday_and_red_after_it():
    found, e = cards(case(), today=D(2026, 9, 30))
    assert found == set() and e.next_check_on == D(2026, 10, 9)     # the holiday is skipped
    found, e = cards(case(), today=D(2026, 10, 9))
    assert found == {(d.CASE_PROMISED, d.Severity.YELLOW)} and e.next_check_on == D(2026, 10, 11)
    found, _ = cards(case(), today=D(2026, 10, 10))                 # the make-up Saturday is the due day itself
    assert found == {(d.CASE_PROMISED, d.Severity.YELLOW)}
    found, e = cards(case(), today=D(2026, 10, 11))
    assert found == {(d.CASE_PROMISED, d.Severity.RED)} and e.next_check_on == D(2026, 11, 3)


def test_a_promised_breach_and_a_statutory_breach_are_two_findings():
    found, e = cards(case(), today=D(2026, 11, 2))
    assert found == {(d.CASE_PROMISED, d.Severity.RED)}
    found, e = cards(case(), today=D(2026, 11, 3))
    assert found == {(d.CASE_PROMISED, d.Severity.RED), (d.CASE_STATUTORY, d.Severity.RED)} and e.next_check_on is None


def test_a_decided_or_suspended_case_carries_no_deadline_card():
    assert cards(case(stage=d.CaseStage.DECIDED), today=D(2026, 11, 3))[0] == set()
    assert cards(case(suspended=True), today=D(2026, 11, 3))[0] == set()


def test_the_step_budget_names_its_post_holder_yellow_on_its_last_day_then_red():
    step = d.StepFacts("s1", "review", "投资建设", "county.reviewer", "张审查", D(2026, 9, 30))
    assert d.step_budget_days(RULES, "review", 4) == 2 and d.step_budget_days(RULES, "decision", 4) == 1
    found, e = cards(case(), [step], today=D(2026, 10, 8))
    assert found == set() and e.next_check_on == D(2026, 10, 9)
    _, e = cards(case(), [step], today=D(2026, 10, 9))
    [w] = [w for w in e.cards if w.rule_id == d.STEP_BUDGET]
    assert (w.severity, w.post_holder, w.due) == (d.Severity.YELLOW, "county.reviewer", D(2026, 10, 9))
    assert "2026-09-30 认领" in w.trace
    _, e = cards(case(), [step], today=D(2026, 10, 10))
    [w] = [w for w in e.cards if w.rule_id == d.STEP_BUDGET]
    assert w.severity == d.Severity.RED and w.post_holder_name == "张审查"
    # the case card is on the same holder
    assert {x.post_holder for x in e.cards} == {"county.reviewer"}


def test_window_same_day_and_deemed_acceptance():
    received = case(stage=d.CaseStage.RECEIVED, received_on=D(2026, 9, 30), received_by="county.clerk",
                    promised_due=None, statutory_due=None)
    found, e = cards(received, today=D(2026, 9, 30))
    assert found == set() and e.next_check_on == D(2026, 10, 1)
    _, e = cards(received, today=D(2026, 10, 1))
    [w] = e.cards
    assert (w.rule_id, w.severity, w.post_holder) == (d.WINDOW_SAME_DAY, d.Severity.YELLOW, "county.clerk")
    # received on a holiday: the same day ends with the next working day
    holiday = case(stage=d.CaseStage.RECEIVED, received_on=D(2026, 10, 3), promised_due=None, statutory_due=None)
    assert cards(holiday, today=D(2026, 10, 8))[0] == set()
    assert cards(holiday, today=D(2026, 10, 9))[0] == {(d.WINDOW_SAME_DAY, d.Severity.YELLOW)}
    deemed = case(stage=d.CaseStage.OPEN, deemed=True, received_by="county.clerk")
    assert (d.WINDOW_DEEMED, d.Severity.RED) in cards(deemed, today=D(2026, 9, 30))[0]


def test_suspension_watch_counts_and_shares():
    assert (d.SUSPENSION_WATCH, d.Severity.YELLOW) in cards(case(suspensions=3))[0]
    assert (d.SUSPENSION_WATCH, d.Severity.YELLOW) in cards(case(suspensions=1, paused_days=3))[0]
    assert (d.SUSPENSION_WATCH, d.Severity.YELLOW) not in cards(case(suspensions=2, paused_days=2))[0]


def test_a_province_overrides_thresholds_by_data_and_nothing_else():
    gansu = d.RuleSet.for_tenant("620602", {"62": {d.CASE_PROMISED: {"yellow_working_days": 3}}})
    assert gansu[d.CASE_PROMISED].t("yellow_working_days") == 3
    assert d.RuleSet.for_tenant("513221", {"62": {d.CASE_PROMISED: {"yellow_working_days": 3}}})[
        d.CASE_PROMISED].t("yellow_working_days") == 1
    e = d.evaluate(case(), [], gansu, CAL, D(2026, 9, 30))
    assert {w.rule_id for w in e.cards} == {d.CASE_PROMISED}       # 3 working days before the make-up Saturday
    with pytest.raises(InvalidArgument) as x:
        d.RuleSet.for_tenant("620602", {"62": {"no-such-rule": {}}})
    assert x.value.field == "rule_id"
    with pytest.raises(InvalidArgument) as x:
        d.RuleSet.for_tenant("620602", {"62": {d.CASE_PROMISED: {"nope": 1}}})
    assert x.value.field == "thresholds"


def test_orders_reply_due_in_working_days_and_escalate_one_level_up():
    assert d.order_reply_due(CAL, D(2026, 9, 30), 3) == D(2026, 10, 10)
    with pytest.raises(InvalidArgument):
        d.order_reply_due(CAL, D(2026, 9, 30), 0)
    assert d.escalation_target("620602001") == "620602" and d.escalation_target("620602") == "6206"
    assert d.escalation_target("620602001001") == "620602001"


def test_accountability_grades_and_their_measures():
    assert d.check_accountability("minor", "circulated_criticism", D(2026, 10, 30), D(2026, 9, 30)) == d.Grade.MINOR
    with pytest.raises(InvalidArgument) as x:
        d.check_accountability("minor", "circulated_criticism", None, D(2026, 9, 30))
    assert x.value.field == "rectify_by"
    with pytest.raises(InvalidArgument) as x:
        d.check_accountability("minor", "reassignment", D(2026, 10, 30), D(2026, 9, 30))
    assert x.value.field == "measure"
    with pytest.raises(InvalidArgument) as x:
        d.check_accountability("gross", "reassignment", None, D(2026, 9, 30))
    assert x.value.field == "grade"
    assert d.check_accountability("severe", "referred_to_discipline", None, D(2026, 9, 30)) == d.Grade.SEVERE


def test_rating_figures_satisfaction_and_rectification():
    from services.supervision.domain import rating_figures

    assert rating_figures(None) == {}
    got = rating_figures({"ratings": 5, "satisfied": 2, "bad": 2, "rectified": 1})
    assert (got["satisfaction"], got["rectification_rate"], got["bad_ratings"]) == (0.4, 0.5, 2)
    # no 差评: nothing to rectify, the rate is 0 (not a division by zero)
    assert rating_figures({"ratings": 3, "satisfied": 3, "bad": 0, "rectified": 0})["rectification_rate"] == 0.0


def test_the_calendar_publisher_is_the_latest_person_not_the_package():
    import datetime as dt

    from services.supervision.domain import calendar_publisher
    from shared.calendar import CalendarYear, WorkingCalendar, seed_year_from_package

    package_only = WorkingCalendar([seed_year_from_package(2025), seed_year_from_package(2026)])
    assert calendar_publisher(package_only) == ""
    by_people = WorkingCalendar([
        seed_year_from_package(2025),
        CalendarYear(year=2026, holidays={dt.date(2026, 1, 1): "元旦"}, published_by="gs.calendar.admin"),
        CalendarYear(year=2027, holidays={dt.date(2027, 1, 1): "元旦"}, published_by="gs.calendar.head")])
    assert calendar_publisher(by_people) == "gs.calendar.head"
