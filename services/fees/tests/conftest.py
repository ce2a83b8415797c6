"""Fees integration fixtures: the fees gRPC server in this process (platform interceptors, real tokens,
real PostgreSQL), the demo fee catalogue, a provincial payment platform key pair generated for the
run, and approval's case_decided published on the real RabbitMQ as approval's relay would."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import random
import uuid

import grpc
import pika
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sanji.approval.v1 import events_pb2 as approval_events
from sanji.fees.v1 import fees_pb2 as pb
from sanji.fees.v1 import fees_pb2_grpc
from sqlalchemy import text

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.fees.demo import load_demo_fees
from services.fees.handlers import FeesHandlers
from services.fees.payments import canonical_form
from services.fees.service import event_consumer, registration
from services.fees.signing import Signer, Verifier, generate_keypair
from services.fees.translate import EventsOut
from shared.db import Database, message_to_json, relay_transaction, utcnow
from shared.grpc.server import FIELD_KEY
from shared.messaging import to_amqp
from tests.support import Caller, serving

COUNTY, TOWNSHIP, OTHER_COUNTY = "620602", "620602001", "513221"
COUNTY_ACCOUNT = "27050101040012345"
_seq = itertools.count(1)
_pay = itertools.count(1)
TODAY = dt.date.today()


def case_number(tenant: str = COUNTY) -> str:
    """A case number of intake's format: tenant padded to 12, acceptance date, 6-digit sequence."""
    return f"{tenant.ljust(12, '0')}{TODAY:%Y%m%d}{next(_seq):06d}"


def line(code: str, standard_fen: int | None = None, **quantities) -> pb.LineInput:
    """A line to assess: the fee item's code, its standard where the cashier chooses it, its quantities."""
    li = pb.LineInput(fee_code=code, quantities={k: str(v) for k, v in quantities.items()})
    if standard_fen is not None:
        li.standard_fen = standard_fen
    return li


def err(fn, *args, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, **kw)
    return e.value


def field_of(e: grpc.RpcError) -> str | None:
    return dict(e.trailing_metadata() or ()).get(FIELD_KEY)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(scope="session")
def fees_db(migrated):
    load_demo_fees(migrated.database_owner_url)
    db = Database.connect(migrated.database_url, schema="fees", pool_size=6)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def province_keys():
    """The provincial platform's key pair for this run (its public half is the service's setting)."""
    return generate_keypair()


@pytest.fixture(scope="session")
def receipt_keys():
    return generate_keypair()


@pytest.fixture(scope="session")
def fees_handlers(fees_db, province_keys, receipt_keys):
    return FeesHandlers(fees_db, province=Verifier(province_keys[1]), receipt_signer=Signer(*receipt_keys),
                        events_out=EventsOut())


@pytest.fixture(scope="session")
def fees_server(fees_handlers, verifier):
    with serving([registration(fees_handlers)], verifier) as target:
        yield target


@pytest.fixture(scope="session")
def fees_stub(fees_server):
    with grpc.insecure_channel(fees_server) as channel:
        yield fees_pb2_grpc.FeesServiceStub(channel)


@pytest.fixture(scope="session")
def as_(fees_stub, tokens):
    return lambda username=None: Caller(fees_stub, tokens[username] if username else None)


class Province:
    """The provincial public payment platform's side of a callback: fields signed with its key."""

    def __init__(self, keys: tuple[str, str], stub):
        self.signer = Signer(*keys)
        self.stub = stub

    def fields(self, notice_number: str, amount_fen: int, *, payment_id: str | None = None,
               account: str = COUNTY_ACCOUNT, **extra) -> dict[str, str]:
        return {"payment_id": payment_id or f"GSPAY{uuid.uuid4().hex[:12].upper()}{next(_pay):04d}",
                "notice_number": notice_number, "amount_fen": str(amount_fen),
                "paid_at": dt.datetime.now(dt.UTC).isoformat(), "payee_account": account, "payer_name": "张三",
                "channel": "unionpay", **extra}

    def sign(self, fields: dict[str, str]) -> str:
        return self.signer.sign(canonical_form(fields))

    def callback(self, fields: dict[str, str], signature: str | None = None) -> pb.PaymentCallbackResult:
        return self.stub.RecordPaymentCallback(pb.PaymentCallback(
            fields=fields, signature=self.sign(fields) if signature is None else signature), timeout=20)

    def pay(self, notice_number: str, amount_fen: int, **kw) -> pb.PaymentCallbackResult:
        return self.callback(self.fields(notice_number, amount_fen, **kw))


