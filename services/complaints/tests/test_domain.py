"""The complaint and rating rules, no I/O: the seeds' numbers on the real 2026 calendar."""

from __future__ import annotations

import datetime as dt

import pytest

from services.complaints import domain as d
from shared.calendar import CalendarYear, WorkingCalendar, seed_year_from_package
from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from shared.tenancy import DivisionCode, Principal, Role

CAL = WorkingCalendar([seed_year_from_package(2026)])


def who(username: str, tenant: str, *roles: Role) -> Principal:
    return Principal(subject=username, username=username, tenant=DivisionCode(tenant), roles=frozenset(roles))


# -- "3日报动态、7日报结果" (seed 000 §16), counted from the day after receipt on the working-day calendar ----
def test_a_complaint_received_on_the_eve_of_national_day_counts_the_makeup_saturday():
    """Received Wed 2026-09-30: 10-01..10-07 are 国庆节, Sat 10-10 is a make-up working day (调休上班)."""
    t = d.time_limits(CAL, dt.date(2026, 9, 30))
    assert t.progress_due == dt.date(2026, 10, 10)      # 10-08, 10-09, and the make-up Saturday 10-10
    assert t.result_due == dt.date(2026, 10, 15)        # 10-11 (Sunday) is not counted
    assert "调休上班（国庆节），计第3个工作日" in t.trace
    assert "2026-09-30 星期三（受理当日不计）" in t.trace
    assert "法定节假日（国庆节），不计" in t.trace
    assert not t.provisional


def test_counting_starts_the_day_after_receipt_and_skips_the_weekend():
    t = d.time_limits(CAL, dt.date(2026, 11, 6))         # a Friday
    assert (t.progress_due, t.result_due) == (dt.date(2026, 11, 11), dt.date(2026, 11, 17))


def test_a_year_not_published_makes_the_limits_provisional():
    t = d.time_limits(CAL, dt.date(2026, 12, 30))
    assert t.provisional and "尚未发布" in t.trace


def test_a_province_may_count_calendar_days():
    t = d.time_limits(CAL, dt.date(2026, 9, 30), d.ComplaintRules(working_days=False))
    assert (t.progress_due, t.result_due) == (dt.date(2026, 10, 3), dt.date(2026, 10, 7))


# -- extensions: one, within the limit, at most 10 working days, the head's approval ---------------------------
def test_an_extension_within_the_limit_is_taken_and_counted_on_from_the_old_due_date():
    state = d.ExtensionState(extensions=0, pending=False, result_due=dt.date(2026, 10, 15))
    reason, days = d.check_extension_request(state, dt.date(2026, 10, 15), " 涉及多个部门，需现场核实 ", 10)
    assert (reason, days) == ("涉及多个部门，需现场核实", 10)
    due, trace = d.extended_due(CAL, dt.date(2026, 10, 15), 10)
    assert due == dt.date(2026, 10, 29) and "延期 10 日" in trace


def test_an_extension_asked_for_after_the_due_date_is_refused():
    state = d.ExtensionState(extensions=0, pending=False, result_due=dt.date(2026, 10, 15))
    with pytest.raises(FailedPrecondition, match="超过时限"):
        d.check_extension_request(state, dt.date(2026, 10, 16), "原因", 5)


def test_a_second_extension_is_refused():
    state = d.ExtensionState(extensions=1, pending=False, result_due=dt.date(2026, 10, 29))
    with pytest.raises(FailedPrecondition, match="只能申请 1 次"):
        d.check_extension_request(state, dt.date(2026, 10, 20), "原因", 3)
    pending = d.ExtensionState(extensions=0, pending=True, result_due=dt.date(2026, 10, 29))
    with pytest.raises(FailedPrecondition):
        d.check_extension_request(pending, dt.date(2026, 10, 20), "原因", 3)


@pytest.mark.parametrize("days", [0, 11, -1])
def test_an_extension_is_1_to_10_working_days(days):
    state = d.ExtensionState(extensions=0, pending=False, result_due=dt.date(2026, 10, 15))
    with pytest.raises(InvalidArgument) as e:
        d.check_extension_request(state, dt.date(2026, 10, 14), "原因", days)
    assert e.value.field == "days"


def test_an_extension_needs_a_reason_told_to_the_complainant():
    state = d.ExtensionState(extensions=0, pending=False, result_due=dt.date(2026, 10, 15))
    with pytest.raises(InvalidArgument) as e:
        d.check_extension_request(state, dt.date(2026, 10, 14), "  ", 5)
    assert e.value.field == "reason"


