"""Supervision integration fixtures: the supervision handlers and gRPC server in this process (platform
interceptors, real tokens, real PostgreSQL), a pinned clock, and the events of the watched services delivered
through supervision's own subscription table as its consumer delivers them."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import grpc
import pytest
from sanji.approval.v1 import events_pb2 as approval_ev
from sanji.common.v1 import common_pb2
from sanji.intake.v1 import events_pb2 as intake_ev
from sanji.supervision.v1 import supervision_pb2_grpc

from services.supervision.handlers import SupervisionHandlers
from services.supervision.service import SUBSCRIPTIONS, registration
from services.supervision.translate import EventsOut
from shared import hashchain
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import CHINA_TZ, Clock
from shared.db import Database
from shared.grpc.provinces import GrpcProvinces
from shared.grpc.server import FIELD_KEY
from shared.provinces import ProvinceBook
from tests.support import Caller, deliver_event, serving, subscribed

COUNTY, TOWNSHIP, SIBLING, VILLAGE, OTHER_COUNTY = "620602", "620602001", "620602002", "620602001001", "513221"
_seq = itertools.count(1)


def err(fn, *args, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, **kw)
    return e.value


def field_of(e: grpc.RpcError) -> str | None:
    return dict(e.trailing_metadata() or ()).get(FIELD_KEY)


def at(day: dt.date, hour: int = 9) -> str:
    return dt.datetime.combine(day, dt.time(hour), CHINA_TZ).isoformat()


def deadline(start: dt.date, days: int, due: dt.date, provisional_years: tuple[str, ...] = ()) -> common_pb2.Deadline:
    return common_pb2.Deadline(start=start.isoformat(), working_days=days, due=due.isoformat(),
                               provisional=bool(provisional_years), unpublished_years=list(provisional_years))


@pytest.fixture(scope="session")
def supervision_db(migrated):
    db = Database.connect(migrated.database_url, schema="supervision", pool_size=6)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def clock():
    return Clock(dt.date(2026, 9, 29))


@pytest.fixture(autouse=True)
def _pinned(clock):
    clock.set_today(dt.date(2026, 9, 29))
    yield
    clock.set_today(dt.date(2026, 9, 29))


@pytest.fixture(scope="session")
def handlers(supervision_db, clock, catalogue_server):
    """Composed as the service's __main__ composes them: the province records read from the catalogue."""
    signer = hashchain.HeadSigner(hashchain.DEV_CHAIN_PRIVATE_KEY, hashchain.DEV_CHAIN_PUBLIC_KEY)
    source = GrpcProvinces(catalogue_server)
    provinces = ProvinceBook(source)
    calendars = CalendarCache(CalendarStore(supervision_db.engine, "supervision",
                                            province_region=provinces.calendar_region))
    yield SupervisionHandlers(supervision_db, clock, calendars, EventsOut(), signer, provinces=provinces)
    source.close()


@pytest.fixture(scope="session")
def supervision_server(handlers, verifier):
    with serving([registration(handlers)], verifier) as target:
        yield target


@pytest.fixture(scope="session")
def stub(supervision_server):
    with grpc.insecure_channel(supervision_server) as channel:
        yield supervision_pb2_grpc.SupervisionServiceStub(channel)


@pytest.fixture(scope="session")
def as_(stub, tokens):
    return lambda username: Caller(stub, tokens[username] if username else None)


class Events:
    """The watched services' events, handed to supervision as its consumer does (its subscription table)."""

    def __init__(self, handlers, db):
        self.h, self.db = handlers, db

    def send(self, source: str, message, tenant: str) -> None:
        from shared.db import event_type_of

        event_type = event_type_of(message)
        deliver_event(subscribed(SUBSCRIPTIONS, f"on_{event_type}", self.h), self.db, tenant, message, source=source)

    def new_case(self, tenant: str = COUNTY) -> tuple[str, str]:
        n = next(_seq)
        return str(uuid.uuid4()), f"{tenant.ljust(12, '0')}20260929{n:06d}"

    def submitted(self, tenant: str, app: str, day: dt.date, clerk: str = "") -> None:
        m = intake_ev.ApplicationSubmitted(application_id=app, tenant=tenant, item_id="item-1", channel="1",
                                           received_at=at(day))
        if clerk and "received_by" in m.DESCRIPTOR.fields_by_name:
            m.received_by = clerk
        self.send("intake", m, tenant)

    def accepted(self, tenant: str, app: str, number: str, day: dt.date, *, promised: int = 4, statutory: int = 20,
                 deemed: bool = False) -> None:
        self.send("intake", intake_ev.ApplicationAccepted(
            application_id=app, tenant=tenant, case_number=number, item_id="item-1", accepted_at=at(day, 10),
            received_at=at(day), item_name="建筑工程施工许可", department="凉州区住房和城乡建设局",
            promised_limit_days=promised, statutory_limit_days=statutory, accepted_by="county.clerk",
            deemed=deemed), tenant)

    def opened(self, tenant: str, app: str, number: str, day: dt.date, promised_due: dt.date,
               statutory_due: dt.date, *, promised: int = 4, provisional: tuple[str, ...] = ()) -> None:
        self.send("approval", approval_ev.CaseOpened(
            case_id=str(uuid.uuid4()), case_number=number, tenant=tenant, application_id=app, item_id="item-1",
            category="投资建设", item_name="建筑工程施工许可",
            promised=deadline(day, promised, promised_due, provisional),
            statutory=deadline(day, 20, statutory_due, provisional), opened_at=at(day, 10)), tenant)

    def claimed(self, tenant: str, app: str, number: str, step_id: str, day: dt.date, holder: str = "county.reviewer",
                kind: str = "review") -> None:
        self.send("approval", approval_ev.StepClaimed(
            case_number=number, tenant=tenant, step_id=step_id, kind=kind, desk="投资建设", holder=holder,
            holder_name="张审查", at=at(day, 11), application_id=app), tenant)

    def reviewed(self, tenant: str, number: str, day: dt.date, reviewer: str = "county.reviewer") -> None:
        self.send("approval", approval_ev.ReviewCompleted(case_number=number, tenant=tenant, reviewer=reviewer,
                                                          conclusion="agree", at=at(day, 15)), tenant)

    def decided(self, tenant: str, number: str, day: dt.date) -> None:
        self.send("approval", approval_ev.CaseDecided(case_number=number, tenant=tenant, outcome="approved",
                                                      decider="county.decider", at=at(day, 16)), tenant)

    def suspended(self, tenant: str, number: str, day: dt.date) -> None:
        self.send("approval", approval_ev.ClockSuspended(case_number=number, tenant=tenant, procedure="expert_review",
                                                         days=5, at=at(day, 12)), tenant)

    def resumed(self, tenant: str, number: str, day: dt.date, paused: int, promised_due: dt.date,
                statutory_due: dt.date, start: dt.date) -> None:
        self.send("approval", approval_ev.ClockResumed(
            case_number=number, tenant=tenant, at=at(day, 9), paused_working_days=paused,
            promised=deadline(start, 4, promised_due), statutory=deadline(start, 20, statutory_due)), tenant)


@pytest.fixture(scope="session")
def events(handlers, supervision_db):
    return Events(handlers, supervision_db)
