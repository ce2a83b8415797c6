"""The workbench's guards without a browser (the browser tests in tests/browser walk the flows): a page's
form is refused without the CSRF value of the caller's session, every page carries the Content-Security-
Policy, a page a role may not use is a 403 page in Chinese, static files are only the vendored ones, and a
unit admin publishes a draft from the workbench."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.pages_kit import csrf_of
from gateway.settings import GatewaySettings
from gateway.tests.test_gateway import body


def gateway(catalogue_server, oidc, verifier) -> TestClient:
    settings = GatewaySettings(catalogue_target=catalogue_server, oidc_server_url=oidc.url)
    return TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False,
                      follow_redirects=False, client=("203.0.113.70", 40000))


def test_a_unit_admin_publishes_a_draft_with_the_form_and_not_without_its_csrf(catalogue_server, oidc, verifier,
                                                                             tokens):
    gw = gateway(catalogue_server, oidc, verifier)
    token = tokens["county.admin"]
    bearer = {"authorization": f"Bearer {token}"}
    draft = gw.post("/api/v1/catalogue/items", json=body(name="工作台发布测试事项"), headers=bearer).json()
    page = gw.get("/console", headers=bearer)
    assert page.status_code == 200 and f'data-item="{draft["id"]}"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    path = f"/console/catalogue/{draft['id']}/publish"
    form = {"content-type": "application/x-www-form-urlencoded"}
    for refused in ("", "csrf=", f"csrf={csrf_of(tokens['dongdajie.admin'])}"):
        r = gw.post(path, content=refused, headers={**bearer, **form})
        assert r.status_code == 403 and "防伪" in r.text and "text/html" in r.headers["content-type"]
    assert gw.get(f"/api/v1/catalogue/items/{draft['id']}", headers=bearer).json()["status"] == "draft"
    r = gw.post(path, content=f"csrf={csrf_of(token)}", headers={**bearer, **form})
    assert r.status_code == 303
    assert gw.get(f"/api/v1/catalogue/items/{draft['id']}", headers=bearer).json()["status"] == "published"
    # another unit's admin cannot publish it (the catalogue's wall), and says so on a page
    other = gw.get("/api/v1/catalogue/items", headers={"authorization": f"Bearer {tokens['dongdajie.admin']}"})
    assert draft["id"] not in other.text


def test_a_page_a_role_may_not_use_is_a_chinese_403_page_and_no_session_goes_to_the_login(catalogue_server, oidc,
                                                                                        verifier, tokens):
    gw = gateway(catalogue_server, oidc, verifier)
    r = gw.get("/console/catalogue/x/publish")
    assert r.status_code == 405
    r = gw.post("/console/catalogue/x/publish", content="csrf=x",
                headers={"authorization": f"Bearer {tokens['county.clerk']}",
                         "content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 403          # the clerk's session has another CSRF value: refused first
    r = gw.post("/console/catalogue/x/publish", content=f"csrf={csrf_of(tokens['county.clerk'])}",
                headers={"authorization": f"Bearer {tokens['county.clerk']}",
                         "content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 403 and "您的角色不能使用此页面" in r.text and "单位管理员" in r.text
    assert "Traceback" not in r.text
    r = gw.get("/console/window")            # no session: the login, not a 401
    assert r.status_code == 303 and r.headers["location"] == "/console/login"


def test_only_the_vendored_static_files_are_served(catalogue_server, oidc, verifier):
    gw = gateway(catalogue_server, oidc, verifier)
    r = gw.get("/static/htmx.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript") and b"htmx" in r.content
    assert gw.get("/static/sanji.css").status_code == 200
    for name in ("pages.py", "..%2Fpages.py", "missing.js"):
        assert gw.get(f"/static/{name}").status_code == 404


def test_a_unit_admin_completes_adjusts_lists_for_proxy_and_cancels_an_item_with_the_forms(catalogue_server, oidc,
                                                                                           verifier, tokens):
    """The item page (gateway/pages_admin.py): each form is the catalogue's own call, its refusal a page."""
    gw = gateway(catalogue_server, oidc, verifier)
    token = tokens["county.admin"]
    bearer = {"authorization": f"Bearer {token}"}
    form = {**bearer, "content-type": "application/x-www-form-urlencoded"}
    api = "/api/v1/catalogue/items/{}"
    draft = gw.post("/api/v1/catalogue/items", json=body(name="工作台完善草稿事项"), headers=bearer).json()
    page = gw.get(f"/console/catalogue/{draft['id']}", headers=bearer)
    assert page.status_code == 200 and 'id="draft-form"' in page.text and "工作台完善草稿事项" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # complete the draft: the elements as the page shows them, one changed
    elements = json.loads(html.unescape(re.search(r'<textarea name="elements"[^>]*>(.*?)</textarea>', page.text,
                                                  re.S).group(1)))
    elements["promised_limit_days"] = 7
    post = lambda path, **fields: gw.post(path, headers=form, content=urlencode(  # noqa: E731
        {"csrf": csrf_of(token), **fields}))
    assert post(f"/console/catalogue/{draft['id']}/draft", elements=json.dumps(elements)).status_code == 303
    assert gw.get(api.format(draft["id"]), headers=bearer).json()["elements"]["promised_limit_days"] == 7
    r = post(f"/console/catalogue/{draft['id']}/draft", elements="{not json")
    assert r.status_code == 422 and r.json()["field"] == "elements"
    assert post(f"/console/catalogue/{draft['id']}/publish").status_code == 303
    # adjust: a new version with its reason; the catalogue refuses one without a reason, naming the field
    elements["promised_limit_days"] = 5
    r = post(f"/console/catalogue/{draft['id']}/adjust", elements=json.dumps(elements), reason="")
    assert r.status_code == 422 and "须说明理由" in r.text and "text/html" in r.headers["content-type"]
    assert post(f"/console/catalogue/{draft['id']}/adjust", elements=json.dumps(elements),
                reason="承诺时限压缩").status_code == 303
    item = gw.get(api.format(draft["id"]), headers=bearer).json()
    assert (item["version"], item["elements"]["promised_limit_days"], item["status"]) == (2, 5, "published")
    # listed for a village point's 帮办代办
    assert post(f"/console/catalogue/{draft['id']}/delegate", kind="proxy", targets="620602001001",
                reason="村级代办").status_code == 303
    agent = gw.get("/api/v1/catalogue/items", headers={"authorization": f"Bearer {tokens['nanyuan.agent']}"})
    assert any(i["id"] == draft["id"] and i["listing"] == "LISTING_KIND_PROXY" for i in agent.json()["items"])
    page = gw.get(f"/console/catalogue/{draft['id']}", headers=bearer)
    assert "承诺时限压缩" in page.text and 'id="cancel-form"' in page.text
    # another unit's admin can neither read nor change it: a Chinese page, not a stack trace
    other = {"authorization": f"Bearer {tokens['dongdajie.admin']}",
             "content-type": "application/x-www-form-urlencoded"}
    r = gw.post(f"/console/catalogue/{draft['id']}/cancel", headers=other,
                content=urlencode({"csrf": csrf_of(tokens["dongdajie.admin"]), "reason": "越权"}))
    assert r.status_code in (403, 404) and "Traceback" not in r.text and "text/html" in r.headers["content-type"]
    assert post(f"/console/catalogue/{draft['id']}/cancel", reason="依据文件废止").status_code == 303
    assert gw.get(api.format(draft["id"]), headers=bearer).json()["status"] == "cancelled"
    # a clerk may not use the page
    r = gw.get(f"/console/catalogue/{draft['id']}", headers={"authorization": f"Bearer {tokens['county.clerk']}"})
    assert r.status_code == 403 and "单位管理员" in r.text


