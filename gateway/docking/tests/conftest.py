"""Docking fixtures: the docking schema migrated in this run's database, the docking handlers with a key
pair of the run, and the provincial platform simulator on a free loopback port holding the other half."""

from __future__ import annotations

import json
import pathlib
import uuid

import grpc
import pytest
from sanji.docking.v1 import docking_pb2 as pb
from sanji.docking.v1 import docking_pb2_grpc
from sqlalchemy import create_engine, text

from gateway.docking.handlers import DockingHandlers
from gateway.docking.province import ProvinceClient
from gateway.docking.service import registration
from gateway.docking.translate import EventsOut
from infra.province.simulator import ProvinceSimulator
from shared.db import Database, run_migrations
from shared.sm2 import Signer, generate_keypair

HERE = pathlib.Path(__file__).resolve().parents[1]
COUNTY, TOWNSHIP, OTHER_PROVINCE_COUNTY = "620602", "620602001", "513221"
SIBLING_COUNTY = "620621"     # 民勤县, another county of the same province (武威市)


@pytest.fixture(scope="session")
def docking_migrated(test_settings):
    run_migrations(HERE / "migrations", test_settings.database_owner_url, "docking")
    return test_settings


@pytest.fixture(scope="session")
def docking_db(docking_migrated):
    db = Database.connect(docking_migrated.database_url, schema="docking", pool_size=6)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def county_keys():
    return generate_keypair()


@pytest.fixture(scope="session")
def province_keys():
    return generate_keypair()


@pytest.fixture
def simulator(county_keys, province_keys):
    sim = ProvinceSimulator(county_public_key=county_keys[1], private_key=province_keys[0],
                            public_key=province_keys[1]).start()
    yield sim
    sim.stop()


def make_handlers(db, county_keys, province_keys, sim=None, **kw) -> DockingHandlers:
    import datetime as dt

    # no settle time unless a test asks for one: these tests queue a case's events before they run a delivery
    # pass; the hold itself is test_case_order's
    kw.setdefault("settle", dt.timedelta(0))
    return DockingHandlers(db, signer=Signer(*county_keys), province_keys={"62": province_keys[1]},
                           events_out=EventsOut(), province=ProvinceClient(sim.url, timeout=2) if sim else None,
                           backoff_first=dt.timedelta(milliseconds=20), backoff_max=dt.timedelta(milliseconds=200),
                           **kw)


@pytest.fixture
def handlers(docking_db, county_keys, province_keys, simulator):
    return make_handlers(docking_db, county_keys, province_keys, simulator)


@pytest.fixture
def docking_stub(handlers, verifier):
    from tests.support import serving

    with serving([registration(handlers)], verifier) as target, grpc.insecure_channel(target) as channel:
        yield docking_pb2_grpc.DockingServiceStub(channel)


def send(stub, msg) -> pb.ReceiveResult:
    raw = msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False)
    return stub.ReceiveProvinceMessage(pb.ProvinceMessage(envelope_json=raw), timeout=20)


@pytest.fixture
def unsent(docking_migrated):
    """Reports a test queues only to look at them, as (tenant, case key): removed after the test. A delivery pass
    sends every county's due reports from this shared database, so one left behind reached a later test's
    province and made its count of receipts one too many."""
    queued: list[tuple[str, str]] = []
    yield queued
    for tenant, key in queued:
        owner_exec(docking_migrated.database_owner_url,
                   "DELETE FROM docking.outbound WHERE case_key = :k AND delivered_at IS NULL", tenant=tenant, k=key)


def owner_exec(owner_url: str, statement: str, tenant: str = COUNTY, **params) -> list:
    """A statement as the tables' owner (what someone with the database in hand could do), bound to `tenant`
    (FORCE ROW LEVEL SECURITY holds the owner too)."""
    eng = create_engine(owner_url)
    try:
        with eng.begin() as c:
            c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
            r = c.execute(text(statement), params)
            return r.all() if r.returns_rows else []
    finally:
        eng.dispose()


def applicant() -> dict:
    return {"kind": "natural_person", "name": "张三", "id_type": "resident_id", "id_number": "620602199001011234",
            "phone": "13800000000"}


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def online(migrated, docking_db, county_keys, province_keys, simulator, verifier, catalogue_server,
           service_credentials):
    """The docking gateway with intake behind its own gRPC (the docking credential), and the catalogue's."""
    from sanji.intake.v1 import intake_pb2_grpc

    from gateway.docking.clients import IntakeClient
    from services.intake.catalogue import GrpcCatalogue
    from services.intake.handlers import IntakeHandlers
    from services.intake.service import registration as intake_registration
    from services.intake.translate import EventsOut as IntakeEvents
    from shared.clock import Clock
    from tests.support import serving

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
