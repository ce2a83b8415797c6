"""A foreign county onboarded onto the running platform by the one command, and served on its first day
(issue 23, item 2): 东昌府区 (371502, 聊城, Shandong) from the national division files as published (GBK, BOM)
and a staff list, beside the demo county. Its admin publishes an item (its code validated against its
province's format: Shandong has none configured, so GB/T 39046's), its window accepts an application, its
reviewer finds the task in the queue without anyone assigning desks, its decider decides under the
placeholder seal — nothing set by hand — and neither county sees or touches the other's on any route tried."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import httpx
import pytest

from infra.oidc.client import login
from infra.onboard.__main__ import OnboardSettings, main
from tests.fixtures import E2E_TODAY
from tests.test_e2e_case_flow import accepted_at_the_window, county_item, found
from tests.test_e2e_intake import RESIDENTS, Api, wait_for

pytestmark = pytest.mark.e2e
DATA = Path(__file__).resolve().parent / "data" / "divisions-371502"
COUNTY = "371502"
APPROVAL = "/api/v1/approval"
STAFF = {  # username: (name, unit, roles, password)
    "dcf.clerk": ("王受理", COUNTY, "综合受理员", "pw-dcf-clerk"),
    "dcf.reviewer": ("张审核", COUNTY, "审核人", "pw-dcf-reviewer"),
    "dcf.decider": ("李决定", COUNTY, "决定人", "pw-dcf-decider"),
    "dcf.admin": ("赵管理", COUNTY, "单位管理员;机关负责人", "pw-dcf-admin"),
    "dcf.cashier": ("钱收费", COUNTY, "cashier", "pw-dcf-cashier"),
}


class Staff(Api):
    """A member of the onboarded county's staff, logged in with the password of the staff list."""

    def __init__(self, platform, username: str):
        self.base = platform.gateway_url
        self.headers = {"authorization": f"Bearer {login(platform.oidc_url, username, STAFF[username][3])}"}


@pytest.fixture(scope="module")
def county(demo_platform, tmp_path_factory):
    d = tmp_path_factory.mktemp("onboard-e2e")
    (d / "areas.csv").write_bytes((DATA / "areas.csv").read_text(encoding="utf-8").encode("gbk"))
    (d / "streets.csv").write_bytes((DATA / "streets.csv").read_text(encoding="utf-8").encode("utf-8-sig"))
    (d / "villages.csv").write_bytes((DATA / "villages.csv").read_bytes())
    lines = ["username,name,unit_code,roles,password"] + [f"{u},{n},{unit},{roles},{pw}"
                                                          for u, (n, unit, roles, pw) in STAFF.items()]
    (d / "staff.csv").write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    s = demo_platform.settings
    settings = OnboardSettings(database_url=s.database_url, database_owner_url=s.database_owner_url,
                               oidc_server_url=demo_platform.oidc_url, fixed_today=E2E_TODAY,
                               idp_admin_client_secret=demo_platform.admin_client_secret)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--county", COUNTY, "--areas", str(d / "areas.csv"), "--streets", str(d / "streets.csv"),
                     "--villages", str(d / "villages.csv"), "--staff", str(d / "staff.csv")], settings=settings)
    assert code == 0, out.getvalue()
    return out.getvalue()


def _item(basic_code: str, name: str) -> dict:
    return {"elements": {
        "name": name, "basic_code": basic_code, "item_type": "07", "exercise_level": "4", "case_kind": "2",
        "department": "东昌府区民政局", "legal_basis": "《中华人民共和国老年人权益保障法》",
        "acceptance_conditions": "本区户籍年满 60 周岁的老年人", "targets": ["natural_person"],
        "statutory_limit_days": 20, "promised_limit_days": 5, "keywords": ["老年人", "优待证"],
        "scenarios": [{"code": "S1", "name": "首次申领", "materials": [
            {"code": "M1", "name": "居民身份证", "core": True}, {"code": "M2", "name": "户口簿", "core": True}]}]}}