@pytest.fixture(scope="module")
def client(fees_server, oidc, verifier):
    """The gateway in front of this fees server (the REST edge and the console)."""
    settings = GatewaySettings(fees_target=fees_server, oidc_server_url=oidc.url)
    with TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def province(province_keys, fees_stub):
    return Province(province_keys, fees_stub)


@pytest.fixture
def seeded(fees_db, province_keys, receipt_keys, verifier, tokens):
    """(as_, province, twin): a fees service of its own whose notice numbers and codes are drawn from a seeded
    generator, and the twin of that generator, which tells a test the number the next notice will get."""
    seed = random.randrange(2 ** 32)
    handlers = FeesHandlers(fees_db, province=Verifier(province_keys[1]), receipt_signer=Signer(*receipt_keys),
                            events_out=EventsOut(), draw=random.Random(seed).randrange)
    with serving([registration(handlers)], verifier) as target, grpc.insecure_channel(target) as channel:
        stub = fees_pb2_grpc.FeesServiceStub(channel)
        yield (lambda username=None: Caller(stub, tokens[username] if username else None),
               Province(province_keys, stub), random.Random(seed))


def outbox(db: Database, correlation_id: str) -> list[tuple[str, dict, str]]:
    with relay_transaction(db.engine) as c:
        rows = c.execute(text("SELECT routing_key, body, tenant FROM fees.outbox WHERE correlation_id = :c"
                              " ORDER BY seq"), {"c": correlation_id}).all()
    return [(r[0], json.loads(r[1]), r[2]) for r in rows]


def owner_rows(owner_url: str, sql: str, **params) -> list:
    from sqlalchemy import create_engine

    eng = create_engine(owner_url)
    try:
        with eng.begin() as c:
            c.execute(text("SELECT set_config('app.subtree', 'on', true), set_config('app.tenant', '62', true)"))
            return c.execute(text(sql), params).all()
    finally:
        eng.dispose()


# -- approval's case_decided, as approval's relay publishes it -------------------------------------
class ApprovalEvents:
    def __init__(self, amqp_url: str):
        self._conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        self.channel = self._conn.channel()
        self.channel.confirm_delivery()

    def row(self, tenant: str, case_no: str, **fields) -> dict:
        msg = approval_events.CaseDecided(case_id=str(uuid.uuid4()), case_number=case_no, tenant=tenant,
                                          decider="county.decider", at=utcnow().isoformat(),
                                          **{k: v for k, v in fields.items() if k != "fee_codes"})
        body = json.loads(message_to_json(msg))
        if "fee_codes" in fields:  # a field approval may add; the consumer already reads it
            body["fee_codes"] = fields["fee_codes"]
        return {"id": uuid.uuid4(), "exchange": "approval.events", "routing_key": "case_decided", "tenant": tenant,
                "correlation_id": case_no, "event_version": 1, "body": json.dumps(body, ensure_ascii=False),
                "headers": {}, "created_at": utcnow()}

    def publish_row(self, row: dict) -> None:
        exchange, routing_key, props, body = to_amqp(row)
        self.channel.basic_publish(exchange, routing_key, body, props, mandatory=True)

    def close(self) -> None:
        if self._conn.is_open:
            self._conn.close()


@pytest.fixture
def decisions(fees_handlers, fees_db, migrated):
    """(publisher, consumer): approval's events in, the fees consumer drained from the test's thread."""
    consumer = event_consumer(fees_handlers, fees_db, migrated.amqp_url, max_retries=1, backoff=(0.1,))
    consumer.declare()
    with pika.BlockingConnection(pika.URLParameters(migrated.amqp_url)) as conn:
        ch = conn.channel()
        for q in consumer.queue_names():
            ch.queue_purge(q)
    pub = ApprovalEvents(migrated.amqp_url)
    yield pub, consumer
    pub.close()
    consumer.stop()
