"""The back office through the gateway's REST edge: real tokens, the real approval gRPC server and database."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.pages_kit import CONSOLE_MAX_OFFSET, CONSOLE_PAGE
from gateway.settings import GatewaySettings

API = "/api/v1/approval"


@pytest.fixture(scope="module")
def client(approval_server, oidc, verifier):
    settings = GatewaySettings(approval_target=approval_server, oidc_server_url=oidc.url)
    with TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False) as c:
        yield c


def auth(tokens, user: str) -> dict:
    return {"authorization": f"Bearer {tokens[user]}"}


def test_a_reviewer_and_a_decider_work_a_case_over_rest(client, tokens, bus):
    msg = bus.accepted()
    r = client.get(f"{API}/cases/by-number/{msg.case_number}", headers=auth(tokens, "county.reviewer"))
    assert r.status_code == 200, r.text
    case = r.json()
    assert case["status_name"] == "审查中" and case["materials"][0]["name"] == "食品经营许可申请书"
    assert case["statutory"]["due"] == "2026-10-22" and len(case["statutory"]["trace"]) > 20
    assert case["history"][0]["action"] == "立案"
    r = client.get(f"{API}/queue", params={"desk": "market_access", "limit": 200},
                   headers=auth(tokens, "county.reviewer"))
    assert r.status_code == 200 and msg.case_number in [t["case_number"] for t in r.json()["tasks"]]
    review = next(s for s in case["steps"] if s["kind"] == "review")
    r = client.post(f"{API}/tasks/{review['id']}/claim", headers=auth(tokens, "county.reviewer"))
    assert r.status_code == 200 and r.json()["claimed_by"] == "county.reviewer"
    r = client.post(f"{API}/tasks/{review['id']}/review", json={"opinion": ""},
                    headers=auth(tokens, "county.reviewer"))
    assert r.status_code == 422 and r.json()["field"] == "opinion"
    r = client.post(f"{API}/tasks/{review['id']}/review", json={"opinion": "符合条件", "conclusion": "agree"},
                    headers=auth(tokens, "county.reviewer"))
    assert r.status_code == 200 and r.json()["status"] == "decision"
    decision = next(s for s in r.json()["steps"] if s["kind"] == "decision")
    r = client.post(f"{API}/tasks/{decision['id']}/claim", headers=auth(tokens, "county.reviewer"))
    assert r.status_code == 403
    r = client.post(f"{API}/cases/{case['id']}/decide", json={"outcome": "deny"},
                    headers=auth(tokens, "county.decider"))
    assert r.status_code == 409 and r.json()["field"] == "case_id"     # not claimed
    r = client.post(f"{API}/tasks/{decision['id']}/claim", headers=auth(tokens, "county.decider"))
    assert r.status_code == 200
    r = client.post(f"{API}/cases/{case['id']}/decide", json={"outcome": "deny"},
                    headers=auth(tokens, "county.decider"))
    assert r.status_code == 422 and r.json()["field"] == "reasons" and not r.json()["message"].isascii()
    r = client.post(f"{API}/cases/{case['id']}/decide", json={"outcome": "deny", "reasons": [1]},
                    headers=auth(tokens, "county.decider"))
    assert r.status_code == 422 and r.json()["field"].startswith("reasons")
    r = client.post(f"{API}/cases/{case['id']}/decide",
                    json={"outcome": "deny", "reasons": ["经营场所不符合要求"]}, headers=auth(tokens, "county.decider"))
    assert r.status_code == 200 and r.json()["decision"]["outcome"] == "denied"
    r = client.get(f"{API}/cases/{case['id']}/documents/decision.pdf", headers=auth(tokens, "county.decider"))
    assert r.status_code == 200 and r.content[:4] == b"%PDF" and "filename*=UTF-8''" in r.headers["content-disposition"]
    r = client.post(f"{API}/cases/{case['id']}/delivery", json={"method": "window", "recipient": "本人"},
                    headers=auth(tokens, "county.clerk"))
    assert r.status_code == 200 and r.json()["status"] == "delivered"


def test_the_accepting_clerk_may_not_review_the_case_over_rest(client, tokens, bus):
    """Seed 004: 受理、审查、决定既相互分离又相互制约."""
    msg = bus.accepted(accepted_by="county.reviewer2")
    case = client.get(f"{API}/cases/by-number/{msg.case_number}", headers=auth(tokens, "county.reviewer")).json()
    review = next(s for s in case["steps"] if s["kind"] == "review")
    r = client.post(f"{API}/tasks/{review['id']}/claim", headers=auth(tokens, "county.reviewer2"))
    assert r.status_code == 403 and "受理人" in r.json()["message"]
    r = client.post(f"{API}/tasks/{review['id']}/claim", headers=auth(tokens, "county.reviewer"))
    assert r.status_code == 200 and r.json()["claimed_by"] == "county.reviewer"


def test_rest_keeps_tenants_apart(client, tokens, bus):
    msg = bus.accepted("620602001")
    r = client.get(f"{API}/cases/by-number/{msg.case_number}", headers=auth(tokens, "dongdajie.reviewer"))
    assert r.status_code == 200
    case_id = r.json()["id"]
    for user in ("xidajie.reviewer", "county.reviewer"):
        r = client.get(f"{API}/cases/{case_id}", headers=auth(tokens, user))
        assert r.status_code == 404 and not r.json()["message"].isascii()
        r = client.post(f"{API}/cases/{case_id}/suspend", json={"procedure": "hearing", "reason": "x", "days": 3},
                        headers=auth(tokens, user))
        assert r.status_code in (403, 404)
    r = client.get(f"{API}/cases/{case_id}")
    assert r.status_code == 401
    r = client.get(f"{API}/categories")
    assert r.status_code == 200 and [c["name"] for c in r.json()["categories"]][0] == "市场准入"


def test_the_console_queue_pages_through_the_desk_as_the_service_lists_it(client, tokens, bus):
    """The queue page shows CONSOLE_PAGE tasks at a time, most urgent first, with 下一页 to the next ones (the
    same rows the service lists at that offset); an offset that is not a page's is refused."""
    for _ in range(CONSOLE_PAGE + 1):
        bus.accepted(drain=False)
    bus.drain(CONSOLE_PAGE + 1)
    headers = auth(tokens, "county.reviewer")
    listed = client.get(f"{API}/queue", params={"limit": 2 * CONSOLE_PAGE}, headers=headers).json()
    expected = [t["case_number"] for t in listed["tasks"]]
    assert len(expected) > CONSOLE_PAGE

    def shown(text: str) -> list[str]:
        table = text[text.index('id="queue"'):]
        return re.findall(r'<a href="/console/case/[^"]+">([^<]+)</a>', table[:table.index("</table>")])

    first = client.get("/console/queue", headers=headers)
    assert first.status_code == 200, first.text
    assert shown(first.text) == expected[:CONSOLE_PAGE]
    assert f"共 {listed['total']}{'+' if listed['total_capped'] else ''} 条" in first.text
    following = html.unescape(re.search(r'id="queue-pager">.*?<a href="([^"]+)" rel="next">', first.text).group(1))
    second = client.get(following, headers=headers)
    assert shown(second.text) == expected[CONSOLE_PAGE:2 * CONSOLE_PAGE]
    for bad in ("-1", "x", str(CONSOLE_MAX_OFFSET + 1)):
        for param in ("offset", "mine_offset"):
            assert client.get("/console/queue", params={param: bad}, headers=headers).status_code == 422, (param, bad)


