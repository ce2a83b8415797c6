"""The province administrator's onboarding action on the running platform (issue 23, item 2): the demo's
province.admin (甘肃省) uploads 民勤县 (620621)'s national division files and staff list through the gateway;
the onboarding service runs the job with the identity provider's administrator client (the gateway holds none);
the report is read back; then the new county's own admin publishes an item and its clerk, who logs in with the
password of the staff list, accepts an application under a 620621 case number. The demo county's admin and
another province's path are refused."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from infra.oidc.client import login
from tests.test_e2e_case_flow import accepted_at_the_window
from tests.test_e2e_intake import RESIDENTS, Api, wait_for
from tests.test_e2e_onboard import _item

pytestmark = pytest.mark.e2e
DATA = Path(__file__).resolve().parent / "data" / "divisions-620621"
COUNTY = "620621"
STAFF = {"mq.clerk": ("韩受理", COUNTY, "综合受理员", "pw-mq-clerk"),
         "mq.admin": ("石管理", COUNTY, "单位管理员", "pw-mq-admin"),
         "mq.reviewer": ("魏审核", COUNTY, "审核人", "pw-mq-reviewer"),
         "mq.decider": ("蒋决定", COUNTY, "决定人", "pw-mq-decider")}


class Staff(Api):
    def __init__(self, platform, username: str):
        self.base = platform.gateway_url
        self.headers = {"authorization": f"Bearer {login(platform.oidc_url, username, STAFF[username][3])}"}


def _files() -> dict:
    staff = "username,name,unit_code,roles,password\n" + "".join(
        f"{u},{n},{unit},{roles},{pw}\n" for u, (n, unit, roles, pw) in STAFF.items()) + "mq.bad,坏,371502,审核人,x\n"
    return {"areas": ("areas.csv", (DATA / "areas.csv").read_text(encoding="utf-8").encode("gbk"), "text/csv"),
            "streets": ("streets.csv", (DATA / "streets.csv").read_bytes(), "text/csv"),
            "villages": ("villages.csv", (DATA / "villages.csv").read_bytes(), "text/csv"),
            "staff": ("staff.csv", staff.encode("gbk"), "text/csv")}


def test_the_province_admin_onboards_a_county_and_its_clerk_takes_an_application(demo_platform):
    province = Api(demo_platform, "province.admin")
    assert province.get("/api/v1/me")["tenant"] == "62"
    url = f"{demo_platform.gateway_url}/api/v1/provinces/62/counties"
    # the demo county's admin is not the province's
    county_admin = Api(demo_platform, "county.admin")
    r = httpx.post(url, headers=county_admin.headers, data={"county": COUNTY}, files=_files(), timeout=60)
    assert r.status_code == 403, r.text
    r = httpx.post(url, headers=province.headers, data={"county": COUNTY}, files=_files(), timeout=60)
    assert r.status_code == 202, r.text
    path = f"/api/v1/provinces/62/onboarding-jobs/{r.json()['id']}"
    job = wait_for(lambda: (j := province.get(path))["status"] in ("done", "failed") and j, timeout=180,
                   what="the onboarding job to end")
    assert job["status"] == "done", job
    assert job["units_imported"] == 1 + 18 + 291 and job["staff_provisioned"] == 4
    assert [(p["file"], p["line"]) for p in job["problems"]] == [("staff.csv", 6)]
    assert any(line.startswith("统一身份认证：新建/更新") for line in job["report"])

    # the county serves on its first day: its admin publishes an item, its clerk takes an application
    admin, clerk = Staff(demo_platform, "mq.admin"), Staff(demo_platform, "mq.clerk")
    assert clerk.get("/api/v1/me")["tenant"] == COUNTY
    item = _item(f"MQ{int(time.time()) % 10**8:08d}", "老年人优待证办理")
    item["elements"]["department"] = "民勤县民政局"
    item = admin.post("/api/v1/catalogue/items", item, expect=201)
    item = admin.post(f"/api/v1/catalogue/items/{item['id']}/publish")
    _, accepted = accepted_at_the_window(clerk, item, RESIDENTS[1])
    assert accepted["case_number"].startswith(COUNTY)
