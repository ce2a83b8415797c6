"""The workbench's guards without a browser (the browser tests in tests/browser walk the flows): a page's
form is refused without the CSRF value of the caller's session, every page carries the Content-Security-
Policy, a page a role may not use is a 403 page in Chinese, static files are only the vendored ones, and a
unit admin publishes a draft from the workbench."""

from __future__ import annotations

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
