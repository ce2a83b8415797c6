"""A province's calendar year published at approval (calendar_year_published) reaches supervision's own calendar:
the step budget of a case counts on the published year, not on the provisional Monday-to-Friday guess; the open
cases near that year are re-projected at once (their next threshold moves), the year's calendar card closes naming
who published the year, and the cards then come on the days the published calendar gives."""

from __future__ import annotations

import datetime as dt

from sanji.approval.v1 import events_pb2 as approval_ev

from services.supervision import domain


def test_a_published_year_is_supervision_s_calendar_too(events, handlers):
    # province 63 (not the other tests' 62, whose 2027 stays unpublished for the provisional-deadline tests)
    cal = handlers.calendars.get("630102")
    assert not cal.is_published(2027) and cal.is_working_day(dt.date(2027, 2, 11))    # a Thursday, guessed
    events.send("approval", approval_ev.CalendarYearPublished(
        region="63", year=2027, holidays={"2027-02-11": "春节", "2027-02-12": "春节"},
        makeup_workdays={"2027-02-07": "春节"}, published_by="province.admin",
        published_at="2026-11-20T10:00:00+08:00"), "63")
    cal = handlers.calendars.get("630102")
    assert cal.is_published(2027) and not cal.is_working_day(dt.date(2027, 2, 11))
    assert cal.is_working_day(dt.date(2027, 2, 7))                                      # the make-up Sunday
    step = domain.StepFacts("s", "review", "", "county.reviewer", "", dt.date(2027, 2, 9))
    rules = domain.RuleSet.for_tenant("630102")
    # claimed Tuesday 02-09, 2 working days: 02-10, then 02-15 (the 11th and 12th are off, 13/14 the weekend)
    assert domain.step_due(rules, cal, step, 4) == dt.date(2027, 2, 15)


T = "640104001"                 # a township of province 64: only these tests publish its years


def _next_check(db, tenant, app):
    from sqlalchemy import text

    with db.unit_of_work(tenant=tenant) as uow:
        return uow.value(text("SELECT next_check_on FROM supervision.cases WHERE tenant_code = :t"
                              " AND application_id = :a"), {"t": tenant, "a": app})


def _cards(db, tenant, number=""):
    from services.supervision.repository import SupervisionRepository

    with db.unit_of_work(tenant=tenant) as uow:
        rows, _ = SupervisionRepository(uow).list_cards(unit=tenant, status="", severity="", rule_id="",
                                                       case_number=number, post_holder="", limit=100, offset=0)
    return rows


def _publish(events, region, year, by, holidays, makeup=None):
    events.send("approval", approval_ev.CalendarYearPublished(
        region=region, year=year, holidays=holidays, makeup_workdays=makeup or {}, published_by=by,
        published_at="2026-12-01T10:00:00+08:00"), region)


