"""Intake integration fixtures: the intake gRPC server in this process (the platform's interceptor
chain, real tokens), pointing at the in-process catalogue server; a pinned clock the tests move; and
a small published catalogue (an item delegated to 东大街街道 and proxied by 南苑社区, a county item
proxied by 南苑社区, an immediate item, a legal-person item)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import random
import re
import uuid

import grpc
import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from pypdf import PdfReader
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.intake.v1 import intake_pb2 as pb
from sanji.intake.v1 import intake_pb2_grpc
from sqlalchemy import text

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.intake.catalogue import GrpcCatalogue
from services.intake.handlers import IntakeHandlers
from services.intake.service import registration
from services.intake.translate import EventsOut
from shared import idnumbers
from shared.clock import Clock
from shared.db import Database, relay_transaction
from shared.grpc.client import bearer
from shared.grpc.provinces import GrpcProvinces
from shared.grpc.server import FIELD_KEY
from shared.provinces import ProvinceBook
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
    """Composed as the service's __main__ composes them: the catalogue's items and province records."""
    catalogue, provinces = GrpcCatalogue(catalogue_server), GrpcProvinces(catalogue_server)
    yield IntakeHandlers(intake_db, catalogue, clock, EventsOut(), public_base_url="http://127.0.0.1:8000",
                         provinces=ProvinceBook(provinces))
    catalogue.close()
    provinces.close()


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


@pytest.fixture(scope="module")
def client(catalogue_server, intake_server, oidc, verifier):
    """The gateway in front of these intake and catalogue servers (the REST edge and the console)."""
    # the lookups here are the tests' own, not an enumeration: the gateway's rate limit (tested in gateway/tests)
    # is set out of their way
    settings = GatewaySettings(catalogue_target=catalogue_server, intake_target=intake_server, oidc_server_url=oidc.url,
                               rate_limit_lookup="1000/minute")
    with TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False) as c:
        yield c


def auth(tokens, user):
    return {"authorization": f"Bearer {tokens[user]}"}


@pytest.fixture(scope="session")
def via_agency(intake_stub, tokens, service_credentials):
    """via_agency("nanyuan.agent").SubmitProxyApplication(request) — as the agency service calls intake for
    one of its agents: the agent's token and the agency's own credential beside it."""
    return lambda username: Caller(intake_stub, tokens[username], timeout=30, service=service_credentials("agency"))


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


def collected_item(stub, tokens, name: str) -> cpb.Item:
    """A county item, published, that the township's window takes in on the county's behalf (代收)."""
    md = bearer(tokens["county.admin"])
    item = stub.CreateItem(cpb.CreateItemRequest(elements=elements(name=name, exercise_level="4")), metadata=md,
                           timeout=10)
    item = stub.PublishItem(cpb.PublishItemRequest(item_id=item.id), metadata=md, timeout=10)
    stub.DelegateItem(cpb.DelegateItemRequest(item_id=item.id, target_tenants=[TOWNSHIP], reason="街道代收",
                                              kind=cpb.LISTING_KIND_COLLECT), metadata=md, timeout=10)
    return item


def whole_list(caller, **filters) -> list[pb.Application]:
    """Every page of a list, newest first: the session's applications run to more than a page, and the tests that
    pin a later day put theirs ahead of the rest."""
    out: list[pb.Application] = []
    while True:
        got = caller.ListApplications(pb.ListApplicationsRequest(limit=200, offset=len(out), **filters)).applications
        out += got
        if len(got) < 200:
            return out


def submit_request(item: cpb.Item, *, materials=("M1", "M2", "M3", "M4"), scenario="S1", applicant=None,
                   idem: str | None = None, channel=pb.CHANNEL_WINDOW, **over) -> pb.SubmitApplicationRequest:
    applicant = applicant or pb.Applicant(name="张三", id_number=rid(), phone="13909351234",
                                          address="凉州区东大街 1 号")
    return pb.SubmitApplicationRequest(
        idempotency_key=idem or key(), item_id=item.id, scenario_code=scenario, channel=channel, applicant=applicant,
        materials=[pb.MaterialSubmission(code=c, supplied=True) for c in materials], **over)


# -- what the tests read back, and the requests and callers they share ----------------------------------
def outbox(db, *correlation_ids: str) -> list[tuple[str, dict, str]]:
    with relay_transaction(db.engine) as c:
        rows = c.execute(text("SELECT routing_key, body, tenant FROM intake.outbox WHERE correlation_id = ANY(:c)"
                              " ORDER BY seq"), {"c": list(correlation_ids)}).all()
    return [(r[0], json.loads(r[1]), r[2]) for r in rows]


def outbox_count(db) -> int:
    with relay_transaction(db.engine) as c:
        return c.execute(text("SELECT count(*) FROM intake.outbox")).scalar()


def rows_with_key(db, tenant: str, idem: str) -> int:
    with db.unit_of_work(tenant=tenant) as uow:
        return uow.session.execute(text("SELECT count(*) FROM intake.applications WHERE idempotency_key = :k"),
                                   {"k": idem}).scalar()


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "\n".join(p.extract_text() or "" for p in reader.pages))


def notice_pdf(caller, app: pb.Application, kind: str) -> str:
    notice = next(n for n in app.notices if n.kind == kind)
    got = caller.GetNotice(pb.GetNoticeRequest(application_id=app.id, notice_id=notice.id))
    assert got.pdf[:4] == b"%PDF" and got.kind == kind and got.template_version == "2"
    assert got.pdf_url == notice.pdf_url == f"/api/v1/intake/applications/{app.id}/notices/{notice.id}.pdf"
    return pdf_text(got.pdf)


def codes(app: pb.Application) -> set[str]:
    return {c.material_code for c in app.open_corrections}


@pytest.fixture
def clerk(as_user):
    return as_user("dongdajie.clerk")


@pytest.fixture
def township_item(catalogue_items):
    return catalogue_items["township"]


def proxy_request(item, **over) -> pb.SubmitProxyApplicationRequest:
    d = dict(idempotency_key=key("proxy"), proxy_request_id=str(uuid.uuid4()), item_id=item.id, scenario_code="S1",
             applicant=pb.Applicant(name="马奶奶", id_number=rid("19400101"), address="南苑社区 3 号楼"),
             materials=[pb.MaterialSubmission(code=c, note="代办员上门收取") for c in ("M1", "M2", "M3", "M4")])
    d.update(over)
    return pb.SubmitProxyApplicationRequest(**d)
