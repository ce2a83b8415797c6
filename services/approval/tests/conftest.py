"""Approval fixtures: the real schema (migrated as the owner), the gRPC server in this process with the
platform's interceptor chain, the event consumer on the real RabbitMQ, a clock the tests move, and a
publisher that sends intake's and fees' events in the real envelope format."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import pathlib
import random
import uuid

import grpc
import pika
import pytest
from sanji.approval.v1 import approval_pb2 as pb
from sanji.approval.v1 import approval_pb2_grpc
from sanji.fees.v1 import events_pb2 as fees_ev
from sanji.intake.v1 import events_pb2 as intake_ev
from sqlalchemy import text

from services.approval.administration import AdministrationHandlers
from services.approval.handlers import ApprovalHandlers
from services.approval.service import event_consumer, registration
from services.approval.translate import EventsOut
from shared.clock import CHINA_TZ, Clock
from shared.db import Database, message_to_json, owner_connection, relay_transaction, run_migrations
from shared.grpc.server import FIELD_KEY
from shared.messaging import to_amqp
from tests.support import Caller, serving

ROOT = pathlib.Path(__file__).resolve().parents[3]
RUN = random.randint(1000, 9999)
_seq = itertools.count(1)

DESKS = ["market_access", "investment", "social_affairs", "agriculture", "县住建局", "县自然资源局", "县生态环境局"]
DEFAULT_DAY = dt.date(2026, 9, 18)


@pytest.fixture(scope="session")
def approval_settings(test_settings):
    """The approval schema at head. (Idempotent: also done by `migrated` once "approval" is listed in
    infra/migrate.py.)"""
    with owner_connection(test_settings.database_owner_url) as conn:
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS approval AUTHORIZATION sanji_owner"))
        conn.execute(text("GRANT USAGE ON SCHEMA approval TO sanji_app"))
    run_migrations(ROOT / "services" / "approval" / "migrations", test_settings.database_owner_url, "approval")
    return test_settings


@pytest.fixture(scope="session")
def approval_db(approval_settings):
    db = Database.connect(approval_settings.database_url, schema="approval", pool_size=6)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def clock() -> Clock:
    return Clock(DEFAULT_DAY)


@pytest.fixture(autouse=True)
def _reset_clock(clock):
    clock.set_today(DEFAULT_DAY)
    yield


@pytest.fixture(scope="session")
def handlers(approval_db, clock) -> ApprovalHandlers:
    return ApprovalHandlers(approval_db, clock, EventsOut())


@pytest.fixture(scope="session")
def admin(approval_db, clock, handlers) -> AdministrationHandlers:
    """The administrator's handlers, composed as the service's __main__ composes them: one calendar cache and
    one category book with the case handlers."""
    return AdministrationHandlers(approval_db, clock, handlers.events_out, calendars=handlers.calendars,
                                  categories=handlers.categories)


@pytest.fixture(scope="session")
def approval_server(handlers, admin, verifier):
    with serving([registration(handlers, admin)], verifier) as target:
        yield target


@pytest.fixture(scope="session")
def approval_stub(approval_server):
    with grpc.insecure_channel(approval_server) as channel:
        yield approval_pb2_grpc.ApprovalServiceStub(channel)


@pytest.fixture(scope="session")
def as_(approval_stub, tokens):
    return lambda username: Caller(approval_stub, tokens[username], timeout=15)


@pytest.fixture(scope="session")
def staffed(as_):
    """Desks and seals of the county and two townships (set up once, through the API). Each member of staff
    has used approval once (their console's ListDesks), so approval knows them as staff of their unit."""
    for user in ("county.reviewer", "county.reviewer2", "county.reviewer3", "county.both", "county.decider",
                 "dongdajie.reviewer", "dongdajie.decider", "xidajie.reviewer"):
        as_(user).ListDesks(pb.ListDesksRequest())
    county = as_("county.admin")
    for user in ("county.reviewer", "county.reviewer2", "county.reviewer3", "county.both", "county.decider"):
        county.AssignDesks(pb.AssignDesksRequest(username=user, desks=DESKS))
    county.RegisterSeal(pb.RegisterSealRequest(name="凉州区行政审批局行政审批专用章", code="6206020000001"))
    town = as_("dongdajie.admin")
    for user in ("dongdajie.reviewer", "dongdajie.decider"):
        town.AssignDesks(pb.AssignDesksRequest(username=user, desks=DESKS))
    town.RegisterSeal(pb.RegisterSealRequest(name="凉州区东大街街道便民服务中心审批专用章", code="6206020010001"))
    as_("xidajie.admin").AssignDesks(pb.AssignDesksRequest(username="xidajie.reviewer", desks=DESKS))
    return True


class Bus:
    """Publishes intake's and fees' events exactly as their outbox relays do, and lets the approval
    consumer process them (drain: no sleeps)."""

    def __init__(self, settings, consumer, db: Database):
        self.consumer = consumer
        self.db = db
        # no heartbeats: this publisher lives the whole session and sits idle while other modules run (random
        # order); a BlockingConnection doing no I/O misses the broker's heartbeats and is dropped
        params = pika.URLParameters(settings.amqp_url)
        params.heartbeat = 0
        self._conn = pika.BlockingConnection(params)
        self.channel = self._conn.channel()
        self.channel.confirm_delivery()
        self._undrained = 0

    def publish(self, source: str, message, tenant: str, correlation_id: str, event_id: str | None = None) -> str:
        from shared.db import event_type_of

        if self._undrained == 0:
            # what other modules' relays published since (intake's events reach approval's queues, which the
            # bootstrap declares for the whole run) is not this test's: drain(n) counts this test's events only
            for q in self.consumer.queue_names():
                if not q.endswith(".dlq") and ".retry." not in q:
                    self.channel.queue_purge(q)
        self._undrained += 1
        event_id = event_id or str(uuid.uuid4())
        row = {"id": event_id, "exchange": f"{source}.events", "routing_key": event_type_of(message),
               "tenant": tenant, "correlation_id": correlation_id, "event_version": 1,
               "body": message_to_json(message), "headers": {}, "created_at": dt.datetime.now(dt.UTC)}
        exchange, routing_key, props, body = to_amqp(row)
        self.channel.basic_publish(exchange, routing_key, body, props, mandatory=True)
        return event_id

    def drain(self, n: int) -> None:
        self._undrained = max(0, self._undrained - n)
        done = self.consumer.drain(n, timeout=20)
        assert done == n, f"processed {done} of {n} deliveries"

    def accepted(self, tenant: str = "620602", *, drain: bool = True, **over) -> intake_ev.ApplicationAccepted:
        msg = accepted_event(tenant, **over)
        self.publish("intake", msg, tenant, msg.case_number)
        if drain:
            self.drain(1)
        return msg

    def settled(self, tenant: str, case_number: str, *, drain: bool = True) -> str:
        msg = fees_ev.FeesSettled(case_number=case_number, tenant=tenant, paid_fen=12_000, waived_fen=0,
                                  at=dt.datetime.now(CHINA_TZ).isoformat())
        event_id = self.publish("fees", msg, tenant, case_number)
        if drain:
            self.drain(1)
        return event_id

    def outbox(self, case_number: str) -> list[tuple[str, dict]]:
        with relay_transaction(self.db.engine) as conn:
            rows = conn.execute(text("SELECT routing_key, body FROM approval.outbox WHERE correlation_id = :n"
                                     " ORDER BY seq"), {"n": case_number}).all()
        return [(r[0], json.loads(r[1])) for r in rows]

    def close(self) -> None:
        self._conn.close()


def accepted_event(tenant: str = "620602", **over) -> intake_ev.ApplicationAccepted:
    n = next(_seq)
    accepted_on = over.pop("accepted_on", DEFAULT_DAY)
    fields = dict(
        application_id=str(uuid.uuid4()), tenant=tenant, case_number=f"{tenant}-AP{RUN}{n:05d}",
        item_id=str(uuid.uuid4()), item_version=1, scenario_code="S1", scenario_name="新办",
        accepted_at=dt.datetime.combine(accepted_on, dt.time(10, 30), CHINA_TZ).isoformat(), case_kind="2",
        received_at=dt.datetime.combine(accepted_on, dt.time(9, 0), CHINA_TZ).isoformat(),
        applicant_name="武威市凉州区利民食品店", accepted_by="county.clerk", item_name="食品经营许可",
        item_type="01", department="凉州区市场监督管理局", promised_limit_days=10, statutory_limit_days=20,
        materials=[intake_ev.AcceptedMaterial(code="M1", name="食品经营许可申请书", supplied=True, core=True),
                   intake_ev.AcceptedMaterial(code="M2", name="营业执照复印件", supplied=True),
                   intake_ev.AcceptedMaterial(code="M3", name="场所平面图", supplied=False, waived=True)],
        waived_materials=["M3"])
    fields.update(over)
    return intake_ev.ApplicationAccepted(**fields)


@pytest.fixture(scope="session")
def consumer(handlers, approval_db, approval_settings):
    c = event_consumer(handlers, approval_db, approval_settings.amqp_url, prefetch=10, max_retries=1,
                       backoff=(0.5,))
    c.declare()
    # a fresh start: nothing left over from an interrupted earlier run
    conn = pika.BlockingConnection(pika.URLParameters(approval_settings.amqp_url))
    ch = conn.channel()
    for q in c.queue_names():
        ch.queue_purge(q)
    conn.close()
    return c


@pytest.fixture(scope="session")
def bus(approval_settings, consumer, approval_db, staffed):
    b = Bus(approval_settings, consumer, approval_db)
    yield b
    b.close()


def field_of(e: grpc.RpcError) -> str | None:
    return dict(e.trailing_metadata() or ()).get(FIELD_KEY)


def rpc_error(fn, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn(request)
    return info.value


def get(as_, case_number: str, user: str = "county.reviewer", tenant_user: str | None = None) -> pb.Case:
    return as_(tenant_user or user).GetCase(pb.GetCaseRequest(case_number=case_number))


def step_of(case: pb.Case, kind: str, desk: str = "") -> pb.Step:
    return next(s for s in case.steps if s.kind == kind and (not desk or s.desk == desk))


def reviewed(as_, number: str, reviewer: str = "county.reviewer", viewer: str = "county.reviewer") -> pb.Case:
    case = get(as_, number, viewer)
    step = step_of(case, "review")
    as_(reviewer).ClaimTask(pb.ClaimTaskRequest(step_id=step.id))
    return as_(reviewer).CompleteReview(pb.CompleteReviewRequest(step_id=step.id, opinion="材料齐全，符合法定条件",
                                                                 conclusion="agree"))
