"""The tenant matrix, generated (issue 20, the suite): every REST route of the gateway's OpenAPI — so a route
added tomorrow is covered without anyone remembering — is called with the identifiers of another unit's data
(an application and its case at a township, a village's proxy request and the county application and case it
led to), as a sibling township, a sibling village, a county of another province (each holding every staff
role: tests/faults/tenants.py) and with no token. The victims' records carry made-up markers (the resident's
name and phone) that appear nowhere else; a 2xx answer that contains one, or a 2xx answer to a change aimed at
a victim's record, is a breach. It prints what it tried and what it found, as counts."""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from infra.oidc.client import login
from tests.faults.tenants import ATTACKERS, PASSWORD
from tests.fixtures import E2E_TODAY

pytestmark = pytest.mark.e2e

RESIDENT_IDS = ["620602195505050032", "620602194802121218"]
TOMORROW_MORNING = f"{dt.date.fromisoformat(E2E_TODAY) + dt.timedelta(days=1)}T10:00:00+08:00"
WRITE = {"post", "put", "patch", "delete"}
WALLS = {"401", "403", "404"}


class Api:
    def __init__(self, platform, username: str):
        user = next(u for u in platform.users if u["username"] == username)
        self.base = platform.gateway_url
        self.headers = {"authorization": f"Bearer {login(platform.oidc_url, username, user['password'])}"}

    def call(self, method: str, path: str, body: dict | None = None, expect: int | tuple = (200, 201), **params):
        r = httpx.request(method, self.base + path, headers=self.headers, json=body, params=params, timeout=30)
        assert r.status_code in ((expect,) if isinstance(expect, int) else expect), f"{method} {path}: {r.text}"
        return r.json()


