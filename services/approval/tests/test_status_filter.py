"""Statuses are enums on the wire and lower-case tokens at the REST edge (issue 14 item 8): the case list
filtered by status through gRPC (the interceptor chain, real tokens) and through the gateway, a status the
API does not know refused naming the field, and the filter never reaching another tenant's cases."""

from __future__ import annotations

import grpc
import pytest
from fastapi.testclient import TestClient
from sanji.approval.v1 import approval_pb2 as pb

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.approval.tests.conftest import field_of, get, reviewed, rpc_error

API = "/api/v1/approval"
IA = grpc.StatusCode.INVALID_ARGUMENT
TOWN = "620602001"        # 东大街街道


@pytest.fixture(scope="module")
def client(approval_server, oidc, verifier):
    settings = GatewaySettings(approval_target=approval_server, oidc_server_url=oidc.url)
    with TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def two_cases(bus, as_):
    """A township case still in review and one reviewed (awaiting the decision)."""
    in_review = bus.accepted(TOWN)
    deciding = bus.accepted(TOWN)
    reviewed(as_, deciding.case_number, "dongdajie.reviewer", viewer="dongdajie.reviewer")
    return in_review.case_number, deciding.case_number


def grpc_numbers(as_, user: str, status: int) -> dict[str, int]:
    """Every case the listing gives `user` for `status` (all pages): case number → status."""
    seen, offset = {}, 0
    while True:
        page = as_(user).ListCases(pb.ListCasesRequest(status=status, limit=200, offset=offset))
        seen.update({c.case_number: c.status for c in page.cases})
        offset += len(page.cases)
        if not page.cases or offset >= page.total:
            return seen


def auth(tokens, user: str) -> dict:
    return {"authorization": f"Bearer {tokens[user]}"}


def rest_numbers(client, tokens, user: str, status: str) -> dict[str, str]:
    seen, offset = {}, 0
    while True:
        r = client.get(f"{API}/cases", params={"status": status, "limit": 200, "offset": offset},
                       headers=auth(tokens, user))
        assert r.status_code == 200, r.text
        body = r.json()
        seen.update({c["case_number"]: c["status"] for c in body["cases"]})
        offset += len(body["cases"])
        if not body["cases"] or offset >= body["total"]:
            return seen


def test_grpc_lists_by_status_enum_and_unspecified_is_no_filter(as_, two_cases):
    in_review, deciding = two_cases
    review = grpc_numbers(as_, "dongdajie.reviewer", pb.CASE_STATUS_REVIEW)
    assert in_review in review and deciding not in review
    assert set(review.values()) == {pb.CASE_STATUS_REVIEW}
    decision = grpc_numbers(as_, "dongdajie.reviewer", pb.CASE_STATUS_DECISION)
    assert deciding in decision and in_review not in decision
    assert set(decision.values()) == {pb.CASE_STATUS_DECISION}
    every = grpc_numbers(as_, "dongdajie.reviewer", pb.CASE_STATUS_UNSPECIFIED)
    assert every[in_review] == pb.CASE_STATUS_REVIEW and every[deciding] == pb.CASE_STATUS_DECISION
    case = get(as_, deciding, "dongdajie.reviewer")
    steps = {s.kind: s.status for s in case.steps}
    assert steps == {"review": pb.STEP_STATUS_DONE, "decision": pb.STEP_STATUS_OPEN}


@pytest.mark.parametrize("number", [99, -1, 2**31 - 1])
def test_grpc_refuses_a_status_number_the_api_does_not_know(as_, two_cases, number):
    e = rpc_error(as_("dongdajie.reviewer").ListCases, pb.ListCasesRequest(status=number))
    assert (e.code(), field_of(e)) == (IA, "status") and not e.details().isascii()


def test_grpc_status_filter_stays_inside_the_tenant(as_, two_cases):
    in_review, deciding = two_cases
    for user in ("xidajie.reviewer", "county.reviewer"):           # a sibling township; the county above
        for status in (pb.CASE_STATUS_UNSPECIFIED, pb.CASE_STATUS_REVIEW, pb.CASE_STATUS_DECISION):
            seen = grpc_numbers(as_, user, status)
            assert in_review not in seen and deciding not in seen, (user, status)


def test_rest_speaks_the_lower_case_tokens_both_ways(client, tokens, two_cases):
    in_review, deciding = two_cases
    review = rest_numbers(client, tokens, "dongdajie.reviewer", "review")
    assert in_review in review and deciding not in review and set(review.values()) == {"review"}
    decision = rest_numbers(client, tokens, "dongdajie.reviewer", "decision")
    assert deciding in decision and in_review not in decision and set(decision.values()) == {"decision"}
    every = rest_numbers(client, tokens, "dongdajie.reviewer", "")
    assert (every[in_review], every[deciding]) == ("review", "decision")
    r = client.get(f"{API}/cases/by-number/{deciding}", headers=auth(tokens, "dongdajie.reviewer"))
    assert r.status_code == 200
    assert {s["kind"]: s["status"] for s in r.json()["steps"]} == {"review": "done", "decision": "open"}
    r = client.get(f"{API}/queue", params={"limit": 200}, headers=auth(tokens, "dongdajie.reviewer"))
    assert r.status_code == 200 and {t["status"] for t in r.json()["tasks"]} <= {"open", "claimed"}


@pytest.mark.parametrize("bad", ["CASE_STATUS_REVIEW", "REVIEW", "unspecified", "reviewing", "2", "review ",
                                 "review\x00", "x" * 200, "审查中"])
def test_rest_refuses_a_status_that_is_not_a_token(client, tokens, two_cases, bad):
    r = client.get(f"{API}/cases", params={"status": bad}, headers=auth(tokens, "dongdajie.reviewer"))
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "status" and not r.json()["message"].isascii()


def test_rest_status_filter_stays_inside_the_tenant(client, tokens, two_cases):
    in_review, deciding = two_cases
    for user in ("xidajie.reviewer", "county.reviewer"):
        for status in ("", "review", "decision"):
            seen = rest_numbers(client, tokens, user, status)
            assert in_review not in seen and deciding not in seen, (user, status)
    r = client.get(f"{API}/cases", params={"status": "review"})
    assert r.status_code == 401
