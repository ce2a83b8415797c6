"""Complaints integration fixtures: the complaints service's gRPC server in this process (platform interceptors,
real tokens, real PostgreSQL), on a clock pinned to the eve of National Day 2026 (a test moves it and puts it
back), and a way to put a case into its read model as intake's and approval's events do."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import uuid

import grpc
import pytest
from sanji.complaints.v1 import complaints_pb2 as pb
from sanji.complaints.v1 import complaints_pb2_grpc

from services.complaints.commands import CaseAccepted
from services.complaints.handlers import ComplaintHandlers
from services.complaints.rating_handlers import RatingHandlers
from services.complaints.service import registration
from services.complaints.signing import DEV_HOTLINE_PUBLIC_KEY, Verifier
from services.complaints.translate import EventsOut
from services.complaints.units import GrpcUnits
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.db import Database
from shared.grpc.server import FIELD_KEY
from shared.messaging import Envelope
from tests.support import Caller, serving

VILLAGE, SIBLING_VILLAGE = "620602001001", "620602001002"
TOWNSHIP, OTHER_TOWNSHIP, COUNTY = "620602001", "620602002", "620602"
EVE = dt.date(2026, 9, 30)
RUN = random.randint(1000, 9999)
_seq = itertools.count(1)


def err(fn, *args, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, **kw)
    return e.value


def field_of(e: grpc.RpcError) -> str | None:
    return dict(e.trailing_metadata() or ()).get(FIELD_KEY)


@pytest.fixture(scope="session")
def complaints_db(migrated):
    db = Database.connect(migrated.database_url, schema="complaints", pool_size=6)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def clock():
    return Clock(fixed_today=EVE)


@pytest.fixture
def on_day(clock):
    """on_day(date): move the service's clock; put back at the eve afterwards."""
    yield clock.set_today
    clock.set_today(EVE)


@pytest.fixture(scope="session")
def handlers(complaints_db, clock, catalogue_server):
    """With the real catalogue (its units are the test tenant tree: 凉州区 and 汶川县, no city above them)."""
    calendars = CalendarCache(CalendarStore(complaints_db.engine, complaints_db.schema))
    units = GrpcUnits(catalogue_server)
    complaints = ComplaintHandlers(complaints_db, clock, EventsOut(), calendars=calendars,
                                   hotline=Verifier(DEV_HOTLINE_PUBLIC_KEY), units=units)
    yield complaints, RatingHandlers(complaints_db, clock, EventsOut(), calendars, rules=complaints.rules)
    units.close()


@pytest.fixture(scope="session")
def complaints_server(handlers, verifier):
    with serving([registration(*handlers)], verifier) as target:
        yield target


@pytest.fixture(scope="session")
def complaints_stub(complaints_server):
    with grpc.insecure_channel(complaints_server) as channel:
        yield complaints_pb2_grpc.ComplaintsServiceStub(channel)


@pytest.fixture(scope="session")
def as_(complaints_stub, tokens):
    """as_("county.complaints").Method(request); as_(None): no login (the public)."""
    return lambda username: Caller(complaints_stub, tokens[username] if username else None, timeout=15)


def phone() -> str:
    return f"139{RUN:04d}{next(_seq) % 10000:04d}"


def complaint_request(subject: str, *, channel: str = "hall", kind: str = "complaint", staff: str = "",
                      anonymous: bool = False, tel: str | None = None, **over) -> pb.FileComplaintRequest:
    r = pb.FileComplaintRequest(
        channel=channel, kind=kind, category=over.pop("category", "service_conduct"),
        content=over.pop("content", "窗口工作人员态度生硬，推诿扯皮"),
        subject=pb.Subject(tenant=subject, staff=staff, department=over.pop("department", "")),
        complainant=pb.Complainant(name="" if anonymous else "王群众", phone="" if anonymous else (tel or phone()),
                                   anonymous=anonymous), **over)
    return r


def public_request(subject: str, *, tel: str | None = None, **over) -> pb.FilePublicComplaintRequest:
    return pb.FilePublicComplaintRequest(
        kind=over.pop("kind", "complaint"), category=over.pop("category", "cannot_get_done"),
        content=over.pop("content", "材料齐全却被告知办不了"), subject=pb.Subject(tenant=subject, **over),
        complainant=pb.Complainant(name="李群众", phone=tel or phone()))


@pytest.fixture(scope="session")
def put_case(handlers, complaints_db):
    """put_case(tenant, accepted_by=…, decider=…) → (case_number, id_suffix): a case as the events make it."""
    _, ratings = handlers

    def put(tenant: str = COUNTY, *, accepted: bool = True, accepted_by: str = "county.clerk",
            decider: str = "county.decider", item_id: str = "") -> tuple[str, str]:
        number = f"{tenant}-{RUN}-{next(_seq):06d}"
        suffix = f"{random.randint(0, 99999):05d}X"
        env = Envelope(event_id=str(uuid.uuid4()), event_type="application_accepted", tenant=tenant,
                       correlation_id=number, event_version=1, traceparent=None, tracestate=None, timestamp=0,
                       source="intake")
        with complaints_db.unit_of_work(tenant=tenant) as uow:
            if accepted:
                ratings.record_case_accepted(CaseAccepted(
                    case_number=number, tenant=tenant, id_suffix=suffix, item_id=item_id or f"item-{RUN}",
                    item_name="居民身份证换领", department="县公安局", accepted_by=accepted_by,
                    accepted_at="2026-09-29T10:00:00+08:00"), env, uow)
            ratings.record_case_decided(number, decider, env, uow)
            uow.commit()
        return number, suffix
    return put