def wait_for(fn, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := fn()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return value


def chinese_marker(rng: random.Random) -> str:
    return "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(3))


@pytest.fixture(scope="module")
def victims(demo_platform) -> dict[str, Any]:
    """Data of the demo township and village (and the county case the village's request became), each with
    markers no attacker may ever read back."""
    rng = random.Random(time.time_ns())
    names = ["邢" + chinese_marker(rng), "乔" + chinese_marker(rng)]
    phones = [f"139{rng.randrange(10**8):08d}" for _ in names]
    township, agent, county = (Api(demo_platform, u) for u in ("township.clerk", "village.agent", "county.clerk"))
    ids: dict[str, list[str]] = {}

    # an application and its case at the township
    item = next(i for i in township.call("get", "/api/v1/catalogue/items", limit=200)["items"]
                if i["elements"]["case_kind"] == "2" and i["listing"] != "LISTING_KIND_PROXY")
    sc = item["elements"]["scenarios"][0]
    app = township.call("post", "/api/v1/intake/applications", {
        "idempotency_key": f"matrix-{time.time_ns()}", "item_id": item["id"], "scenario_code": sc["code"],
        "channel": "window", "applicant": {"id_number": RESIDENT_IDS[0], "kind": "natural_person", "name": names[0],
                                           "id_type": "resident_id", "phone": phones[0], "address": "东大街 9 号"},
        "materials": [{"code": m["code"]} for m in sc["materials"]]}, expect=201)
    accepted = township.call("post", f"/api/v1/intake/applications/{app['id']}/accept", {})

    # a village's proxy request, submitted up to the county and accepted there
    proxyable = [i for i in agent.call("get", "/api/v1/catalogue/items", limit=200)["items"]
                 if i["listing"] == "LISTING_KIND_PROXY"]
    pitem = proxyable[0]
    psc = pitem["elements"]["scenarios"][0]
    req = agent.call("post", "/api/v1/agency/requests", {
        "resident": {"name": names[1], "id_number": RESIDENT_IDS[1], "phone": phones[1], "address": "南苑社区 5 组"},
        "special_group": "elderly", "door_to_door": True, "item_id": pitem["id"], "scenario_code": psc["code"],
        "authorisation": {"signed_on": E2E_TODAY, "scope": f"代为申请{pitem['elements']['name']}",
                          "document_ref": "南苑代办〔2026〕99号"},
        "idempotency_key": f"matrix-proxy-{time.time_ns()}"}, expect=201)
    agent.call("post", f"/api/v1/agency/requests/{req['id']}/assign", {})
    visit = agent.call("post", f"/api/v1/agency/requests/{req['id']}/visits",
                       {"scheduled_for": TOMORROW_MORNING, "purpose": "上门收取材料"})
    submitted = agent.call("post", f"/api/v1/agency/requests/{req['id']}/submit",
                           {"materials": [{"code": m["code"], "note": "代办点已收取"} for m in psc["materials"]]})
    handler = township if submitted["handling_tenant"] == "620602001" else county
    paccepted = handler.call("post", f"/api/v1/intake/applications/{submitted['application_id']}/accept", {})

    ids["application_id"] = [app["id"], submitted["application_id"]]
    ids["case_number"] = [c for c in (accepted.get("case_number"), paccepted.get("case_number")) if c]
    ids["request_id"] = [req["id"]]
    ids["id_number"] = list(RESIDENT_IDS)
    ids["item_id"] = [item["id"], pitem["id"]]
    ids["notice_id"] = [n["id"] for n in accepted.get("notices", []) if n.get("id")]
    for case_number, who in zip(ids["case_number"], (township, handler), strict=False):
        case = wait_for(lambda cn=case_number, w=who: _case(w, cn), what=f"case {case_number} opened at approval")
        ids.setdefault("case_id", []).append(case["id"])
    # a door-to-door visit and a site inspection of the victims', so the routes that name one are called with
    # identifiers that exist and with bodies their owner would be answered 2xx for: the wall, not the body's
    # validation, is what answers the attacker
    ids["visit_id"] = [visit["visits"][-1]["id"]]
    reviewer = Api(demo_platform, "township.reviewer")
    review = next(s for s in _case(township, ids["case_number"][0])["steps"] if s["kind"] == "review")
    reviewer.call("post", f"/api/v1/approval/tasks/{review['id']}/claim")
    inspected = reviewer.call("post", f"/api/v1/approval/cases/{ids['case_id'][0]}/inspections",
                              {"mode": "independent", "scheduled_on": E2E_TODAY, "inspectors": "孙立新"})
    ids["inspection_id"] = [inspected["inspections"][-1]["id"]]
    return {"ids": ids, "markers": names + phones, "tenants": {"620602001", "620602001001", "620602"}}


def _case(api: Api, case_number: str) -> dict | None:
    r = httpx.get(f"{api.base}/api/v1/approval/cases/by-number/{case_number}", headers=api.headers, timeout=30)
    return r.json() if r.status_code == 200 else None


# -- requests generated from the OpenAPI ---------------------------------------------------------------
def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(spec, schema["allOf"][0])
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _resolve(spec, options[0]) if options else {}
    return schema


def example(spec: dict, schema: dict, ids: dict[str, list[str]], name: str = "", depth: int = 0) -> Any:
    """A value the schema accepts, with a victim's identifier wherever a field is named like one."""
    schema = _resolve(spec, schema)
    if name in ids and ids[name]:
        return ids[name][0]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        props = schema.get("properties", {})
        required = set(schema.get("required", [])) | {k for k in props if k in ids}
        return {k: example(spec, props[k], ids, k, depth + 1) for k in props if k in required}
    if kind == "array":
        return [example(spec, schema.get("items", {}), ids, name, depth + 1)] if schema.get("minItems") else []
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "date":
        return E2E_TODAY
    if schema.get("format") == "date-time":
        return TOMORROW_MORNING
    return "越权测试" if not schema.get("pattern") else ids.get("case_number", ["x"])[0]


def requests_from_openapi(spec: dict, ids: dict[str, list[str]]) -> list[tuple[str, str, dict, Any, bool]]:
    """(method, path, query, body, aimed) per operation; `aimed`: the path names a victim's record."""
    extra = {"code": ["620602001"], "unit": ["620602001"], "day": [E2E_TODAY], "year": ["2026"],
             "username": ["township.clerk"], "kind": ["acceptance"], "tenant": ["620602001"]}
    values = {**extra, **ids}
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            params = [*item.get("parameters", []), *op.get("parameters", [])]
            url, aimed, query = path, False, {}
            for prm in params:
                name, where = prm["name"], prm["in"]
                value = (values.get(name) or [None])[0]
                if where == "path":
                    if value is None:
                        value = example(spec, prm.get("schema", {}), ids, name)
                    aimed = aimed or name in ids
                    url = url.replace("{" + name + "}", str(value))
                elif where == "query" and (prm.get("required") or name in ids):
                    query[name] = value if value is not None else example(spec, prm.get("schema", {}), ids, name)
                    aimed = aimed or name in ids
            body = None
            content = (op.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                body = example(spec, content["application/json"].get("schema", {}), ids)
            out.append((method, url, query, body, aimed))
    return out


def classify(status: int, text: str, markers: list[str], method: str, aimed: bool) -> str:
    if 200 <= status < 300:
        if any(m in text for m in markers):
            return "2xx with another unit's data"
        if method in WRITE and aimed:
            return "2xx changing another unit's record"
        return "2xx, nothing of theirs"
    if status >= 500:
        return f"{status}"
    return str(status)


@pytest.mark.timeout(1200)   # the end-to-end platform may start first, on a shared machine
def test_no_route_gives_another_units_data(demo_platform, victims):
    spec = httpx.get(f"{demo_platform.gateway_url}/openapi.json", timeout=30).json()
    calls = requests_from_openapi(spec, victims["ids"])
    tokens: dict[str, str | None] = {label: login(demo_platform.oidc_url, username, PASSWORD)
                                     for label, (username, _) in ATTACKERS.items()}
    tokens["no token"] = None
    counts: dict[str, Counter] = {label: Counter() for label in tokens}
    breaches, errors, reached, walls = [], [], Counter(), Counter()
    with httpx.Client(base_url=demo_platform.gateway_url, timeout=30) as client:
        for label, token in tokens.items():
            headers = {"authorization": f"Bearer {token}"} if token else {}
            for method, url, query, body, aimed in calls:
                r = client.request(method.upper(), url, params=query, json=body, headers=headers)
                outcome = classify(r.status_code, r.text, victims["markers"], method, aimed)
                counts[label][outcome] += 1
                if outcome.startswith("2xx with") or outcome.startswith("2xx changing"):
                    breaches.append(f"{label}: {method.upper()} {url} → {r.status_code} {r.text[:200]}")
                if aimed and token and r.status_code in (409, 422) or aimed and 200 <= r.status_code < 300:
                    reached[f"{method.upper()} {re.sub(r'[0-9a-f-]{36}|[0-9]{20,}', '…', url)} → {r.status_code}"] += 1
                if aimed and token and str(r.status_code) in WALLS:
                    walls[label] += 1
                if r.status_code >= 500:
                    errors.append(f"{label}: {method.upper()} {url} → {r.status_code} {r.text[:200]}")
    aimed = sum(1 for c in calls if c[4])
    outcomes = sorted({o for c in counts.values() for o in c})
    print(f"\ntenant matrix: {len(calls)} operations from the OpenAPI ({aimed} aimed at a victim's record) "
          f"× {len(tokens)} callers = {len(calls) * len(tokens)} requests")
    print(f"{'caller':<26}" + "".join(f"{o[:34]:>36}" for o in outcomes))
    for label, c in counts.items():
        print(f"{label:<26}" + "".join(f"{c.get(o, 0):>36}" for o in outcomes))
    print(f"breaches: {len(breaches)}; 5xx: {len(errors)}")
    print("aimed at a victim's record and answered other than 401/403/404 (the wall not reached, or an answer "
          "that says the record exists):")
    for line, n in sorted(reached.items()):
        print(f"  {n} × {line}")
    for line in breaches + errors:
        print("  " + line)
    walled = sum(walls.values())
    unproven = sorted(line for line in reached if line.endswith(("→ 409", "→ 422")))
    print(f"aimed requests of the three attackers answered 401/403/404 (the wall reached and held): {walled}; "
          f"aimed requests answered 409/422 (the wall not shown to be reached): {len(unproven)}")
    assert calls and aimed >= 10, "the OpenAPI gave the matrix routes to aim at"
    assert breaches == []
    assert unproven == [], "a request aimed at another unit's record must be answered by the wall"


def test_the_oracle_sees_a_breach():
    assert classify(200, '{"name": "邢甲乙丙"}', ["邢甲乙丙"], "get", False).startswith("2xx with")
    assert classify(201, "{}", ["x"], "post", True).startswith("2xx changing")
    assert classify(404, '{"name": "邢甲乙丙"}', ["邢甲乙丙"], "get", True) == "404"
    assert re.fullmatch(r"\d{3}", classify(503, "", [], "get", False))
