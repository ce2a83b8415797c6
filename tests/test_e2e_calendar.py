"""One calendar for every service, through the real processes (issue 23, item 4): the province's administrator
(added to the identity provider at run time through its admin API) publishes Gansu's 2026 arrangement with one
more holiday, once, at approval; the accepted case's due date moves in approval and the waiting application's
decision date (受理期限) moves in intake alike — the same day, from the same publication. The national
arrangement is published back afterwards, and both move back."""

from __future__ import annotations

import datetime as dt

import pytest
from keycloak import KeycloakAdmin

from infra.oidc.client import login
from shared.calendar import WorkingCalendar, seed_year_from_package
from tests.fixtures import E2E_TODAY
from tests.test_e2e_case_flow import accepted_at_the_window, county_item, found
from tests.test_e2e_intake import RESIDENTS, Api, submit, wait_for

pytestmark = pytest.mark.e2e
APPROVAL = "/api/v1/approval"
EXTRA = dt.date(2026, 10, 9)        # a Friday after the National Day holidays, inside both counts


class Province(Api):
    def __init__(self, platform):
        admin = KeycloakAdmin(server_url=platform.oidc_url, realm_name="sanji", client_id="sanji-admin",
                              client_secret_key=platform.admin_client_secret)
        if admin.get_user_id("gansu.admin") is None:
            uid = admin.create_user({"username": "gansu.admin", "firstName": "省级管理员", "enabled": True,
                                     "attributes": {"tenant": ["62"]}})
            admin.set_user_password(uid, "pw-gansu-admin", temporary=False)
            admin.assign_realm_roles(uid, [admin.get_realm_role("tenant_admin")])
        self.base = platform.gateway_url
        self.headers = {"authorization": f"Bearer {login(platform.oidc_url, 'gansu.admin', 'pw-gansu-admin')}"}

    def publish(self, holidays: dict[dt.date, str], makeup: dict[dt.date, str], reason: str) -> dict:
        return self.post(f"{APPROVAL}/calendar/2026", {
            "holidays": {d.isoformat(): n for d, n in holidays.items()},
            "makeup_workdays": {d.isoformat(): n for d, n in makeup.items()}, "reason": reason})


def test_a_provinces_calendar_moves_due_dates_in_intake_and_approval_alike(demo_platform):
    national = seed_year_from_package(2026)
    assert EXTRA not in national.holidays and EXTRA not in national.makeup_workdays and EXTRA.weekday() == 4
    clerk, reviewer, province = Api(demo_platform, "county.clerk"), Api(demo_platform, "county.reviewer"), \
        Province(demo_platform)
    item = county_item(clerk, "居民身份证换领")
    sc = item["elements"]["scenarios"][0]
    waiting = submit(clerk, item, sc, RESIDENTS[1], [m["code"] for m in sc["materials"]])
    _, accepted = accepted_at_the_window(clerk, item, RESIDENTS[2])
    case = wait_for(lambda: found(reviewer, f"{APPROVAL}/cases/by-number/{accepted['case_number']}"),
                    what="the case to open")
    decision_before = dt.date.fromisoformat(waiting["decision_due"])
    promised_before = dt.date.fromisoformat(case["promised"]["due"])
    today = dt.date.fromisoformat(E2E_TODAY)
    assert decision_before == WorkingCalendar([national]).due_date(today, 5)[0] > EXTRA
    assert promised_before > EXTRA

    def dates() -> tuple[dt.date, dt.date]:
        app = clerk.get(f"/api/v1/intake/applications/{waiting['id']}")
        c = reviewer.get(f"{APPROVAL}/cases/{case['id']}")
        return dt.date.fromisoformat(app["decision_due"]), dt.date.fromisoformat(c["promised"]["due"])

    gansu = WorkingCalendar([type(national)(year=2026, holidays={**national.holidays, EXTRA: "省定假日"},
                                            makeup_workdays=national.makeup_workdays)])
    decision_after = gansu.due_date(today, 5)[0]
    assert decision_after > decision_before
    try:
        province.publish({**national.holidays, EXTRA: "省定假日"}, national.makeup_workdays, "省政府通知")
        decision_now, promised_now = wait_for(
            lambda: (lambda d: d if d[0] != decision_before and d[1] != promised_before else None)(dates()),
            timeout=60, what="the province's calendar reaching intake and approval")
        assert decision_now == decision_after                   # intake: one working day later
        assert promised_now > promised_before                   # approval: later too, from the same publication
    finally:
        province.publish(national.holidays, national.makeup_workdays, "恢复国家安排")
    wait_for(lambda: dates() == (decision_before, promised_before), timeout=60,
             what="both back on the national calendar")
