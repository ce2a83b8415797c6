"""Agency integration fixtures: the agency's gRPC server in this process (platform interceptors, real
tokens, real PostgreSQL), the catalogue server it asks, intake's server it submits to, and the
progress consumer on the real RabbitMQ."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import uuid

import grpc
import pika
import pytest
from google.protobuf import json_format
from sanji.agency.v1 import agency_pb2 as pb
from sanji.agency.v1 import agency_pb2_grpc
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.intake.v1 import events_pb2 as intake_events_pb2
from sanji.intake.v1 import intake_pb2, intake_pb2_grpc

from services.agency.clients import CatalogueClient, IntakeClient
from services.agency.handlers import AgencyHandlers
from services.agency.service import event_consumer, registration
from services.agency.translate import EventsOut
from shared.clock import Clock
from shared.db import Database, message_to_json, utcnow
from shared.grpc.server import FIELD_KEY
from shared.idnumbers import resident_id_check_char
from shared.messaging import OutboxRelay, to_amqp
from tests.support import Caller, serving

VILLAGE, SIBLING_VILLAGE = "620602001001", "620602001002"
TOWNSHIP, OTHER_TOWNSHIP, COUNTY = "620602001", "620602002", "620602"
RUN = random.randint(1000, 9999)
_seq = itertools.count(1)


def resident_id(birth: str = "19450101") -> str:
    first = f"620602{birth}{next(_seq) % 1000:03d}"
    return first + resident_id_check_char(first)


def err(fn, *args, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, **kw)
    return e.value


def field_of(e: grpc.RpcError) -> str | None:
    return dict(e.trailing_metadata() or ()).get(FIELD_KEY)


@pytest.fixture(scope="session")
def agency_db(migrated):
    db = Database.connect(migrated.database_url, schema="agency", pool_size=6)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def intake_db(migrated):
    db = Database.connect(migrated.database_url, schema="intake", pool_size=6)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def intake_handlers(intake_db, catalogue_server):
    from services.intake.catalogue import GrpcCatalogue
    from services.intake.handlers import IntakeHandlers
    from services.intake.translate import EventsOut as IntakeEventsOut

    catalogue = GrpcCatalogue(catalogue_server, timeout=10)
    yield IntakeHandlers(intake_db, catalogue, Clock(), IntakeEventsOut())
    catalogue.close()


@pytest.fixture(scope="session")
def intake_target(intake_handlers, verifier):
    """intake's real gRPC server in this process, built from its own composition parts."""
    from services.intake.service import registration as intake_registration

    with serving([intake_registration(intake_handlers)], verifier) as target:
        yield target


@pytest.fixture(scope="session")
def intake_stub(intake_target):
    with grpc.insecure_channel(intake_target) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


@pytest.fixture(scope="session")
def intake_as(intake_stub, tokens):
    return lambda username: Caller(intake_stub, tokens[username], timeout=15)


@pytest.fixture(scope="session")
def agency_handlers(agency_db, catalogue_server, intake_target, service_credentials):
    """On the real date (the tests schedule visits from now on): a `Clock` pinned to nothing. Intake is
    called as the composition root calls it: with the agency's own credential beside the agent's token."""
    return AgencyHandlers(agency_db, CatalogueClient(catalogue_server, timeout=10),
                          IntakeClient(intake_target, service=service_credentials("agency"), timeout=10), Clock(),
                          EventsOut())


@pytest.fixture(scope="session")
def agency_server(agency_handlers, verifier):
    with serving([registration(agency_handlers)], verifier) as target:
        yield target


@pytest.fixture(scope="session")
def agency_stub(agency_server):
    with grpc.insecure_channel(agency_server) as channel:
        yield agency_pb2_grpc.AgencyServiceStub(channel)


@pytest.fixture(scope="session")
def as_(agency_stub, tokens):
    return lambda username: Caller(agency_stub, tokens[username], timeout=15)


@pytest.fixture(scope="session")
def catalogue_as(stub, tokens):
    return lambda username: Caller(stub, tokens[username], timeout=15)


