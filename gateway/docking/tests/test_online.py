"""Applications in: an online application made on the provincial portal reaches intake as channel PC, at the
window of the unit that owns the item, carried by the docking gateway's own credential; the window accepts it
and the portal hears the decision (the report carries the province's serial number)."""

from __future__ import annotations

import copy
import json
import uuid

import grpc
import pytest
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.intake.v1 import intake_pb2 as ipb

from gateway.docking.service import SUBSCRIPTIONS
from gateway.docking.tests.conftest import COUNTY, TOWNSHIP, send
from gateway.docking.tests.test_delivery import drain
from infra.province.catalogue import DEMO
from services.catalogue import translate as catalogue_translate
from services.catalogue.domain import ListingKind
from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.translate import EventsOut as CatalogueEvents
from shared.tenancy import DivisionCode, Principal
from tests.support import Caller, deliver_event, subscribed

APPLICANT = {"kind": "natural_person", "name": "张三", "id_type": "resident_id", "id_number": "11010519491231002X",
             "phone": "13800000000"}


def demo_spec(label: str) -> dict:
    """A demo item's elements under a basic code of its own."""
    raw = next(i for i in json.loads(DEMO.read_text(encoding="utf-8"))
               if i.get("scenarios") and "natural_person" in i.get("targets", []) and i.get("case_kind") == "2")
    spec = copy.deepcopy(raw)
    spec.pop("listing", None)
    spec["basic_code"] = f"{uuid.uuid4().int % 10**12:012d}"
    spec["implementation_code"] = f"{raw['implementation_code'][:-12]}{spec['basic_code']}"
    spec["name"] = f"{raw['name']}（{label}）"
    return spec


def publish_county_item(stub, tokens, label: str):
    admin = Caller(stub, tokens["county.admin"])
    item = admin.CreateItem(cpb.CreateItemRequest(elements=json_format.ParseDict(demo_spec(label),
                                                                                 cpb.ItemElements())))
    return admin.PublishItem(cpb.PublishItemRequest(item_id=item.id))


@pytest.fixture(scope="module")
def published_item(stub, tokens):
    """A demo item of the county under a basic code of its own, published."""
    return publish_county_item(stub, tokens, "网上申请测试")


def materials(item) -> list[dict]:
    return [{"code": m.code, "supplied": True} for m in item.elements.scenarios[0].materials]


def test_an_online_application_reaches_the_window_and_the_portal_hears_the_decision(
        online, published_item, simulator, docking_db, tokens):
    docking, intake, h, intake_handlers = online
    item = published_item
    msg = simulator.online_application(COUNTY, COUNTY, item.id, APPLICANT,
                                       scenario_code=item.elements.scenarios[0].code, materials=materials(item))
    r = send(docking, msg)
    assert r.reference, "intake took it"
    clerk = Caller(intake, tokens["county.clerk"])
    app = clerk.GetApplication(ipb.GetApplicationRequest(application_id=r.reference))
    assert app.tenant == COUNTY and app.status == ipb.APPLICATION_STATUS_RECEIVED
    assert app.channel == ipb.CHANNEL_PC
    # the same message again (a new nonce): the same application, never a second one
    again = simulator.envelope(msg["type"], COUNTY, msg["body"], message_id=msg["message_id"])
    assert send(docking, again).duplicate
    accepted = clerk.AcceptApplication(ipb.AcceptApplicationRequest(application_id=r.reference))
    assert accepted.status == ipb.APPLICATION_STATUS_ACCEPTED and accepted.case_number
    # intake's application_accepted reaches the docking consumer; the report goes up with the province's serial
    from sanji.intake.v1 import events_pb2 as intake_ev

    deliver_event(subscribed(SUBSCRIPTIONS, "report_application_accepted", h), docking_db, COUNTY,
                  intake_ev.ApplicationAccepted(application_id=r.reference, tenant=COUNTY,
                                                case_number=accepted.case_number), source="intake")
    drain(h, docking_db)
    [report] = [x for x in simulator.receipts() if x.body.get("application_id") == r.reference]
    assert report.body["provincial_serial"] == msg["body"]["provincial_serial"]
    assert report.body["progress_code"] == "3" and report.body["case_number"] == accepted.case_number


def test_an_item_the_named_unit_does_not_own_is_refused_and_the_portal_told(online, published_item, simulator,
                                                                           docking_db):
    docking, _, h, _ = online
    msg = simulator.online_application(COUNTY, "620602001", published_item.id, APPLICANT,
                                       scenario_code=published_item.elements.scenarios[0].code)
    r = send(docking, msg)
    assert r.reference == ""
    drain(h, docking_db)
    [report] = [x for x in simulator.receipts() if x.case_ref == msg["body"]["provincial_serial"]]
    assert report.type == "application_not_taken" and report.body["progress_code"] == "4"
    assert "清单" in report.body["reason"]