def test_the_onboarded_county_takes_an_application_to_a_decision_with_nothing_set_by_hand(demo_platform, county):
    assert "导入单位：363 个" in county and "工作人员：5 人" in county
    admin, clerk, reviewer, decider = (Staff(demo_platform, u) for u in
                                       ("dcf.admin", "dcf.clerk", "dcf.reviewer", "dcf.decider"))
    assert admin.get("/api/v1/me")["tenant"] == COUNTY

    # its code is validated against its province's format: Shandong configures none, so GB/T 39046's
    r = httpx.post(f"{admin.base}/api/v1/catalogue/items", headers=admin.headers, timeout=30,
                   json=_item(f"LNDCF{int(time.time()) % 10**8:08d}X", "老年人优待证办理"))
    assert r.status_code == 422 and r.json()["field"] == "elements.basic_code", r.text
    item = admin.post("/api/v1/catalogue/items", _item(f"DCF{int(time.time()) % 10**6:06d}", "老年人优待证办理"),
                      expect=201)
    item = admin.post(f"/api/v1/catalogue/items/{item['id']}/publish")

    app, accepted = accepted_at_the_window(clerk, item, RESIDENTS[0])
    number = accepted["case_number"]
    assert number.startswith(COUNTY)

    # the reviewer sees the task in the queue on day one: the command gave every desk
    task = wait_for(lambda: next((t for t in reviewer.get(f"{APPROVAL}/queue", limit=200)["tasks"]
                                  if t["case_number"] == number), None), what="the review task in the queue")
    assert task["kind"] == "review"
    reviewer.post(f"{APPROVAL}/tasks/{task['step_id']}/claim")
    case = reviewer.post(f"{APPROVAL}/tasks/{task['step_id']}/review", {"opinion": "材料齐全", "conclusion": "agree"})
    decision = next(s for s in case["steps"] if s["kind"] == "decision")
    decider.post(f"{APPROVAL}/tasks/{decision['id']}/claim")
    case = decider.post(f"{APPROVAL}/cases/{case['id']}/decide", {"outcome": "approve", "opinion": "准予办理"})
    assert case["decision"]["outcome"] == "approved"
    wait_for(lambda: clerk.get(f"/api/v1/intake/applications/{app['id']}")["status"] in ("decided", "completed"),
             what="the decision reaching the window")
    assert decider.get(f"{APPROVAL}/seal")["code"] == f"PENDING-{COUNTY}"

    # isolation from the demo county, both ways, on the list, by-id and write routes
    demo_clerk, demo_reviewer = Api(demo_platform, "county.clerk"), Api(demo_platform, "county.reviewer")
    demo_app, _ = accepted_at_the_window(demo_clerk, county_item(demo_clerk, "居民身份证换领"), RESIDENTS[5])
    demo_apps = demo_clerk.get("/api/v1/intake/applications", limit=200)["applications"]
    assert demo_app["id"] in {a["id"] for a in demo_apps} and all(a["id"] != app["id"] for a in demo_apps)
    assert all(a["tenant"] == COUNTY for a in clerk.get("/api/v1/intake/applications", limit=200)["applications"])
    assert found(demo_clerk, f"/api/v1/intake/applications/{app['id']}") is None
    assert found(clerk, f"/api/v1/intake/applications/{demo_app['id']}") is None
    assert found(demo_reviewer, f"{APPROVAL}/cases/by-number/{number}") is None
    assert found(demo_reviewer, f"{APPROVAL}/cases/{case['id']}") is None
    assert all(t["case_number"].startswith(COUNTY) for t in reviewer.get(f"{APPROVAL}/queue", limit=200)["tasks"])
    assert all(not t["case_number"].startswith(COUNTY)
               for t in demo_reviewer.get(f"{APPROVAL}/queue", limit=200)["tasks"])
    r = httpx.post(f"{clerk.base}/api/v1/intake/applications/{demo_app['id']}/pickup", headers=clerk.headers,
                   json={"picked_up_by": "王秀英", "id_number": RESIDENTS[5], "channel": "window"}, timeout=30)
    assert r.status_code == 404
    assert all(i["id"] != item["id"] for i in demo_clerk.get("/api/v1/catalogue/items", limit=200)["items"])
    r = httpx.post(f"{demo_clerk.base}/api/v1/catalogue/items/{item['id']}/publish",
                   headers=Api(demo_platform, "county.admin").headers, timeout=30)
    assert r.status_code in (403, 404)
