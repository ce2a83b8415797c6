"""Guides up (办事指南推送): a published or adjusted item's guide, with its 容缺 list, goes to the provincial portal
through the docking outbox — signed, per item in order, kept by the province, counted by the reconciliation like
every other message type."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid

import grpc
import pytest
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.catalogue.v1 import events_pb2 as catalogue_ev
from sanji.docking.v1 import docking_pb2 as pb
from sanji.docking.v1 import docking_pb2_grpc

from gateway.docking import domain
from gateway.docking.clients import CatalogueClient
from gateway.docking.service import SUBSCRIPTIONS, registration
from gateway.docking.tests.conftest import COUNTY, make_handlers
from gateway.docking.tests.test_delivery import drain
from infra.province.catalogue import DEMO
from tests.support import Caller, deliver_event, serving, subscribed


@pytest.fixture
def guides(docking_db, county_keys, province_keys, simulator, catalogue_server):
    return make_handlers(docking_db, county_keys, province_keys, simulator,
                         catalogue=CatalogueClient(catalogue_server))


def _publish_with_a_waivable_material(stub, tokens):
    raw = next(i for i in json.loads(DEMO.read_text(encoding="utf-8"))
               if any(m.get("waivable") and not m.get("core") for s in i.get("scenarios", [])
                      for m in s.get("materials", [])))
    spec = copy.deepcopy(raw)
    spec.pop("listing", None)
    spec["basic_code"] = f"{uuid.uuid4().int % 10**12:012d}"
    spec["implementation_code"] = f"{raw['implementation_code'][:-12]}{spec['basic_code']}"
    spec["name"] = f"{raw['name']}（指南推送测试）"
    admin = Caller(stub, tokens["county.admin"])
    item = admin.CreateItem(cpb.CreateItemRequest(elements=json_format.ParseDict(spec, cpb.ItemElements())))
    return admin, admin.PublishItem(cpb.PublishItemRequest(item_id=item.id))


def _waivable(item) -> set[str]:
    return {m.code for s in item.elements.scenarios for m in s.materials if m.waivable and not m.core}


@pytest.fixture
def reconciler(guides, verifier, tokens):
    with serving([registration(guides)], verifier) as target, grpc.insecure_channel(target) as ch:
        yield Caller(docking_pb2_grpc.DockingServiceStub(ch), tokens["county.admin"])


def test_a_published_then_adjusted_items_guide_reaches_the_portal_in_order_with_its_tolerated_list(
        guides, docking_db, simulator, stub, tokens, reconciler):
    admin, item = _publish_with_a_waivable_material(stub, tokens)
    deliver_event(subscribed(SUBSCRIPTIONS, "guide_item_published", guides), docking_db, COUNTY,
                  catalogue_ev.ItemPublished(item_id=item.id, version=item.version, tenant=COUNTY,
                                             name=item.elements.name, published_at=item.published_at),
                  source="catalogue")
    elements = cpb.ItemElements()
    elements.CopyFrom(item.elements)
    elements.acceptance_conditions += "（可网上办理）"
    adjusted = admin.AdjustItem(cpb.AdjustItemRequest(item_id=item.id, elements=elements, reason="增加网上办理"))
    deliver_event(subscribed(SUBSCRIPTIONS, "guide_item_adjusted", guides), docking_db, COUNTY,
                  catalogue_ev.ItemAdjusted(item_id=item.id, version=adjusted.version, tenant=COUNTY,
                                            previous_version=item.version, name=item.elements.name,
                                            reason="增加网上办理", published_at=adjusted.published_at),
                  source="catalogue")
    drain(guides, docking_db)
    pushed = [g for g in simulator.guides(COUNTY) if g.body["item_id"] == item.id]
    assert [g.type for g in pushed] == ["item_published", "item_adjusted"]
    assert all(g.kind == "guide" and g.case_ref == f"item:{item.id}" for g in pushed)
    last = pushed[-1].body
    assert last["name"] == item.elements.name and last["basic_code"] == item.elements.basic_code
    assert last["guide"]["acceptance_conditions"] == elements.acceptance_conditions
    assert last["version"] == adjusted.version
    tolerated = {m["code"] for m in last["tolerated_materials"]}
    assert tolerated == _waivable(item) and tolerated
    # the reconciliation counts guides like the other types
    r = reconciler.Reconcile(pb.ReconcileRequest(day=domain.day_of(dt.datetime.now(dt.UTC))))
    kinds = {t.message_type: t for t in r.types}
    assert kinds["item_published"].theirs >= 1 and kinds["item_adjusted"].theirs >= 1


def test_a_redelivered_publication_is_pushed_once_and_a_citys_item_not_at_all(guides, docking_db, simulator,
                                                                              stub, tokens):
    _, item = _publish_with_a_waivable_material(stub, tokens)
    event = catalogue_ev.ItemPublished(item_id=item.id, version=item.version, tenant=COUNTY)
    handler = subscribed(SUBSCRIPTIONS, "guide_item_published", guides)
    # the same event twice (the consumer's redelivery): one envelope id → one report
    from shared.messaging import Envelope

    env = Envelope(event_id=str(uuid.uuid4()), event_type="item_published", tenant=COUNTY, correlation_id=None,
                   event_version=1, traceparent=None, tracestate=None, timestamp=0, source="catalogue",
                   body=json.loads(json_format.MessageToJson(event, preserving_proto_field_name=True)))
    for _ in range(2):
        with docking_db.unit_of_work(tenant=COUNTY) as uow:
            handler(env, uow)
            uow.commit()
    deliver_event(handler, docking_db, "6206", catalogue_ev.ItemPublished(item_id=item.id, tenant="6206"),
                  source="catalogue")
    drain(guides, docking_db, tenants=(COUNTY, "6206"))
    assert len([g for g in simulator.guides() if g.body["item_id"] == item.id]) == 1


def test_the_province_refuses_a_message_of_a_type_it_does_not_take(simulator, county_keys):
    from gateway.docking.envelope import seal
    from gateway.docking.province import ProvinceClient, ProvinceUnavailable
    from shared.sm2 import Signer

    msg = seal(Signer(*county_keys), type="payment_callback", sender=f"county:{COUNTY}", receiver="province:62",
               tenant=COUNTY, body={"event": "item_published"})
    with pytest.raises(ProvinceUnavailable, match="401"):
        ProvinceClient(simulator.url).post_report(msg)
    assert ("route", msg["message_id"]) in simulator.state.refused and not simulator.guides()
