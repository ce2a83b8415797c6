"""Fuzz, the bounded run `make test` holds (the large one, ≥ 10,000 REST requests: `make faults`, which runs
`python -m tests.faults.fuzz` on a platform of its own). Against the end-to-end platform on loopback, as a
county window clerk and with no token (no administrator: generated requests must not rewrite the demo's
calendar or catalogue under the other end-to-end tests)."""

from __future__ import annotations

import os

import pytest

from infra.oidc.client import login
from tests.faults.fuzz import FuzzReport, _error_ok, fuzz_grpc, fuzz_rest, registered_targets

pytestmark = pytest.mark.e2e

REST_EXAMPLES = int(os.environ.get("SANJI_FUZZ_EXAMPLES", "2"))
GRPC_EXAMPLES = int(os.environ.get("SANJI_FUZZ_GRPC_EXAMPLES", "3"))


@pytest.fixture(scope="module")
def clerk_token(demo_platform):
    user = next(u for u in demo_platform.users if u["username"] == "county.clerk")
    return login(demo_platform.oidc_url, "county.clerk", user["password"])


@pytest.mark.timeout(1200)   # the end-to-end platform may start first, on a shared machine
def test_rest_fuzz_finds_no_5xx_no_schema_violation_and_only_chinese_errors(demo_platform, clerk_token):
    report = fuzz_rest(demo_platform.gateway_url, {"county.clerk": clerk_token, "no token": None},
                       examples=REST_EXAMPLES)
    print("\n" + "\n".join(report.lines("REST (Schemathesis)")))
    assert report.requests > 0
    assert report.server_errors == []
    assert report.schema_violations == []
    assert report.bad_errors == []


@pytest.mark.timeout(900)   # the end-to-end platform may start first, on a shared machine
def test_grpc_fuzz_finds_no_internal_or_unknown(demo_platform, clerk_token):
    report = fuzz_grpc(registered_targets(demo_platform), clerk_token, examples=GRPC_EXAMPLES)
    print("\n" + "\n".join(report.lines("gRPC (Hypothesis)")))
    assert report.requests > 0
    assert report.server_errors == []


def test_the_error_oracle():
    assert _error_ok(422, '{"error": "invalid_argument", "message": "请填写事项名称", "field": "name"}') is None
    assert _error_ok(422, '{"error": "invalid_argument", "message": "请填写事项名称", "field": null}')
    assert _error_ok(404, '{"detail": "Not Found"}')
    assert _error_ok(403, '{"error": "permission_denied", "message": "forbidden", "field": null}')
    assert FuzzReport().lines("x")[0].startswith("x: 0 requests")