def test_publishing_the_year_re_projects_the_cases_near_it_and_closes_its_calendar_card(
        events, handlers, supervision_db, clock):
    from shared.calendar import seed_year_from_package

    D = dt.date
    # the province's 2026 as the package knows it, published by the province's calendar admin: who publishes
    # the province's calendar is now known
    y2026 = seed_year_from_package(2026)
    _publish(events, "64", 2026, "nx.calendar.admin", {d.isoformat(): n for d, n in y2026.holidays.items()},
             {d.isoformat(): n for d, n in y2026.makeup_workdays.items()})
    # a control case whose next threshold is in November (far from 2027): never touched by 2027's publication
    clock.set_today(D(2026, 11, 2))
    far_app, far_number = events.new_case(T)
    events.accepted(T, far_app, far_number, D(2026, 11, 2))
    events.opened(T, far_app, far_number, D(2026, 11, 2), D(2026, 11, 6), D(2026, 11, 30))
    assert _next_check(supervision_db, T, far_app) == D(2026, 11, 5)
    # Monday 2026-12-21: accepted with 10 working days promised; 2027 is not published, so the deadlines guess
    # Monday to Friday: due Monday 2027-01-04 (Friday 01-01 guessed a working day), statutory 2027-01-18
    clock.set_today(D(2026, 12, 21))
    app, number = events.new_case(T)
    events.accepted(T, app, number, D(2026, 12, 21), promised=10)
    events.opened(T, app, number, D(2026, 12, 21), D(2027, 1, 4), D(2027, 1, 18), promised=10,
                  provisional=("2027",))
    [card] = [c for c in _cards(supervision_db, T) if c.rule_id == "calendar-provisional"]
    assert card.status == "open" and number in card.cases and card.subject_ref == "calendar:2027"
    assert card.post_holder == "nx.calendar.admin" and "日历发布人：nx.calendar.admin" in card.text
    # the reviewer claims the review on Monday 12-28: 5 working days (half of 10), guessed 12-29..01-01, 01-04
    clock.set_today(D(2026, 12, 28))
    events.claimed(T, app, number, "step-640-review", D(2026, 12, 28), holder="nx.reviewer")
    # next threshold: the promised yellow day, 1 working day before 01-04 = Friday 01-01 (guessed)
    assert _next_check(supervision_db, T, app) == D(2027, 1, 1)

    # the province publishes 2027: 01-01 元旦 is a holiday
    _publish(events, "64", 2027, "nx.calendar.head", {"2027-01-01": "元旦"})
    closed = next(c for c in _cards(supervision_db, T) if c.id == card.id)
    assert closed.status == "closed" and closed.post_holder == "nx.calendar.head"
    assert "2027 年工作日历已由 nx.calendar.head 发布" in closed.closed_reason
    # re-projected at once (no sweep ran): the yellow day is now Thursday 12-31, the day before the due date
    assert _next_check(supervision_db, T, app) == D(2026, 12, 31)
    assert _next_check(supervision_db, T, far_app) == D(2026, 11, 5)
    # index-driven: a second pass touches the one case near 2027 only (the November one is not read)
    assert handlers.reproject_year("64", 2027, "nx.calendar.head") == (1, 0)
    # no new calendar card for the published year, even before approval's re-projection arrives
    assert not [c for c in _cards(supervision_db, T) if c.rule_id == "calendar-provisional" and c.status == "open"]

    # approval re-projects the case's own deadlines on the published year (due 01-05, statutory 01-19)
    from services.supervision.tests.conftest import deadline
    events.send("approval", approval_ev.DueDateReprojected(
        case_number=number, tenant=T, cause="calendar_published", at="2026-12-28T12:00:00+08:00",
        promised=deadline(D(2026, 12, 21), 10, D(2027, 1, 5)),
        statutory=deadline(D(2026, 12, 21), 20, D(2027, 1, 19))), T)
    assert _next_check(supervision_db, T, app) == D(2027, 1, 4)
    assert not [c for c in _cards(supervision_db, T) if c.rule_id == "calendar-provisional" and c.status == "open"]

    def open_cards():
        return sorted((c.rule_id, c.severity, c.post_holder) for c in _cards(supervision_db, T, number)
                      if c.status == "open")

    # Tuesday 01-05: the review's last day on the published calendar (12-29, 12-30, 12-31, 01-04, 01-05) — yellow,
    # not the red the guessed calendar would have given (due 01-04); the promised deadline is yellow too
    clock.set_today(D(2027, 1, 5))
    handlers.sweep(D(2027, 1, 5))
    assert open_cards() == [("case-promised-deadline", "yellow", "nx.reviewer"),
                            ("step-budget", "yellow", "nx.reviewer")]
    clock.set_today(D(2027, 1, 6))
    handlers.sweep(D(2027, 1, 6))
    assert open_cards() == [("case-promised-deadline", "red", "nx.reviewer"), ("step-budget", "red", "nx.reviewer")]


