"""One calendar (issue 23, item 4): a province's year, published once at approval and carried by
calendar_year_published, goes into intake's own copy and moves the decision date (受理期限, receipt + 5 working
days) of every application under the province that awaits its decision — not another province's, not an
accepted one's — and not a 容缺 promise, a date the applicant signed (domain.Promise). A province whose record
names another region counts on that region's year, in intake as in approval. 2029 is used: no other test counts
days in it."""

from __future__ import annotations

import datetime as dt

import pytest
from sanji.approval.v1 import events_pb2 as approval_ev
from sanji.intake.v1 import intake_pb2 as pb
from sqlalchemy import text

from services.catalogue.province_handlers import ProvinceHandlers
from services.intake.service import SUBSCRIPTIONS
from services.intake.tests.conftest import submit_request
from services.intake.translate import calendar_year
from shared.calendar import CalendarYear, WorkingCalendar
from shared.calendar_store import PUBLISH_SETTING
from shared.db import owner_connection
from shared.messaging import PoisonMessage
from shared.tenancy import DivisionCode, Principal, Role

RECEIVED_ON = dt.date(2029, 3, 5)          # a Monday
EXTRA = dt.date(2029, 3, 7)                # a Wednesday inside the five working days


@pytest.fixture
def in_2029(today, migrated, intake_handlers):
    today.set_today(RECEIVED_ON)
    yield today
    with owner_connection(migrated.database_owner_url) as conn:
        conn.execute(text(f"SELECT set_config('{PUBLISH_SETTING}', 'region:62', true)"))
        conn.execute(text("DELETE FROM intake.calendar_years WHERE region = '62' AND year = 2029"))
    intake_handlers.calendars.invalidate()


def _year(**days: str) -> approval_ev.CalendarYearPublished:
    return approval_ev.CalendarYearPublished(region="62", year=2029, holidays={"2029-01-01": "元旦", **days},
                                             published_by="gansu.admin", published_at="2029-02-01T09:00:00+08:00",
                                             cause="2029 年节假日安排发布")


def test_a_provinces_year_moves_the_decision_dates_awaiting_under_it(in_2029, clerk, township_item,
                                                                     intake_handlers):
    waiting = clerk.SubmitApplication(submit_request(township_item))
    decided = clerk.SubmitApplication(submit_request(township_item))
    clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=decided.id))
    before = dt.date.fromisoformat(waiting.decision_due)
    assert before == WorkingCalendar().due_date(RECEIVED_ON, 5)[0] == dt.date(2029, 3, 12)

    row = next(r for r in SUBSCRIPTIONS if r.handler == "apply_calendar_year")
    moved = intake_handlers.apply_calendar_year(*calendar_year(_year(**{EXTRA.isoformat(): "地方节日"})))
    assert moved >= 1 and row.message is approval_ev.CalendarYearPublished

    after = clerk.GetApplication(pb.GetApplicationRequest(application_id=waiting.id))
    assert after.decision_due == "2029-03-13"                # one working day later: 3-07 is a holiday now
    stored = intake_handlers.calendars.store.load("620602001").year(2029)
    assert EXTRA in stored.holidays and stored.published_by == "gansu.admin"
    assert intake_handlers.calendars.store.load("513221").year(2029) is None      # another province's tenants
    accepted = clerk.GetApplication(pb.GetApplicationRequest(application_id=decided.id))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED
    # the same year again (a redelivery): nothing moves
    assert intake_handlers.apply_calendar_year(*calendar_year(_year(**{EXTRA.isoformat(): "地方节日"}))) == 0


def test_a_year_that_cannot_be_or_a_region_that_is_no_province_is_parked(in_2029, intake_handlers):
    with pytest.raises(PoisonMessage):
        calendar_year(_year(**{"2030-01-02": "不在本年"}))
    with pytest.raises(PoisonMessage):
        intake_handlers.apply_calendar_year("620602", CalendarYear(year=2029, holidays={"2029-01-01": "元旦"}))
    assert intake_handlers.calendars.store.load("620602").year(2029) is None


def test_a_rongque_promise_is_the_date_the_applicant_signed_and_does_not_move(in_2029, clerk, township_item,
                                                                               intake_handlers):
    # 《四邻签字意见》 (M3, waivable) missing: accepted under 容缺, the applicant promising it by Friday 03-09
    app = clerk.SubmitApplication(submit_request(township_item, materials=("M1", "M2", "M4")))
    clerk.AcceptApplication(pb.AcceptApplicationRequest(
        application_id=app.id, waived=[pb.WaivedMaterial(material_code="M3", promised_by="2029-03-09")]))
    # the province then makes the promised day and one before it holidays
    intake_handlers.apply_calendar_year(*calendar_year(_year(**{EXTRA.isoformat(): "地方节日",
                                                                "2029-03-09": "地方节日"})))
    assert EXTRA in intake_handlers.calendars.store.load("620602001").year(2029).holidays
    after = clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert after.status == pb.APPLICATION_STATUS_ACCEPTED
    assert [(w.material_code, w.promised_by) for w in after.waived] == [("M3", "2029-03-09")]     # as signed
    with intake_handlers.db.unit_of_work(tenant="620602001") as uow:      # the township's (row-level security)
        assert uow.session.execute(text("SELECT promise_due FROM intake.applications WHERE id = :i"),
                                   {"i": app.id}).scalar_one() == dt.date(2029, 3, 9)


def test_a_province_that_follows_anothers_region_counts_on_its_year_in_intake_too(in_2029, intake_handlers,
                                                                                    catalogue_db):
    provinces = ProvinceHandlers(catalogue_db)
    was = provinces.get("51")
    admin = Principal(subject="test:51", username="sichuan.admin", tenant=DivisionCode("51"),
                      roles=frozenset({str(Role.TENANT_ADMIN)}))

    def follow(region: str) -> None:
        provinces.put(admin, "51", {"name": was.name, "calendar_region": region,
                                    "payment_key_ref": was.payment_key_ref, "n_tong": list(was.n_tong),
                                    "complaint_working_days": was.complaint_working_days,
                                    "rectification_days": was.rectification_days})
        intake_handlers.provinces.invalidate()
        intake_handlers.calendars.invalidate()

    try:
        follow("62")
        intake_handlers.apply_calendar_year(*calendar_year(_year(**{EXTRA.isoformat(): "地方节日"})))
        assert EXTRA in intake_handlers.calendars.store.load("513221").year(2029).holidays   # as approval counts
        follow("51")
        assert intake_handlers.calendars.store.load("513221").year(2029) is None
    finally:
        follow(was.calendar_region)