def _elements(name: str, **over) -> cpb.ItemElements:
    d = {
        "name": name, "basic_code": f"AG{RUN}{next(_seq):05d}", "item_type": "05", "exercise_level": "4",
        "case_kind": "2", "department": "凉州区民政局", "legal_basis": "《甘肃省高龄老人补贴制度实施办法》",
        "acceptance_conditions": "具有本区户籍、年满80周岁的老年人", "targets": ["natural_person"],
        "statutory_limit_days": 20, "promised_limit_days": 10, "keywords": ["高龄", "津贴"],
        "scenarios": [{"code": "S1", "name": "首次申领", "materials": [
            {"code": "M1", "name": "居民身份证", "core": True},
            {"code": "M2", "name": "户口簿", "core": True},
            {"code": "M3", "name": "银行卡（折）复印件", "waivable": True, "makeup_days": 5}]}],
    }
    d.update(over)
    return json_format.ParseDict(d, cpb.ItemElements())


def publish_item(catalogue_as, name: str, **over) -> cpb.Item:
    admin = catalogue_as("county.admin")
    item = admin.CreateItem(cpb.CreateItemRequest(elements=_elements(name, **over)))
    return admin.PublishItem(cpb.PublishItemRequest(item_id=item.id))


@pytest.fixture(scope="session")
def county_item(catalogue_as) -> cpb.Item:
    """Handled at the county; the two 东大街 villages take it in for residents (代办)."""
    item = publish_item(catalogue_as, "高龄津贴申领")
    catalogue_as("county.admin").DelegateItem(cpb.DelegateItemRequest(
        item_id=item.id, target_tenants=[VILLAGE, SIBLING_VILLAGE], kind=cpb.LISTING_KIND_PROXY, reason="村级代办"))
    return item


@pytest.fixture(scope="session")
def township_item(catalogue_as) -> cpb.Item:
    """Delegated to 东大街街道 (handled there); 南苑 takes it in for residents."""
    item = publish_item(catalogue_as, "困难群众临时救助申请", exercise_level="5")
    admin = catalogue_as("county.admin")
    admin.DelegateItem(cpb.DelegateItemRequest(item_id=item.id, target_tenants=[TOWNSHIP],
                                               kind=cpb.LISTING_KIND_DELEGATED, reason="下放街道"))
    admin.DelegateItem(cpb.DelegateItemRequest(item_id=item.id, target_tenants=[VILLAGE],
                                               kind=cpb.LISTING_KIND_PROXY, reason="村级代办"))
    return item


@pytest.fixture(scope="session")
def unlisted_item(catalogue_as) -> cpb.Item:
    """Published by the county, never listed for any village."""
    return publish_item(catalogue_as, "建设工程规划许可证核发", item_type="01")


def today() -> dt.date:
    return Clock().today()


def proxy_request(item: cpb.Item, *, group: str = "elderly", door_to_door: bool = True, key: str | None = None,
                  **over) -> pb.RequestProxyRequest:
    r = pb.RequestProxyRequest(
        resident=pb.Resident(name="张桂兰", id_number=resident_id(), phone="13893500001",
                             address="凉州区东大街街道南苑社区3号楼2单元"),
        special_group=group, door_to_door=door_to_door, item_id=item.id, scenario_code="S1",
        authorisation=pb.Authorisation(signed_on=today().isoformat(), scope="代为申请高龄津贴并领取办理结果",
                                       document_ref=f"WT-{RUN}-{next(_seq)}"),
        idempotency_key=key or str(uuid.uuid4()))
    for name, value in over.items():
        if isinstance(value, dict):
            getattr(r, name).CopyFrom(type(getattr(r, name))(**value))
        else:
            setattr(r, name, value)
    return r


def soon(days: int = 1) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def collected_at_the_village(as_, item, **over) -> pb.ProxyRequest:
    """Requested, assigned to nanyuan.agent, visited at home: M1 and M2 collected."""
    agent = as_("nanyuan.agent")
    r = agent.RequestProxy(proxy_request(item, **over))
    r = agent.AssignAgent(pb.AssignAgentRequest(request_id=r.id))
    r = agent.ScheduleVisit(pb.ScheduleVisitRequest(request_id=r.id, scheduled_for=soon()))
    return agent.RecordVisit(pb.RecordVisitRequest(
        request_id=r.id, visit_id=r.visits[0].id, outcome="上门核验身份，收取材料",
        materials=[intake_pb2.MaterialSubmission(code="M1", note="原件已核验"),
                   intake_pb2.MaterialSubmission(code="M2")]))