def test_the_head_and_the_chief_representative_get_the_case_search_not_a_desk_they_cannot_read(client, tokens, bus):
    """The menu offers 审批待办 to the head (who approves an extension) and the window's chief representative (who
    decides a 即办件 on the spot); approval gives the desk's queue to reviewers and deciders only. Their page is the
    case search, which opens the case."""
    msg = bus.accepted()
    for user in ("county.head", "county.chief"):
        page = client.get("/console/queue", headers=auth(tokens, user))
        assert page.status_code == 200, (user, page.text)
        assert 'id="no-desk"' in page.text and 'id="queue"' not in page.text
        found = client.get("/console/case", params={"number": msg.case_number}, headers=auth(tokens, user),
                           follow_redirects=False)
        assert found.status_code == 303 and found.headers["location"].startswith("/console/case/")
        case_page = client.get(found.headers["location"], headers=auth(tokens, user))
        assert case_page.status_code == 200
        assert 'id="suspend-form"' not in case_page.text            # the clock is the step holder's (approval)
    # the reviewer who holds the review step stops the clock there; one who holds none is not offered it
    case = client.get(f"{API}/cases/by-number/{msg.case_number}", headers=auth(tokens, "county.reviewer")).json()
    assert 'id="suspend-form"' not in client.get(f"/console/case/{case['id']}",
                                                 headers=auth(tokens, "county.reviewer")).text
    review = next(s for s in case["steps"] if s["kind"] == "review")
    assert client.post(f"{API}/tasks/{review['id']}/claim", headers=auth(tokens, "county.reviewer")).status_code == 200
    held = client.get(f"/console/case/{case['id']}", headers=auth(tokens, "county.reviewer"))
    assert 'id="suspend-form"' in held.text
    # the desk itself stays refused to them in the API, as before
    assert client.get(f"{API}/queue", headers=auth(tokens, "county.head")).status_code == 403