def test_only_the_docking_gateway_may_submit_online(online, published_item, service_credentials, tokens):
    _, intake, _, _ = online
    request = ipb.SubmitOnlineApplicationRequest(
        application=ipb.SubmitApplicationRequest(idempotency_key="x1", item_id=published_item.id,
                                                 channel=ipb.CHANNEL_PC),
        handling_unit=COUNTY, provincial_serial="X1")
    with pytest.raises(grpc.RpcError) as e:                      # no credential at all
        intake.SubmitOnlineApplication(request, timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as e:                      # another service's credential
        Caller(intake, None, service=service_credentials("agency")).SubmitOnlineApplication(request)
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as e:                      # a clerk's own token is no service credential
        Caller(intake, tokens["county.clerk"]).SubmitOnlineApplication(request)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_county_item_delegated_to_a_township_reaches_the_township_window(online, stub, tokens, simulator,
                                                                          docking_db):
    """The portal addresses the township the county delegated the item to (下放): the township's window takes it in,
    as its own clerk would have — nothing is forwarded, so the portal hears of no forwarding."""
    docking, intake, h, _ = online
    item = publish_county_item(stub, tokens, "下放乡镇网上申请测试")
    Caller(stub, tokens["county.admin"]).DelegateItem(cpb.DelegateItemRequest(
        item_id=item.id, target_tenants=[TOWNSHIP], kind=cpb.LISTING_KIND_DELEGATED, reason="下放东大街"))
    msg = simulator.online_application(COUNTY, TOWNSHIP, item.id, APPLICANT,
                                       scenario_code=item.elements.scenarios[0].code, materials=materials(item))
    r = send(docking, msg)
    assert r.reference, "intake took it"
    get = ipb.GetApplicationRequest(application_id=r.reference)
    app = Caller(intake, tokens["dongdajie.clerk"]).GetApplication(get)
    assert (app.tenant, app.collect_tenant, app.channel) == (TOWNSHIP, "", ipb.CHANNEL_PC)
    with pytest.raises(grpc.RpcError) as e:          # the sibling township's window cannot see it
        Caller(intake, tokens["xidajie.clerk"]).GetApplication(get)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    drain(h, docking_db)
    serial = msg["body"]["provincial_serial"]
    assert not [x for x in simulator.receipts() if x.case_ref == serial]
    # accepted at the township: reported by its county (the one that talks to the province) with the serial
    accepted = Caller(intake, tokens["dongdajie.clerk"]).AcceptApplication(
        ipb.AcceptApplicationRequest(application_id=r.reference))
    from sanji.intake.v1 import events_pb2 as intake_ev

    deliver_event(subscribed(SUBSCRIPTIONS, "report_application_accepted", h), docking_db, TOWNSHIP,
                  intake_ev.ApplicationAccepted(application_id=r.reference, tenant=TOWNSHIP,
                                                case_number=accepted.case_number), source="intake")
    drain(h, docking_db)
    [report] = [x for x in simulator.receipts() if x.case_ref == serial]
    assert (report.type, report.tenant, report.body["unit"]) == ("application_accepted", COUNTY, TOWNSHIP)
    assert report.body["provincial_serial"] == serial and report.body["case_number"] == accepted.case_number


def test_a_provincial_item_entrusted_to_the_county_window_is_taken_in_and_forwarded(online, catalogue_db, tokens,
                                                                                   simulator, docking_db):
    """委托收件 (issue 18): the province lists its own item for collection (代收) at the county's comprehensive
    window; an online application addressed to the county is taken in there on the province's behalf — the
    province's application from the start, collected by the county — and the province is told where it went."""
    docking, intake, h, _ = online
    province = Principal(subject="test-gansu-admin", username="gansu.admin", tenant=DivisionCode("62"),
                         roles=frozenset({"tenant_admin"}))
    catalogue = CatalogueHandlers(catalogue_db, events_out=CatalogueEvents())
    row = catalogue.create_item(province, catalogue_translate.elements(
        json_format.ParseDict(demo_spec("省级委托收件测试"), cpb.ItemElements())))
    catalogue.publish(province, row.id)
    catalogue.delegate(province, row.id, [COUNTY], ListingKind.COLLECT, "委托县政务服务中心综合窗口收件")
    item = catalogue_translate.row_to_item(catalogue.get_public_item(row.id))
    msg = simulator.online_application(COUNTY, COUNTY, item.id, APPLICANT,
                                       scenario_code=item.elements.scenarios[0].code, materials=materials(item))
    serial = msg["body"]["provincial_serial"]
    r = send(docking, msg)
    assert r.reference, "the county's window took it in"
    app = Caller(intake, tokens["county.clerk"]).GetApplication(ipb.GetApplicationRequest(application_id=r.reference))
    assert (app.tenant, app.collect_tenant) == ("62", COUNTY)
    # the same message again: the same application, and the province is told once
    assert send(docking, simulator.envelope(msg["type"], COUNTY, msg["body"], message_id=msg["message_id"])).duplicate
    drain(h, docking_db)
    [report] = [x for x in simulator.receipts() if x.case_ref == serial]
    assert report.type == "application_forwarded"
    assert (report.body["taken_in_by"], report.body["forwarded_to"]) == (COUNTY, "62")
    assert report.body["application_id"] == r.reference and report.body["provincial_serial"] == serial


def test_an_item_only_listed_for_proxy_at_the_addressed_unit_is_not_taken_online(online, stub, tokens, simulator,
                                                                                docking_db):
    """A township listed for 代办 only takes it in for a resident at its counter, not from the portal."""
    docking, _, h, _ = online
    item = publish_county_item(stub, tokens, "代办网上申请测试")
    Caller(stub, tokens["county.admin"]).DelegateItem(cpb.DelegateItemRequest(
        item_id=item.id, target_tenants=[TOWNSHIP], kind=cpb.LISTING_KIND_PROXY, reason="东大街代办"))
    msg = simulator.online_application(COUNTY, TOWNSHIP, item.id, APPLICANT,
                                       scenario_code=item.elements.scenarios[0].code, materials=materials(item))
    assert send(docking, msg).reference == ""
    drain(h, docking_db)
    [report] = [x for x in simulator.receipts() if x.case_ref == msg["body"]["provincial_serial"]]
    assert report.type == "application_not_taken" and "清单" in report.body["reason"]
