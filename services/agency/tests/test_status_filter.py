"""Proxy-request statuses are enums on the wire and lower-case tokens at the REST edge (issue 14 item 8):
the list filtered by status through gRPC (the platform's interceptors, real tokens) and through the
gateway, a status the API does not know refused naming the field, and a sibling village never seeing
another's requests, whatever the filter."""

from __future__ import annotations

import grpc
import pytest
from fastapi.testclient import TestClient
from sanji.agency.v1 import agency_pb2 as pb

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.agency.tests.conftest import err, field_of, proxy_request

INVALID = grpc.StatusCode.INVALID_ARGUMENT
API = "/api/v1/agency"


@pytest.fixture(scope="module")
def client(catalogue_server, agency_server, intake_target, oidc, verifier):
    settings = GatewaySettings(catalogue_target=catalogue_server, agency_target=agency_server,
                               intake_target=intake_target, oidc_server_url=oidc.url)
    with TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def two_requests(as_, county_item):
    """One request only registered, one with its agent assigned (南苑社区)."""
    registered = as_("nanyuan.agent").RequestProxy(proxy_request(county_item))
    assigned = as_("nanyuan.agent").RequestProxy(proxy_request(county_item))
    assigned = as_("nanyuan.agent").AssignAgent(pb.AssignAgentRequest(request_id=assigned.id))
    assert assigned.status == pb.PROXY_REQUEST_STATUS_ASSIGNED
    return registered.id, assigned.id


def grpc_list(as_, user: str, status: int) -> dict[str, int]:
    seen, offset = {}, 0
    while True:
        page = as_(user).ListProxyRequests(pb.ListProxyRequestsRequest(status=status, limit=200, offset=offset))
        seen.update({r.id: r.status for r in page.requests})
        offset += 200
        if offset >= page.total:
            return seen


def rest_list(client, tokens, user: str, status: str) -> dict[str, str]:
    seen, offset = {}, 0
    while True:
        r = client.get(f"{API}/requests", params={"status": status, "limit": 200, "offset": offset},
                       headers={"authorization": f"Bearer {tokens[user]}"})
        assert r.status_code == 200, r.text
        seen.update({x["id"]: x["status"] for x in r.json()["requests"]})
        offset += 200
        if offset >= r.json()["total"]:
            return seen


def test_grpc_lists_by_status_enum_and_unspecified_is_no_filter(as_, two_requests):
    registered, assigned = two_requests
    only = grpc_list(as_, "nanyuan.agent", pb.PROXY_REQUEST_STATUS_REQUESTED)
    assert registered in only and assigned not in only
    assert set(only.values()) == {pb.PROXY_REQUEST_STATUS_REQUESTED}
    only = grpc_list(as_, "nanyuan.agent", pb.PROXY_REQUEST_STATUS_ASSIGNED)
    assert assigned in only and registered not in only
    every = grpc_list(as_, "nanyuan.agent", pb.PROXY_REQUEST_STATUS_UNSPECIFIED)
    assert (every[registered], every[assigned]) == (pb.PROXY_REQUEST_STATUS_REQUESTED,
                                                    pb.PROXY_REQUEST_STATUS_ASSIGNED)


@pytest.mark.parametrize("number", [10, 99, -7])
def test_grpc_refuses_a_status_number_the_api_does_not_know(as_, number):
    e = err(as_("nanyuan.agent").ListProxyRequests, pb.ListProxyRequestsRequest(status=number))
    assert e.code() == INVALID and field_of(e) == "status"


def test_grpc_status_filter_stays_inside_the_village(as_, two_requests):
    for status in (pb.PROXY_REQUEST_STATUS_UNSPECIFIED, pb.PROXY_REQUEST_STATUS_REQUESTED,
                   pb.PROXY_REQUEST_STATUS_ASSIGNED):
        seen = grpc_list(as_, "dazhong.agent", status)
        assert not set(two_requests) & set(seen), status


def test_rest_speaks_the_lower_case_tokens_both_ways(client, tokens, two_requests):
    registered, assigned = two_requests
    only = rest_list(client, tokens, "nanyuan.agent", "assigned")
    assert assigned in only and registered not in only and set(only.values()) == {"assigned"}
    every = rest_list(client, tokens, "nanyuan.agent", "")
    assert (every[registered], every[assigned]) == ("requested", "assigned")


@pytest.mark.parametrize("bad", ["lost", "PROXY_REQUEST_STATUS_ASSIGNED", "Assigned", "1", "unspecified",
                                 "assigned\x00", "已指派"])
def test_rest_refuses_a_status_that_is_not_a_token(client, tokens, bad):
    r = client.get(f"{API}/requests", params={"status": bad},
                   headers={"authorization": f"Bearer {tokens['nanyuan.agent']}"})
    assert r.status_code == 422 and r.json()["field"] == "status", r.text


def test_rest_status_filter_stays_inside_the_village(client, tokens, two_requests):
    for status in ("", "requested", "assigned"):
        assert not set(two_requests) & set(rest_list(client, tokens, "dazhong.agent", status)), status
