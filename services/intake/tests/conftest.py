"""Intake integration fixtures: the intake gRPC server in this process (the platform's interceptor
chain, real tokens), pointing at the in-process catalogue server; a pinned clock the tests move; and
a small published catalogue (an item delegated to 东大街街道 and proxied by 南苑社区, a county item
proxied by 南苑社区, an immediate item, a legal-person item)."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import grpc
import pytest
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.intake.v1 import intake_pb2 as pb
from sanji.intake.v1 import intake_pb2_grpc

from services.intake.catalogue import GrpcCatalogue
from services.intake.handlers import IntakeHandlers
from services.intake.service import registration
from services.intake.translate import EventsOut
from shared import idnumbers
from shared.clock import Clock
from shared.db import Database
from shared.grpc.client import bearer
from shared.grpc.server import FIELD_KEY
from tests.support import Caller, serving

DEFAULT_TODAY = dt.date(2026, 3, 2)      # a Monday
TOWNSHIP, SIBLING, COUNTY, VILLAGE = "620602001", "620602002", "620602", "620602001001"
RUN = random.randint(1000, 9999)
_codes = itertools.count(1)
_ids = itertools.count(random.randint(0, 500))
_keys = itertools.count(1)


def rid(birth: str = "19800101") -> str:
    body = f"620602{birth}{next(_ids) % 1000:03d}"
    return body + idnumbers.resident_id_check_char(body)


def uscc() -> str:
    body = f"91620602MA{next(_ids) % 10**7:07d}"
    return body + idnumbers.uscc_check_char(body)


def key(prefix: str = "k") -> str:
    return f"{prefix}-{RUN}-{next(_keys)}"


def err(fn, *args, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, **kw)
    return e.value


def field_of(e: grpc.RpcError) -> str | None:
    return dict(e.trailing_metadata() or ()).get(FIELD_KEY)


def elements(**over) -> cpb.ItemElements:
    d = {
        "name": "农村村民宅基地审批", "basic_code": f"I{RUN}{next(_codes):04d}", "item_type": "01",
        "exercise_level": "5",
        "case_kind": "2", "department": "凉州区农业农村局", "legal_basis": "《中华人民共和国土地管理法》第六十二条",
        "acceptance_conditions": "本集体经济组织成员，符合一户一宅条件", "targets": ["natural_person"],
        "statutory_limit_days": 20, "promised_limit_days": 10,
        "scenarios": [{"code": "S1", "name": "新建住房", "materials": [
            {"code": "M1", "name": "农村宅基地和建房（规划许可）申请表", "core": True},
            {"code": "M2", "name": "户口簿复印件", "waivable": True, "makeup_days": 3},
            {"code": "M3", "name": "四邻签字意见", "waivable": True, "makeup_days": 10},
            {"code": "M4", "name": "现场照片"}]},
            {"code": "S2", "name": "原址翻建", "materials": [
                {"code": "N1", "name": "翻建申请表", "core": True}]}],
    }
    d.update(over)
    return json_format.ParseDict(d, cpb.ItemElements())


@pytest.fixture(scope="session")
def clock() -> Clock:
    return Clock(DEFAULT_TODAY)


@pytest.fixture
def today(clock):
    """The pinned clock for one test; back to the default date afterwards."""
    yield clock
    clock.set_today(DEFAULT_TODAY)


@pytest.fixture(scope="session")
def intake_db(migrated):
    db = Database.connect(migrated.database_url, schema="intake", pool_size=12)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def intake_handlers(intake_db, catalogue_server, clock):
    catalogue = GrpcCatalogue(catalogue_server)
    yield IntakeHandlers(intake_db, catalogue, clock, EventsOut(), public_base_url="http://127.0.0.1:8000")
    catalogue.close()


@pytest.fixture(scope="session")
def intake_server(intake_handlers, verifier):
    with serving([registration(intake_handlers)], verifier, workers=16) as target:
        yield target


@pytest.fixture(scope="session")
def intake_stub(intake_server):
    with grpc.insecure_channel(intake_server) as channel:
        yield intake_pb2_grpc.IntakeServiceStub(channel)


@pytest.fixture(scope="session")
def as_user(intake_stub, tokens):
    """as_user("dongdajie.clerk").SubmitApplication(request) — the stub with a user's token."""
    return lambda username: Caller(intake_stub, tokens[username], timeout=30)


@pytest.fixture(scope="session")
def catalogue_items(stub, tokens) -> dict[str, cpb.Item]:
    """Published items: `township` (county item delegated to 东大街, proxied by 南苑), `county` (county
    item proxied by 南苑), `immediate` (即办, county), `company` (legal persons, delegated to 东大街)."""
    md = bearer(tokens["county.admin"])

    def published(**over) -> cpb.Item:
        item = stub.CreateItem(cpb.CreateItemRequest(elements=elements(**over)), metadata=md, timeout=10)
        return stub.PublishItem(cpb.PublishItemRequest(item_id=item.id), metadata=md, timeout=10)

    def listed(item, targets, kind):
        stub.DelegateItem(cpb.DelegateItemRequest(item_id=item.id, target_tenants=targets, kind=kind, reason="测试"),
                          metadata=md, timeout=10)

    township = published()
    listed(township, [TOWNSHIP], cpb.LISTING_KIND_DELEGATED)
    listed(township, [VILLAGE], cpb.LISTING_KIND_PROXY)
    county = published(name="建设工程规划许可证核发", exercise_level="4", site_inspection="suspends")
    listed(county, [VILLAGE], cpb.LISTING_KIND_PROXY)
    immediate = published(name="个体工商户设立登记", exercise_level="4", case_kind="1", promised_limit_days=0,
                          statutory_limit_days=3, scenarios=[{"code": "S1", "name": "本人办理", "materials": [
                              {"code": "M1", "name": "登记申请书", "core": True},
                              {"code": "M2", "name": "经营者身份证", "core": True}]}])
    company = published(name="公共场所卫生许可", exercise_level="4", targets=["legal_person"])
    listed(company, [TOWNSHIP], cpb.LISTING_KIND_DELEGATED)
    return {"township": township, "county": county, "immediate": immediate, "company": company}


def submit_request(item: cpb.Item, *, materials=("M1", "M2", "M3", "M4"), scenario="S1", applicant=None,
                   idem: str | None = None, channel=pb.CHANNEL_WINDOW, **over) -> pb.SubmitApplicationRequest:
    applicant = applicant or pb.Applicant(name="张三", id_number=rid(), phone="13909351234",
                                          address="凉州区东大街 1 号")
    return pb.SubmitApplicationRequest(
        idempotency_key=idem or key(), item_id=item.id, scenario_code=scenario, channel=channel, applicant=applicant,
        materials=[pb.MaterialSubmission(code=c, supplied=True) for c in materials], **over)
