"""Catalogue down: the province's standard items against the county's implementation items; every difference
in an element the province holds the same (三级十同 in Gansu) is listed for the county's admin, and a standard
item the county lacks arrives as a draft."""

from __future__ import annotations

import copy
import json
import uuid

import grpc
import pytest
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.docking.v1 import docking_pb2 as pb
from sanji.docking.v1 import docking_pb2_grpc

from gateway.docking.clients import CatalogueClient
from gateway.docking.service import registration
from gateway.docking.tests.conftest import make_handlers
from infra.province.catalogue import DEMO, gansu_standard
from tests.support import Caller, serving


def _fresh(item: dict) -> dict:
    """A demo item under a basic code of its own (so the test owns it)."""
    out = copy.deepcopy(item)
    out["basic_code"] = f"{uuid.uuid4().int % 10**12:012d}"
    out["name"] = f"{item['name']}（比对测试）"
    return out


@pytest.fixture
def compare(docking_db, county_keys, province_keys, simulator, verifier, catalogue_server, tokens):
    h = make_handlers(docking_db, county_keys, province_keys, simulator,
                      catalogue=CatalogueClient(catalogue_server))
    with serving([registration(h)], verifier) as target, grpc.insecure_channel(target) as ch:
        yield Caller(docking_pb2_grpc.DockingServiceStub(ch), tokens["county.admin"]), simulator


def test_a_standard_item_that_differs_in_a_same_element_is_flagged_and_a_new_one_arrives_as_a_draft(
        compare, stub, tokens):
    docking, sim = compare
    raw = {i["basic_code"]: i for i in json.loads(DEMO.read_text(encoding="utf-8"))}
    base = [i for i in gansu_standard() if i.get("scenarios")][:3]
    same, differs, new = (_fresh(i) for i in base)
    admin = Caller(stub, tokens["county.admin"])
    for std in (same, differs):
        county = copy.deepcopy(std)
        if std is differs:
            county["promised_limit_days"] = max(1, int(std.get("statutory_limit_days") or 20) - 1)
            county["legal_basis"] = std["legal_basis"] + "（本县补充）"
        source = next(raw[i["basic_code"]] for i in base if i["name"] in std["name"])
        full = {**source, **county, "implementation_code": f"{source['implementation_code'][:-12]}{std['basic_code']}"}
        full.pop("listing", None)
        admin.CreateItem(cpb.CreateItemRequest(elements=json_format.ParseDict(full, cpb.ItemElements(),
                                                                              ignore_unknown_fields=True)))
    sim.catalogue = [same, differs, new]
    r = docking.CompareCatalogue(pb.CompareCatalogueRequest(import_new_as_drafts=True))
    assert r.province == "62" and len(r.same_elements) == 10
    by = {i.standard_code: i for i in r.items}
    assert not by[same["basic_code"]].differences and by[same["basic_code"]].county_item_id
    diff = {d.element: d for d in by[differs["basic_code"]].differences}
    assert set(diff) == {"basis", "limits"} and diff["basis"].label == "设定依据"
    assert "本县补充" in diff["basis"].county and "本县补充" not in diff["basis"].standard
    assert not by[new["basic_code"]].county_item_id and by[new["basic_code"]].draft_item_id
    draft = admin.GetItem(cpb.GetItemRequest(item_id=by[new["basic_code"]].draft_item_id))
    assert draft.status == cpb.ITEM_STATUS_DRAFT and draft.elements.basic_code == new["basic_code"]
    assert r.differing >= 1 and r.missing >= 1


def test_only_the_county_admin_compares(compare, tokens):
    docking, _ = compare
    for user in ("county.clerk", "dongdajie.admin"):
        with pytest.raises(grpc.RpcError) as e:
            Caller(docking._stub, tokens[user]).CompareCatalogue(pb.CompareCatalogueRequest())
        assert e.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION)
