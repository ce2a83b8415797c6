"""One calendar (issue 23, item 4): a province's year is published once, at approval, and the event that
carries it to every other service that computes a date (calendar_year_published) is written in the same
transaction as the year — both or neither. 2029 is used: no other test counts days in it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text

from shared.calendar import CalendarYear
from shared.calendar_store import PUBLISH_SETTING
from shared.db import owner_connection, relay_transaction
from shared.errors import InvalidArgument
from shared.tenancy import DivisionCode, Principal, Role

PROVINCE = Principal(subject="p", username="gansu.admin", tenant=DivisionCode("62"),
                     roles=frozenset({str(Role.TENANT_ADMIN)}), display_name="甘肃省管理员")


@pytest.fixture
def year_2029(approval_settings, admin):
    yield
    with owner_connection(approval_settings.database_owner_url) as conn:
        conn.execute(text(f"SELECT set_config('{PUBLISH_SETTING}', 'region:62', true)"))
        conn.execute(text("DELETE FROM approval.calendar_years WHERE region = '62' AND year = 2029"))
    admin.calendars.invalidate()


def _events(db) -> list[dict]:
    with relay_transaction(db.engine) as c:
        rows = c.execute(text("SELECT body, tenant FROM approval.outbox WHERE routing_key = 'calendar_year_published'"
                              " AND correlation_id = 'calendar:62:2029' ORDER BY seq")).all()
    return [{**json.loads(r[0]), "_tenant": r[1]} for r in rows]


def test_the_year_and_its_event_commit_together(admin, approval_db, year_2029):
    before = len(_events(approval_db))
    admin.publish_calendar_year(PROVINCE, 2029, {"2029-01-01": "元旦", "2029-10-01": "国庆节"},
                                {"2029-09-29": "国庆节调休"}, "", "省政府通知")
    events = _events(approval_db)
    assert len(events) == before + 1
    event = events[-1]
    assert event["region"] == "62" and event["year"] == 2029 and event["_tenant"] == "62"
    assert event["holidays"] == {"2029-01-01": "元旦", "2029-10-01": "国庆节"}
    assert event["makeup_workdays"] == {"2029-09-29": "国庆节调休"} and event["published_by"] == "gansu.admin"
    assert "省政府通知" in event["cause"]
    assert admin.calendars.store.load("620602").year(2029).holidays


def test_a_refused_year_writes_neither_the_year_nor_the_event(admin, approval_db, year_2029):
    before = len(_events(approval_db))
    with pytest.raises(InvalidArgument):
        admin.publish_calendar_year(PROVINCE, 2029, {"2029-01-01": "元旦"}, {"2029-01-03": "不是周末"}, "", "")
    assert len(_events(approval_db)) == before
    assert admin.calendars.store.load("620602").year(2029) is None


@pytest.fixture
def national_2029(approval_settings, admin, year_2029):
    """A national 2029 (as the operators publish it with `python -m shared.calendar_store publish`), taken away
    after the test with the province's row (year_2029)."""
    national = CalendarYear(year=2029, holidays={dt.date(2029, 10, d): "国庆节" for d in range(1, 8)},
                            makeup_workdays={dt.date(2029, 9, 29): "国庆节"})
    admin.calendars.store.publish(national, by="国务院")
    yield
    with owner_connection(approval_settings.database_owner_url) as conn:
        conn.execute(text(f"SELECT set_config('{PUBLISH_SETTING}', 'region:', true)"))
        conn.execute(text("DELETE FROM approval.calendar_years WHERE region = '' AND year = 2029"))
    admin.calendars.invalidate()


def test_the_province_publishes_only_its_additions_over_the_national_year(admin, approval_db, national_2029):
    # sent with a national day repeated: the event and the stored row carry the addition only
    admin.publish_calendar_year(PROVINCE, 2029, {"2029-10-01": "国庆节", "2029-11-05": "省定节日"}, {}, "", "")
    event = _events(approval_db)[-1]
    assert event["holidays"] == {"2029-11-05": "省定节日"} and event["makeup_workdays"] == {}
    year = admin.calendars.store.load("620602").year(2029)          # the county's calendar: both layers
    assert year.holidays[dt.date(2029, 10, 1)] == "国庆节" and year.holidays[dt.date(2029, 11, 5)] == "省定节日"
    assert year.makeup_workdays == {dt.date(2029, 9, 29): "国庆节"}
    assert admin.calendars.store.load("513221").year(2029).holidays.get(dt.date(2029, 11, 5)) is None
    # a make-up working day on a national holiday is refused, and nothing is written
    before = len(_events(approval_db))
    with pytest.raises(InvalidArgument) as info:
        admin.publish_calendar_year(PROVINCE, 2029, {"2029-11-05": "省定节日"}, {"2029-10-06": "调休"}, "", "")
    assert info.value.field == "makeup_workdays" and len(_events(approval_db)) == before