def _counted(uow, method: str) -> list[str]:
    """The statements the unit of work's `method` sends from now on (each still sent, as it was)."""
    sent: list[str] = []
    real = getattr(uow, method)

    def counting(statement, params=None):
        sent.append(str(statement))
        return real(statement, params)

    setattr(uow, method, counting)
    return sent


def test_a_cases_evaluation_reads_the_case_its_cards_and_its_calendar_cards_in_one_statement_for_its_tenant_only(
        events, handlers, supervision_db, clock):
    """SupervisionRepository.case_with_cards (issue 22): the case, locked; its own open cards; the open calendar cards
    naming it, locked — in one statement; nothing of another case or another tenant, nothing for a case it does not
    hold. set_next_check sends nothing when the locked row already holds the day, and writes every change (the next
    evaluation reads the row again)."""
    import uuid

    from sqlalchemy import text

    from services.supervision.repository import SupervisionRepository

    D = dt.date
    tenant, other = "650102001", "650103001"       # province 65: no other test publishes its years
    clock.set_today(D(2026, 12, 21))
    app, number = events.new_case(tenant)
    events.accepted(tenant, app, number, D(2026, 12, 21), promised=10)
    events.opened(tenant, app, number, D(2026, 12, 21), D(2027, 1, 4), D(2027, 1, 18), promised=10,
                  provisional=("2027",))
    neighbour_app, neighbour = events.new_case(tenant)
    events.accepted(tenant, neighbour_app, neighbour, D(2026, 12, 21), promised=10)
    # the case's own card: past its promised deadline at the sweep of 2027-01-20
    clock.set_today(D(2027, 1, 20))
    handlers.sweep(D(2027, 1, 20))
    with supervision_db.unit_of_work(tenant=tenant) as uow:
        repo = SupervisionRepository(uow)
        read = _counted(uow, "rows")
        case, own, calendar = repo.case_with_cards(tenant, app)
        assert len(read) == 1
        assert case is not None and case.case_number == number and case.application_id == app
        assert [c.subject_ref for c in calendar] == ["calendar:2027"] and number in calendar[0].cases
        assert own and all(c.subject_kind != "calendar" and c.application_id == app for c in own)
        # locked, the case and the calendar card: another transaction can take neither while this one holds them
        with supervision_db.unit_of_work(tenant=tenant) as other_uow:
            assert other_uow.rows(text("SELECT id FROM supervision.cards WHERE id = :id FOR UPDATE SKIP LOCKED"),
                                  {"id": calendar[0].id}) == []
            assert other_uow.rows(text("SELECT application_id FROM supervision.cases WHERE application_id = :a"
                                       " FOR UPDATE SKIP LOCKED"), {"a": app}) == []
        # the neighbour sees none of this case's cards: no card of its own, no calendar card but one naming it
        n_case, n_own, n_calendar = repo.case_with_cards(tenant, neighbour_app)
        assert n_case is not None and n_case.case_number == neighbour
        assert n_own == [] and all(neighbour in c.cases for c in n_calendar)
        # a case this unit does not hold: nothing, and no card read
        assert repo.case_with_cards(tenant, str(uuid.uuid4())) == (None, [], [])
        sent = _counted(uow, "execute")
        held = _next_check(supervision_db, tenant, app)
        repo.set_next_check(tenant, app, held)
        assert sent == []
        repo.set_next_check(tenant, app, D(2027, 2, 1))
        repo.set_next_check(tenant, app, held)
        assert len(sent) == 2 and uow.value(text("SELECT next_check_on FROM supervision.cases"
                                                 " WHERE application_id = :a"), {"a": app}) == held
    with supervision_db.unit_of_work(tenant=other) as uow:
        assert SupervisionRepository(uow).case_with_cards(tenant, app) == (None, [], [])
        assert SupervisionRepository(uow).case_with_cards(other, app) == (None, [], [])
