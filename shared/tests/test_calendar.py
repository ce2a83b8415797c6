"""The working-day calendar and deadline arithmetic, no database (DESIGN §6, the deadline ledger)."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from shared.calendar import (
    CalendarYear,
    Pause,
    TraceDay,
    WorkingCalendar,
    seed_year_from_package,
)
from shared.errors import InvalidArgument

D = dt.date


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar(seed_year_from_package(y) for y in range(2020, 2027))


def made_up_2027() -> CalendarYear:
    """A 2027 arrangement invented for the test (the package does not know 2027)."""
    return CalendarYear(
        year=2027,
        holidays={D(2027, 1, 1): "元旦", D(2027, 1, 2): "元旦", D(2027, 1, 3): "元旦"},
        makeup_workdays={D(2027, 1, 9): "元旦"},
        published_by="测试管理员",
        source="admin",
    )


# --- the calendar itself ---------------------------------------------------------------------

def test_seeded_2026_matches_the_state_council_arrangement(cal: WorkingCalendar) -> None:
    assert cal.is_published(2026) and not cal.is_published(2027)
    assert cal.day_kind(D(2026, 10, 10)) == (True, "makeup_workday:国庆节")    # a Saturday
    assert D(2026, 10, 10).weekday() == 5
    assert cal.day_kind(D(2026, 9, 20)) == (True, "makeup_workday:国庆节")     # a Sunday
    assert D(2026, 9, 20).weekday() == 6
    for day in range(1, 8):
        assert cal.day_kind(D(2026, 10, day)) == (False, "holiday:国庆节")
    for day in (25, 26, 27):
        assert cal.day_kind(D(2026, 9, day)) == (False, "holiday:中秋节")
    assert cal.day_kind(D(2026, 10, 11)) == (False, "weekend")
    assert cal.day_kind(D(2026, 10, 12)) == (True, "workday")
    assert cal.day_kind(D(2026, 2, 17)) == (False, "holiday:春节")


def test_seed_stores_only_named_holidays_not_plain_weekends() -> None:
    y = seed_year_from_package(2026)
    assert D(2026, 3, 7) not in y.holidays                   # a plain Saturday
    assert y.holidays[D(2026, 10, 3)] == "国庆节"             # a Saturday inside the holiday
    assert set(y.holidays.values()) == {"元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"}
    assert y.makeup_workdays == {D(2026, 1, 4): "元旦", D(2026, 2, 14): "春节", D(2026, 2, 28): "春节",
                                 D(2026, 5, 9): "劳动节", D(2026, 9, 20): "国庆节", D(2026, 10, 10): "国庆节"}
    assert y.source == "chinese-calendar 1.11.0"
    assert "抗日战争" in seed_year_from_package(2015).holidays[D(2015, 9, 3)]


def test_seed_refuses_a_year_the_package_does_not_know() -> None:
    with pytest.raises(InvalidArgument) as exc:
        seed_year_from_package(2027)
    assert exc.value.field == "year" and "2027" in exc.value.message


def test_unpublished_year_falls_back_to_the_week_and_says_so(cal: WorkingCalendar) -> None:
    assert cal.day_kind(D(2027, 1, 1)) == (True, "unpublished_year")       # Friday
    assert cal.day_kind(D(2027, 1, 2)) == (False, "unpublished_year")      # Saturday
    assert cal.day_kind(D(1999, 6, 7)) == (True, "unpublished_year")
    assert WorkingCalendar().day_kind(D(2026, 10, 1)) == (True, "unpublished_year")


def test_calendar_year_json_round_trip() -> None:
    y = seed_year_from_package(2026)
    assert CalendarYear.from_json(y.to_json()) == y
    assert json.loads(y.to_json())["holidays"]["2026-10-01"] == "国庆节"
    assert CalendarYear.from_json(made_up_2027().to_json()) == made_up_2027()


@pytest.mark.parametrize(("kwargs", "field", "words"), [
    ({"holidays": {D(2026, 1, 1): "元旦"}}, "holidays", "不在 2027 年内"),
    ({"makeup_workdays": {D(2027, 1, 4): "元旦"}}, "makeup_workdays", "周六或周日"),          # a Monday
    ({"holidays": {D(2027, 1, 9): "元旦"}, "makeup_workdays": {D(2027, 1, 9): "元旦"}},
     "makeup_workdays", "既是节假日又是调休上班日"),
    ({"holidays": {"2027-13-01": "元旦"}}, "holidays", "日期格式不正确"),
    ({"holidays": {D(2027, 1, 1): " "}}, "holidays", "缺少节日名称"),
])
def test_bad_calendar_year_names_the_field(kwargs: dict, field: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        CalendarYear(year=2027, **kwargs)
    assert exc.value.field == field
    assert words in exc.value.message


def test_bad_json_names_the_field() -> None:
    with pytest.raises(InvalidArgument) as exc:
        CalendarYear.from_json('{"year": 2027, "makeup_workdays": {"2027-01-06": "元旦"}}')   # Wednesday
    assert exc.value.field == "makeup_workdays"
    with pytest.raises(InvalidArgument) as exc:
        CalendarYear.from_json("not json")
    assert exc.value.field == "calendar_year"


# --- deadlines -----------------------------------------------------------------------------

def test_twenty_working_days_across_mid_autumn_and_national_day_2026(cal: WorkingCalendar) -> None:
    # Start Friday 2026-09-18 (day of acceptance, not counted). By hand:
    #   09-19 Sat weekend            09-20 Sun 调休上班(国庆) 1
    #   09-21 Mon 2  09-22 Tue 3  09-23 Wed 4  09-24 Thu 5
    #   09-25 Fri, 09-26 Sat, 09-27 Sun 中秋节 — not counted
    #   09-28 Mon 6  09-29 Tue 7  09-30 Wed 8
    #   10-01 … 10-07 国庆节 — not counted
    #   10-08 Thu 9  10-09 Fri 10  10-10 Sat 调休上班(国庆) 11  10-11 Sun weekend
    #   10-12 Mon 12  10-13 Tue 13  10-14 Wed 14  10-15 Thu 15  10-16 Fri 16  (17, 18 weekend)
    #   10-19 Mon 17  10-20 Tue 18  10-21 Wed 19  10-22 Thu 20   → due 2026-10-22
    r = cal.add_working_days(D(2026, 9, 18), 20)
    assert r.due == D(2026, 10, 22)
    assert not r.provisional and r.unpublished_years == () and not r.paused_open
    assert cal.due_date(D(2026, 9, 18), 20) == (D(2026, 10, 22), False)
    assert r.trace[0] == TraceDay(D(2026, 9, 19), False, "weekend")
    assert r.trace[1] == TraceDay(D(2026, 9, 20), True, "makeup_workday:国庆节")
    assert TraceDay(D(2026, 9, 25), False, "holiday:中秋节") in r.trace
    assert TraceDay(D(2026, 10, 1), False, "holiday:国庆节") in r.trace
    assert TraceDay(D(2026, 10, 10), True, "makeup_workday:国庆节") in r.trace
    assert r.trace[-1] == TraceDay(D(2026, 10, 22), True, "workday")
    assert [t.date for t in r.trace] == [D(2026, 9, 19) + dt.timedelta(i) for i in range(34)]
    assert sum(t.counted for t in r.trace) == 20
    assert cal.working_days_between(D(2026, 9, 18), D(2026, 10, 22)) == 20
    assert cal.working_days_between(D(2026, 9, 18), D(2026, 10, 10)) == 11


def test_expert_review_pause_pushes_the_due_date_by_its_working_days(cal: WorkingCalendar) -> None:
    review = Pause(D(2026, 10, 12), D(2026, 10, 16), "专家评审")       # Mon–Fri: 5 working days
    r = cal.add_working_days(D(2026, 9, 18), 20, [review])
    # 10-22 was the 20th; the 5 paused days push it on: 10-23 Fri, 10-26 Mon, 27, 28, 10-29 Thu.
    assert r.due == D(2026, 10, 29)
    assert cal.working_days_between(D(2026, 10, 22), D(2026, 10, 29)) == 5
    paused = [t for t in r.trace if t.reason == "paused:专家评审"]
    assert [t.date for t in paused] == [D(2026, 10, 12) + dt.timedelta(i) for i in range(5)]
    assert not any(t.counted for t in paused)
    assert sum(t.counted for t in r.trace) == 20
    assert cal.due_date(D(2026, 9, 18), 20, [review]) == (D(2026, 10, 29), False)
    assert cal.working_days_between(D(2026, 9, 18), D(2026, 10, 29), [review]) == 20


def test_open_pause_leaves_the_deadline_without_a_date(cal: WorkingCalendar) -> None:
    correction = Pause(D(2026, 10, 12), None, "申请人补正材料")
    r = cal.add_working_days(D(2026, 9, 18), 20, [correction])
    assert r.due is None and r.paused_open
    assert r.trace[-1] == TraceDay(D(2026, 10, 12), False, "paused:申请人补正材料")
    assert sum(t.counted for t in r.trace) == 11
    assert "尚未结束" in r.explain()
    assert cal.due_date(D(2026, 9, 18), 20, [correction]) == (None, False)
    # a pause opened after the deadline falls does not matter
    assert cal.due_date(D(2026, 9, 18), 20, [Pause(D(2026, 11, 2), None, "听证")]) == (D(2026, 10, 22), False)
    # "how many have passed by 10-20": 11 before the pause, none since
    assert cal.working_days_between(D(2026, 9, 18), D(2026, 10, 20), [correction]) == 11


def test_zero_days_is_the_start_day(cal: WorkingCalendar) -> None:
    r = cal.add_working_days(D(2026, 10, 3), 0)
    assert r.due == D(2026, 10, 3) and r.trace == () and not r.provisional


def test_start_on_a_holiday_counts_from_the_next_working_day(cal: WorkingCalendar) -> None:
    assert cal.due_date(D(2026, 10, 1), 1) == (D(2026, 10, 8), False)
    assert cal.due_date(D(2026, 10, 9), 1) == (D(2026, 10, 10), False)      # the make-up Saturday


def test_deadline_into_an_unpublished_year_is_provisional_then_reprojected(cal: WorkingCalendar) -> None:
    # Start Tuesday 2026-12-15: 12-16 … 12-31 give 12 working days (Mon–Fri, no holidays left in 2026);
    # 2027 unpublished, weekday fallback: 01-01 Fri 13, 01-04 … 01-08 14–18, 01-11 Mon 19, 01-12 Tue 20.
    r = cal.add_working_days(D(2026, 12, 15), 20)
    assert r.due == D(2027, 1, 12)
    assert r.provisional and r.unpublished_years == (2027,)
    assert TraceDay(D(2027, 1, 1), True, "unpublished_year") in r.trace
    assert TraceDay(D(2027, 1, 2), False, "unpublished_year") in r.trace
    assert "暂定" in r.explain()
    assert cal.due_date(D(2026, 12, 15), 20) == (D(2027, 1, 12), True)

    published = cal.publish_year(made_up_2027())
    assert published is not cal and not cal.is_published(2027) and published.is_published(2027)
    # 元旦 2027-01-01 off: 01-04 … 01-08 13–17, 01-09 Sat 调休 18, 01-11 Mon 19, 01-12 Tue 20.
    again = published.add_working_days(D(2026, 12, 15), 20)
    assert again.due == D(2027, 1, 12) and not again.provisional and again.unpublished_years == ()
    assert TraceDay(D(2027, 1, 1), False, "holiday:元旦") in again.trace
    assert TraceDay(D(2027, 1, 9), True, "makeup_workday:元旦") in again.trace

    # Without the make-up Saturday the due date moves a day later, to Wednesday 01-13.
    plain = cal.publish_year(CalendarYear(year=2027, holidays={D(2027, 1, 1): "元旦"}))
    assert plain.due_date(D(2026, 12, 15), 20) == (D(2027, 1, 13), False)


def test_deadline_starting_on_new_years_eve_looks_only_at_the_next_year(cal: WorkingCalendar) -> None:
    # 2026-01-01 … 01-03 元旦, 01-04 (a Sunday) is its make-up working day
    assert cal.due_date(D(2025, 12, 31), 1) == (D(2026, 1, 4), False)
    r = cal.add_working_days(D(2026, 12, 31), 1)
    assert r.due == D(2027, 1, 1) and r.unpublished_years == (2027,)


def test_far_from_any_published_year_never_raises(cal: WorkingCalendar) -> None:
    assert cal.due_date(D(2031, 3, 6), 3) == (D(2031, 3, 11), True)      # Thu → Fri, Mon, Tue
    assert cal.due_date(D(2003, 12, 30), 3) == (D(2004, 1, 2), True)
    # Fri 2019-12-27 (2019 not loaded): 12-30 Mon 1, 12-31 Tue 2, 2020-01-01 元旦, 01-02 Thu 3
    assert cal.due_date(D(2019, 12, 27), 3) == (D(2020, 1, 2), True)
    assert WorkingCalendar().due_date(D(2026, 9, 18), 20) == (D(2026, 10, 16), True)


def test_explain_mentions_makeup_days_and_holidays(cal: WorkingCalendar) -> None:
    text = cal.add_working_days(D(2026, 9, 18), 20).explain()
    assert "2026-10-10 星期六 调休上班（国庆节），计第11个工作日" in text
    assert "2026-10-01 星期四 法定节假日（国庆节），不计" in text
    assert "截止日期：2026-10-22 星期四" in text
    assert "受理当日不计" in text


def test_bad_deadline_input_names_the_field(cal: WorkingCalendar) -> None:
    with pytest.raises(InvalidArgument) as exc:
        cal.add_working_days(D(2026, 9, 18), -1)
    assert exc.value.field == "working_days"
    with pytest.raises(InvalidArgument) as exc:
        Pause(D(2026, 10, 16), D(2026, 10, 12), "专家评审")
    assert exc.value.field == "pauses"


# --- the fast path agrees with the obvious day-by-day loop ------------------------------------

def reference_due(cal: WorkingCalendar, start: dt.date, days: int, pauses: list[Pause]) -> dt.date | None:
    def paused(d: dt.date) -> bool:
        return any(p.start <= d and (p.end is None or d <= p.end) for p in pauses)

    d, n = start, 0
    while n < days:
        d += dt.timedelta(days=1)
        if paused(d) and any(p.end is None and p.start <= d for p in pauses):
            return None
        if cal.day_kind(d)[0] and not paused(d):
            n += 1
    return d


def test_fast_path_matches_a_day_by_day_loop(cal: WorkingCalendar) -> None:
    rng = random.Random(20260918)
    base = D(2019, 6, 1).toordinal()
    for _ in range(3000):
        start = D.fromordinal(base + rng.randrange(0, 365 * 9))
        days = rng.randrange(0, 80)
        pauses = []
        for _ in range(rng.randrange(0, 4)):
            ps = start + dt.timedelta(days=rng.randrange(-10, 90))
            open_ = rng.random() < 0.15
            pauses.append(Pause(ps, None if open_ else ps + dt.timedelta(days=rng.randrange(0, 20)), "检验"))
        expected = reference_due(cal, start, days, pauses)
        due, _ = cal.due_date(start, days, pauses)
        assert due == expected, (start, days, pauses)
        r = cal.add_working_days(start, days, pauses)
        assert r.due == expected
        assert r.paused_open == (expected is None)
        assert [t.date for t in r.trace] == [start + dt.timedelta(i + 1) for i in range(len(r.trace))]
        for t in r.trace:
            if t.reason.startswith("paused:"):
                assert not t.counted
            else:
                assert (t.counted, t.reason) == cal.day_kind(t.date)
        if expected is not None:
            assert sum(t.counted for t in r.trace) == days
            assert cal.working_days_between(start, expected, pauses) == days
            assert r.provisional == any(not cal.is_published(t.date.year) for t in r.trace)
