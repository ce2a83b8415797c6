"""Supervision's thresholds come from the province's record (issue 23, item 3): Gansu's administrator sets the yellow
card of the promised deadline to 3 working days before it at the catalogue, and a 凉州区 case turns yellow on the
day that makes; Sichuan's units keep the documented default (1 working day, domain.DEFAULT_RULES); the record
takes only the thresholds supervision has, in their ranges."""

from __future__ import annotations

import datetime as dt

import pytest

from services.catalogue.province_handlers import ProvinceHandlers
from services.supervision.domain import CASE_PROMISED, DEFAULT_RULES
from services.supervision.tests.conftest import COUNTY
from shared.errors import InvalidArgument
from shared.provinces import SUPERVISION_THRESHOLDS
from shared.tenancy import DivisionCode, Principal, Role

D = dt.date
YELLOW = "case-promised-deadline.yellow_working_days"


def _admin(province: str) -> Principal:
    return Principal(subject=f"test:{province}", username=f"admin.{province}", tenant=DivisionCode(province),
                     roles=frozenset({str(Role.TENANT_ADMIN)}))


def _supervisor(tenant: str) -> Principal:
    return Principal(subject=f"test:sup:{tenant}", username=f"sup.{tenant}", tenant=DivisionCode(tenant),
                     roles=frozenset({str(Role.SUPERVISOR)}))


@pytest.fixture
def gansu_thresholds(catalogue_db, handlers):
    """set(thresholds): Gansu's administrator writes its record's thresholds; put back after."""
    provinces = ProvinceHandlers(catalogue_db)
    was = provinces.get("62")

    def put(thresholds: dict) -> None:
        provinces.put(_admin("62"), "62", {"name": was.name, "calendar_region": was.calendar_region,
                                           "payment_key_ref": was.payment_key_ref, "n_tong": list(was.n_tong),
                                           "complaint_working_days": was.complaint_working_days,
                                           "rectification_days": was.rectification_days,
                                           "supervision_thresholds": thresholds})
        handlers.provinces.invalidate()

    yield put
    put(dict(was.supervision_thresholds))


def _promised_cards(handlers, tenant: str, number: str) -> list[tuple[str, str]]:
    from sqlalchemy import text

    with handlers.db.unit_of_work(tenant=tenant) as uow:
        return [tuple(r) for r in uow.session.execute(text(
            "SELECT rule_id, severity FROM supervision.cards WHERE case_number = :n AND rule_id = :r"),
            {"n": number, "r": CASE_PROMISED}).all()]


def test_a_provinces_yellow_days_come_from_its_record_and_another_keeps_the_default(gansu_thresholds, handlers,
                                                                                    events):
    gansu_thresholds({YELLOW: 3})
    assert handlers.rules(_supervisor(COUNTY))[CASE_PROMISED].t("yellow_working_days") == 3
    assert handlers.rules(_supervisor("513221"))[CASE_PROMISED].t("yellow_working_days") == 1    # Sichuan: default
    app, number = events.new_case()
    events.submitted(COUNTY, app, D(2026, 9, 29), clerk="county.clerk")
    events.accepted(COUNTY, app, number, D(2026, 9, 29))
    events.opened(COUNTY, app, number, D(2026, 9, 29), D(2026, 10, 10), D(2026, 11, 2))
    # due Saturday 10-10 (a make-up working day): 3 working days before it are 10-09, 10-08 and 09-30 (10-01…07
    # off); with the default of 1 nothing shows on 10-08 (services/supervision/tests/test_cards.py)
    handlers.sweep(D(2026, 10, 8))
    assert _promised_cards(handlers, COUNTY, number) == [(CASE_PROMISED, "yellow")]

    gansu_thresholds({})                                       # the record names none: the default again
    assert handlers.rules(_supervisor(COUNTY))[CASE_PROMISED].t("yellow_working_days") == 1


def test_the_record_takes_only_supervisions_thresholds_in_their_ranges(gansu_thresholds):
    # the record's list is supervision's (a threshold added to a rule must be added there too, with its range)
    assert set(SUPERVISION_THRESHOLDS) == {f"{r.id}.{name}" for r in DEFAULT_RULES for name in r.thresholds}
    for bad in ({"case-promised-deadline.red_days": 1}, {"no-such-rule.yellow_working_days": 1}, {YELLOW: -1},
                {YELLOW: 31}, {YELLOW: True}, {YELLOW: "3"}, {YELLOW: float("nan")}, {"step-budget.review_share": 2},
                ["x"]):
        with pytest.raises(InvalidArgument) as refused:
            gansu_thresholds(bad)
        assert refused.value.field == "supervision_thresholds", bad
