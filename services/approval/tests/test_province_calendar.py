"""Approval counts a county's working days on the calendar region its province's record names (issue 23, item 3):
Sichuan's administrator sets Sichuan's record to count on Gansu's published years (as 新疆生产建设兵团 counts on
新疆's); a holiday Gansu publishes then moves the due date of a 汶川县 case in approval, re-projected with
Gansu's own, and Sichuan may not publish a year of its own that nobody would count on. With the record back
on Sichuan's own region, 汶川县's calendar has no Gansu holiday. 2029 is used: no other test counts days in it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from services.approval.administration import AdministrationHandlers
from services.approval.handlers import ApprovalHandlers
from services.approval.translate import EventsOut
from services.catalogue.province_handlers import ProvinceHandlers
from shared.calendar_store import PUBLISH_SETTING
from shared.db import owner_connection
from shared.errors import PermissionDenied
from shared.grpc.provinces import GrpcProvinces
from shared.provinces import ProvinceBook
from shared.tenancy import DivisionCode, Principal, Role

SICHUAN_COUNTY = "513221"


def _admin(province: str) -> Principal:
    return Principal(subject=f"test:{province}", username=f"admin.{province}", tenant=DivisionCode(province),
                     roles=frozenset({str(Role.TENANT_ADMIN)}), display_name="省级管理员")


class Tick:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def composed(approval_db, clock, catalogue_server):
    """Approval's handlers as its __main__ composes them: the province records read from the catalogue."""
    source, tick = GrpcProvinces(catalogue_server), Tick()
    book = ProvinceBook(source, ttl=60, monotonic=tick)
    handlers = ApprovalHandlers(approval_db, clock, EventsOut(), provinces=book)
    admin = AdministrationHandlers(approval_db, clock, handlers.events_out, calendars=handlers.calendars,
                                   categories=handlers.categories, provinces=book)
    yield admin, tick
    source.close()


@pytest.fixture
def sichuan_region(catalogue_db, approval_settings):
    """set(region): Sichuan's administrator names the calendar region of Sichuan's record; put back after, and
    2029 taken away again."""
    provinces = ProvinceHandlers(catalogue_db)
    was = provinces.get("51")

    def put(region: str) -> None:
        provinces.put(_admin("51"), "51", {"name": was.name, "calendar_region": region,
                                           "payment_key_ref": was.payment_key_ref, "n_tong": list(was.n_tong),
                                           "complaint_working_days": was.complaint_working_days,
                                           "rectification_days": was.rectification_days})

    yield put
    put(was.calendar_region)
    with owner_connection(approval_settings.database_owner_url) as conn:
        for region in ("62", "51"):
            conn.execute(text(f"SELECT set_config('{PUBLISH_SETTING}', 'region:{region}', true)"))
            conn.execute(text("DELETE FROM approval.calendar_years WHERE region = :r AND year = 2029"), {"r": region})


def _promised_due(approval_db, case_number: str) -> dt.date:
    with approval_db.unit_of_work(tenant=SICHUAN_COUNTY) as uow:      # as the county (row-level security)
        return uow.session.execute(text("SELECT promised_due FROM approval.cases WHERE case_number = :n"),
                                   {"n": case_number}).scalar_one()


def test_a_county_counts_on_the_region_its_provinces_record_names(composed, sichuan_region, bus, clock,
                                                                  approval_db):
    admin, tick = composed
    clock.set_today(dt.date(2029, 3, 1))
    case = bus.accepted(SICHUAN_COUNTY, accepted_on=dt.date(2029, 3, 1)).case_number
    # Thursday 03-01 + 10 working days (2029 unpublished: Monday to Friday) → 03-15
    assert _promised_due(approval_db, case) == dt.date(2029, 3, 15)

    sichuan_region("62")                                       # Sichuan counts on Gansu's published years
    with pytest.raises(PermissionDenied) as refused:
        admin.publish_calendar_year(_admin("51"), 2029, {"2029-03-05": "省定节日"}, {}, "", "")
    assert refused.value.field == "region" and "62" in str(refused.value)
    report = admin.publish_calendar_year(_admin("62"), 2029, {"2029-03-05": "省定节日"}, {}, "", "省政府通知")
    assert SICHUAN_COUNTY in report.tenants and case in report.moved
    assert _promised_due(approval_db, case) == dt.date(2029, 3, 16)     # one working day later
    assert admin.calendars.store.load(SICHUAN_COUNTY).year(2029).holidays == {dt.date(2029, 3, 5): "省定节日"}

    sichuan_region("51")                                       # back on its own region: no Gansu holiday
    tick.t += 61
    admin.calendars.invalidate()
    assert admin.calendars.store.load(SICHUAN_COUNTY).year(2029) is None
    assert admin.calendars.store.load("620602").year(2029).holidays == {dt.date(2029, 3, 5): "省定节日"}