def test_only_the_head_approves_an_extension_and_only_while_the_limit_runs():
    state = d.ExtensionState(extensions=0, pending=True, result_due=dt.date(2026, 10, 15))
    with pytest.raises(PermissionDenied):
        d.check_extension_approval(state, dt.date(2026, 10, 14), who("h", "620602", Role.COMPLAINT_HANDLER), "h")
    d.check_extension_approval(state, dt.date(2026, 10, 15), who("boss", "620602", Role.HEAD), "h")
    with pytest.raises(FailedPrecondition):
        d.check_extension_approval(state, dt.date(2026, 10, 16), who("boss", "620602", Role.HEAD), "h")


# -- routing to the supervising level -----------------------------------------------------------------------
@pytest.mark.parametrize(("subject", "handler"), [("620602001001", "620602001"), ("620602001", "620602"),
                                                   ("620602", "620602")])
def test_the_level_above_handles_the_level_below(subject, handler):
    assert d.handling_unit(subject) == handler


def test_escalation_goes_one_level_up():
    assert d.level_above("620602001") == "620602"
    assert d.level_above("620602") == "620600"


# -- outcome, reply, follow-ups ------------------------------------------------------------------------------
def test_a_reply_without_an_outcome_is_refused_naming_the_field():
    with pytest.raises(InvalidArgument) as e:
        d.check_reply("", "phone", "答复", [], dt.date(2026, 10, 9))
    assert e.value.field == "outcome"


def test_the_three_outcomes_of_seed_000_17_and_a_plan_needs_its_promise():
    assert {o.value for o in d.Outcome} == {"solved", "plan", "policy"}
    with pytest.raises(InvalidArgument) as e:
        d.check_reply("plan", "phone", "答复", [], dt.date(2026, 10, 9))
    assert e.value.field == "promises"
    o, c, _, promises = d.check_reply("plan", "email", "已列入明年计划", [d.PromiseInput("修缮坡道", "2026-12-01")],
                                      dt.date(2026, 10, 9))
    assert (o, c, promises) == (d.Outcome.PLAN, d.ReplyChannel.EMAIL, [("修缮坡道", dt.date(2026, 12, 1))])


def test_a_reply_channel_is_one_of_the_seeds():
    with pytest.raises(InvalidArgument) as e:
        d.check_reply("solved", "pigeon", "x", [], dt.date(2026, 10, 9))
    assert e.value.field == "channel"


def test_the_late_department_is_named():
    due = dt.date(2026, 10, 15)
    at = dt.datetime(2026, 10, 14, 10)
    parts = [("县住建局", True, at), ("县自然资源局", False, None), ("县交通局", False, dt.datetime(2026, 10, 16, 9))]
    assert d.late_departments(parts, due, dt.date(2026, 10, 16)) == ["县自然资源局", "县交通局"]
    assert d.late_departments(parts[:2], due, dt.date(2026, 10, 15)) == []


# -- satisfaction: reopen once, then escalate ----------------------------------------------------------------
def test_dissatisfied_reopens_once_then_escalates():
    assert d.after_satisfaction(d.Satisfaction.SATISFIED, 0) == d.AfterSatisfaction.CLOSE
    assert d.after_satisfaction(d.Satisfaction.BASICALLY_SATISFIED, 1) == d.AfterSatisfaction.CLOSE
    assert d.after_satisfaction(d.Satisfaction.DISSATISFIED, 0) == d.AfterSatisfaction.REOPEN
    assert d.after_satisfaction(d.Satisfaction.DISSATISFIED, 1) == d.AfterSatisfaction.ESCALATE


# -- privacy -------------------------------------------------------------------------------------------------
def test_the_identity_is_hidden_from_the_staff_complained_about_even_if_a_handler():
    assert d.identity_visible(who("h", "620602", Role.COMPLAINT_HANDLER), "620602", "clerk1")
    assert not d.identity_visible(who("clerk1", "620602", Role.COMPLAINT_HANDLER), "620602", "clerk1")
    assert not d.identity_visible(who("c", "620602", Role.WINDOW_CLERK), "620602", "clerk1")
    assert not d.identity_visible(who("h", "620602002", Role.COMPLAINT_HANDLER), "620602001", "")
    assert d.identity_visible(who("s", "620602", Role.SUPERVISOR), "620602001", "")


def test_an_anonymous_report_keeps_no_identity_and_a_complaint_cannot_be_anonymous():
    given = d.Complainant(name="张三", phone="13900001111", id_number="", anonymous=True)
    c = d.check_complainant(given, d.Kind.REPORT)
    assert c == d.Complainant(anonymous=True)
    with pytest.raises(InvalidArgument) as e:
        d.check_complainant(d.Complainant(anonymous=True), d.Kind.COMPLAINT)
    assert e.value.field == "complainant.anonymous"