def submitted_upward(as_, item) -> pb.ProxyRequest:
    r = collected_at_the_village(as_, item)
    return as_("nanyuan.agent").SubmitUpward(pb.SubmitUpwardRequest(request_id=r.id))


# -- the progress consumer and a publisher of intake's events --------------------------------------
class IntakeEvents:
    """Publishes ProxyApplicationProgressed exactly as intake's outbox relay does (the real envelope:
    shared.messaging.envelope.to_amqp of an outbox row), with publisher confirms."""

    def __init__(self, amqp_url: str):
        self._conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self._conn.channel()
        self.channel.confirm_delivery()

    def row(self, tenant: str, **fields) -> dict:
        msg = intake_events_pb2.ProxyApplicationProgressed(proxy_tenant=tenant, **fields)
        return {"id": uuid.uuid4(), "exchange": "intake.events", "routing_key": "proxy_application_progressed",
                "tenant": tenant, "correlation_id": fields.get("case_number") or None, "event_version": 1,
                "body": message_to_json(msg), "headers": {}, "created_at": utcnow()}

    def publish_row(self, row: dict) -> str:
        exchange, routing_key, props, body = to_amqp(row)
        self.channel.basic_publish(exchange, routing_key, body, props, mandatory=True)
        return str(row["id"])

    def publish(self, tenant: str, **fields) -> str:
        return self.publish_row(self.row(tenant, **fields))

    def close(self) -> None:
        if self._conn.is_open:
            self._conn.close()


@pytest.fixture
def consumer(agency_handlers, agency_db, migrated):
    """The agency's progress consumer, driven from the test's thread with `drain(n)`."""
    # the production retry topology (queue arguments must match whoever else declares these queues)
    c = event_consumer(agency_handlers, agency_db, migrated.amqp_url)
    c.declare()
    [queue] = [q for q in c.queue_names() if q.endswith("on_progress")]
    with pika.BlockingConnection(pika.URLParameters(migrated.amqp_url)) as conn:
        ch = conn.channel()
        for q in c.queue_names():
            ch.queue_purge(q)
    c.queue = queue
    yield c
    c.stop()


@pytest.fixture
def intake_events(migrated):
    pub = IntakeEvents(migrated.amqp_url)
    yield pub
    pub.close()


class Pipeline:
    """intake's outbox → its relay → RabbitMQ → the agency's consumer, driven from the test's thread."""

    def __init__(self, intake_db, consumer, amqp_url: str):
        self.intake_db = intake_db
        self.consumer = consumer
        self.amqp_url = amqp_url

    def deliver(self, until=None, rounds: int = 20) -> int:
        """Publish everything intake committed, then handle every progress event that reached the
        agency's queue (publisher confirms mean it is queued by the time the relay returns). With
        `until`, keep handling deliveries as they arrive (blocking on the broker) until it holds —
        in case another relay of the same outbox published a row this one skipped."""
        handled = 0
        for _ in range(rounds):
            relay = OutboxRelay(self.intake_db.engine, "intake", self.amqp_url, service="intake")
            try:
                relay.drain(timeout=30)
            finally:
                relay.stop()
            with pika.BlockingConnection(pika.URLParameters(self.amqp_url)) as conn:
                waiting = conn.channel().queue_declare(self.consumer.queue, passive=True).method.message_count
            handled += self.consumer.drain(waiting, timeout=30) if waiting else 0
            if until is None or until():
                return handled
            handled += self.consumer.drain(1, timeout=2)
        raise AssertionError("the expected progress never arrived")


@pytest.fixture
def pipeline(intake_db, consumer, migrated):
    return Pipeline(intake_db, consumer, migrated.amqp_url)
