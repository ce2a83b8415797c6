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
from sanji.intake.v1 import intake_pb2_grpc

from gateway.docking.clients import IntakeClient
from gateway.docking.service import SUBSCRIPTIONS
from gateway.docking.tests.conftest import COUNTY, make_handlers, send
from gateway.docking.tests.test_delivery import drain
from infra.province.catalogue import DEMO
from services.intake.catalogue import GrpcCatalogue
from services.intake.handlers import IntakeHandlers
from services.intake.translate import EventsOut as IntakeEvents
from shared.clock import Clock
from shared.db import Database
from tests.support import Caller, deliver_event, serving, subscribed

APPLICANT = {"kind": "natural_person", "name": "张三", "id_type": "resident_id", "id_number": "11010519491231002X",
             "phone": "13800000000"}


@pytest.fixture(scope="module")
def published_item(stub, tokens):
    """A demo item of the county under a basic code of its own, published."""
    raw = next(i for i in json.loads(DEMO.read_text(encoding="utf-8"))
               if i.get("scenarios") and "natural_person" in i.get("targets", []) and i.get("case_kind") == "2")
    spec = copy.deepcopy(raw)
    spec.pop("listing", None)
    spec["basic_code"] = f"{uuid.uuid4().int % 10**12:012d}"
    spec["implementation_code"] = f"{raw['implementation_code'][:-12]}{spec['basic_code']}"
    spec["name"] = f"{raw['name']}（网上申请测试）"
    admin = Caller(stub, tokens["county.admin"])
    item = admin.CreateItem(cpb.CreateItemRequest(elements=json_format.ParseDict(spec, cpb.ItemElements())))
    item = admin.PublishItem(cpb.PublishItemRequest(item_id=item.id))
    return item


@pytest.fixture
def online(migrated, docking_db, county_keys, province_keys, simulator, verifier, catalogue_server,
           service_credentials):
    from sanji.docking.v1 import docking_pb2_grpc

    from gateway.docking.service import registration
    from services.intake.service import registration as intake_registration

    intake_db = Database.connect(migrated.database_url, schema="intake", pool_size=4)
    intake = IntakeHandlers(intake_db, GrpcCatalogue(catalogue_server), Clock(), IntakeEvents(),
                            public_base_url="http://127.0.0.1:8000")
    try:
        with serving([intake_registration(intake)], verifier) as intake_target:
            h = make_handlers(docking_db, county_keys, province_keys, simulator,
                              intake=IntakeClient(intake_target, service=service_credentials("docking")))
            with serving([registration(h)], verifier) as target, grpc.insecure_channel(target) as ch, \
                    grpc.insecure_channel(intake_target) as ich:
                yield (docking_pb2_grpc.DockingServiceStub(ch), intake_pb2_grpc.IntakeServiceStub(ich), h,
                       intake)
    finally:
        intake_db.dispose()


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