@pytest.mark.parametrize(("phone", "ok"), [("13900001111", True), ("0935-2211234", True), ("12345", False),
                                           ("1390000111a", False)])
def test_the_phone_for_the_reply(phone, ok):
    if ok:
        assert d.check_phone(phone) == phone
    else:
        with pytest.raises(InvalidArgument):
            d.check_phone(phone)


def test_over_long_text_states_the_limit():
    with pytest.raises(InvalidArgument) as e:
        d.check_text("字" * 2001, "content", "投诉内容", max_len=d.MAX_CONTENT)
    assert e.value.field == "content" and "最多 2000 字" in e.value.message


def test_a_nul_character_is_refused_naming_the_field():
    with pytest.raises(InvalidArgument) as e:
        d.check_text("投诉\x00内容", "content", "投诉内容")
    assert e.value.field == "content"


def test_categories_are_the_seeds_list_plus_three():
    names = list(d.CATEGORIES.values())
    assert names[:10] == ["教育", "就业", "医疗卫生", "社会保障", "民政救助", "保障性住房", "交通运管", "不动产登记",
                          "机动车证照", "征地拆迁"]
    assert names[10:] == ["服务作风", "办不成事", "其他"]


# -- ratings ------------------------------------------------------------------------------------------------
def test_five_levels_and_the_last_two_are_bad():
    assert list(d.LEVELS.values()) == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert [lvl for lvl in d.LEVELS if d.is_bad(lvl)] == [4, 5]
    with pytest.raises(InvalidArgument):
        d.check_level(6)


def test_indicators_are_per_channel():
    assert d.check_indicators({"attitude": 2}, d.RatingChannel.WINDOW) == {"attitude": 2}
    with pytest.raises(InvalidArgument) as e:
        d.check_indicators({"attitude": 2}, d.RatingChannel.CASE)
    assert e.value.field == "indicators"


def test_a_case_rating_needs_the_right_id_suffix_and_an_accepted_case():
    case = d.CaseFacts("C1", "620602", accepted=True, id_suffix="12345X")
    assert d.check_case_rating(case, "12345X") is case
    with pytest.raises(InvalidArgument) as e:
        d.check_case_rating(case, "123456")
    assert e.value.field == "case_number"
    with pytest.raises(InvalidArgument):
        d.check_case_rating(None, "12345X")
    with pytest.raises(FailedPrecondition, match="尚未受理"):
        d.check_case_rating(d.CaseFacts("C1", "620602", accepted=False, id_suffix="12345X"), "12345X")


def test_rectification_is_due_in_15_working_days_by_default():
    due, trace = d.rectification_due(CAL, dt.date(2026, 9, 30))
    assert due == dt.date(2026, 10, 27) and "计第15个工作日" in trace
    due10, _ = d.rectification_due(CAL, dt.date(2026, 9, 30), d.ComplaintRules(rectification_days=10))
    assert due10 == dt.date(2026, 10, 20)


def test_an_upheld_appeal_leaves_the_figures_and_stays_in_the_record():
    rows = [d.FigureRow(1, True), d.FigureRow(2, True), d.FigureRow(5, False), d.FigureRow(4, True)]
    count, satisfied, share, by_level, bad = d.figures(rows)
    assert (count, satisfied, by_level, bad) == (3, 2, [1, 1, 0, 1, 0], 1)
    assert share == pytest.approx(2 / 3)
    assert len(rows) == 4


def test_only_a_supervisor_above_decides_an_appeal():
    d.check_appeal_decider(who("s", "620602", Role.SUPERVISOR), "620602001")
    with pytest.raises(PermissionDenied):
        d.check_appeal_decider(who("s", "620602001", Role.SUPERVISOR), "620602001")
    with pytest.raises(PermissionDenied):
        d.check_appeal_decider(who("s", "620602002", Role.SUPERVISOR), "620602001")
    with pytest.raises(PermissionDenied):
        d.check_appeal_decider(who("a", "620602", Role.TENANT_ADMIN), "620602001")


def test_complaint_numbers_are_checked():
    n = d.complaint_number("620602001", dt.date(2026, 9, 30), 7)
    assert n == "TS620602001202609300007" and d.check_number(n.lower()) == n
    with pytest.raises(InvalidArgument):
        d.check_number("XX1")