def test_a_chief_representative_who_does_not_work_the_window_is_offered_no_intake_form(catalogue_server, oidc,
                                                                                      verifier, tokens):
    """Intake takes in, accepts, corrects, refuses and hands out for the window clerk only: a chief representative
    without that role gets the 403 page for the window's forms (not a form intake then refuses), and one who also
    works the window keeps them."""
    gw = gateway(catalogue_server, oidc, verifier)
    only = tokens["county.chiefonly"]
    as_only = {"authorization": f"Bearer {only}"}
    for path in ("/console/window", "/console/window/new?item=x", "/console/window/applicant?id_number=x"):
        r = gw.get(path, headers=as_only)
        assert r.status_code == 403 and "您的角色不能使用此页面" in r.text and "综合受理员" in r.text, path
    form = {**as_only, "content-type": "application/x-www-form-urlencoded"}
    for action in ("accept", "correction", "supply", "reject", "pickup"):
        r = gw.post(f"/console/window/app/x/{action}", content=f"csrf={csrf_of(only)}", headers=form)
        assert r.status_code == 403 and "您的角色不能使用此页面" in r.text, action
    r = gw.post("/console/window/new", content=f"csrf={csrf_of(only)}", headers=form)
    assert r.status_code == 403 and "您的角色不能使用此页面" in r.text
    # the chief who is also a window clerk searches the catalogue to take an application in
    r = gw.get("/console/window", headers={"authorization": f"Bearer {tokens['county.chief']}"})
    assert r.status_code == 200 and "综合受理" in r.text