# -- the return visit of a real-name 差评 (100 %): after the answer, before the rater's rating (seed 000 §18) ------
def test_a_real_name_bad_rectification_cannot_be_rated_before_its_return_visit():
    answered = d.RectificationStatus.ANSWERED
    with pytest.raises(FailedPrecondition) as e:
        d.check_may_rate_rectification(answered, visit_required=True, visited=False)
    assert e.value.field == "return_visit" and "回访" in str(e.value)
    d.check_may_rate_rectification(answered, visit_required=True, visited=True)
    d.check_may_rate_rectification(answered, visit_required=False, visited=False)   # anonymous: no visit owed
    with pytest.raises(FailedPrecondition) as e:
        d.check_may_rate_rectification(d.RectificationStatus.OPEN, visit_required=True, visited=True)
    assert e.value.field == "case_number"


def test_the_visit_checks_the_answer_so_it_follows_it_and_happens_once():
    with pytest.raises(FailedPrecondition) as e:
        d.check_may_visit(d.RectificationStatus.OPEN, visited=False)
    assert e.value.field == "answer" and "先整改反馈" in str(e.value)
    d.check_may_visit(d.RectificationStatus.ANSWERED, visited=False)
    with pytest.raises(FailedPrecondition):
        d.check_may_visit(d.RectificationStatus.ANSWERED, visited=True)


def test_the_visit_share_of_real_name_bad_ratings():
    assert d.visit_share(4, 3) == 0.75
    assert d.visit_share(0, 0) == 1.0


# -- a province publishes a year: every round of an open complaint is counted again ---------------------------------
# 2027 as published: 元旦 (1 January, a Friday) is a holiday by law (全国年节及纪念日放假办法); until it is published
# the calendar counts 1 January 2027 as a plain Friday at work, and dates reaching into it are provisional.
CAL_2027 = WorkingCalendar([seed_year_from_package(2026), CalendarYear(2027, holidays={dt.date(2027, 1, 1): "元旦"})])


def test_a_reopened_complaint_is_counted_again_from_its_day_of_reopening():
    received, reopened = dt.date(2026, 12, 14), dt.date(2026, 12, 28)
    before = d.recount(CAL, received, reopened_on=reopened)
    assert before.provisional and (before.progress_due, before.result_due) == (dt.date(2026, 12, 31),
                                                                               dt.date(2027, 1, 6))
    after = d.recount(CAL_2027, received, reopened_on=reopened)
    assert not after.provisional
    assert (after.progress_due, after.result_due) == (dt.date(2026, 12, 31), dt.date(2027, 1, 7))
    first, again = after.trace.split(d.REOPENED_HEADING)
    assert "2026-12-14" in first and "2026-12-28" in again and "法定节假日（元旦），不计" in again


def test_an_extension_is_counted_again_from_its_rounds_due_date():
    received = dt.date(2026, 12, 23)         # result due 2027-01-04 once 元旦 is published (01-01 provisional before)
    ext = d.Extension(days=5, current_round=True)
    before = d.recount(CAL, received, extension=ext)
    assert before.provisional and before.result_due == dt.date(2027, 1, 8)      # 01-01 + 5: 01-04 … 01-08
    after = d.recount(CAL_2027, received, extension=ext)
    assert not after.provisional and after.result_due == dt.date(2027, 1, 11)   # 01-04 + 5: 01-05 … 01-11
    assert "【延期 5 日，自原截止日次日起算】" in after.trace


def test_an_extension_of_an_earlier_round_stays_in_the_trace_but_not_in_force():
    received, reopened = dt.date(2026, 12, 14), dt.date(2026, 12, 28)
    r = d.recount(CAL_2027, received, reopened_on=reopened, extension=d.Extension(days=5, current_round=False))
    assert r.result_due == dt.date(2027, 1, 7)
    assert r.trace.index("【延期 5 日") < r.trace.index(d.REOPENED_HEADING)
    r = d.recount(CAL_2027, received, reopened_on=reopened, extension=d.Extension(days=5, current_round=True))
    assert r.result_due == dt.date(2027, 1, 14) and r.trace.index("【延期 5 日") > r.trace.index(d.REOPENED_HEADING)


def test_a_complaint_neither_reopened_nor_extended_is_counted_as_at_receipt():
    assert d.recount(CAL_2027, dt.date(2026, 9, 30)) == d.time_limits(CAL_2027, dt.date(2026, 9, 30))


def test_a_second_dissatisfied_goes_to_the_level_above_only_when_it_is_on_the_platform():
    up = d.escalation_route("620602001", above_in_tree=True)
    assert (up.to_tenant, up.to_supervision) == ("620602", False)
    here = d.escalation_route("620602", above_in_tree=False)
    assert (here.to_tenant, here.to_supervision) == ("620602", True)
    assert "620600" in here.notice and "尚未接入本平台" in here.notice and "监察" in here.notice
