"""Onboarding a county as the province administrator's action (issue 23, item 2), against the real database, the
loopback identity provider's admin API and the service's gRPC server: Ningxia's administrator onboards 兴庆区
(640104) from the national files (areas in GBK, streets with a BOM) and a staff list; the job's report names every
refused line in Chinese; the staff log in; the initial passwords are handed out once; a second run changes
nothing; another province's administrator, a county's administrator and a clerk are refused — by the service, and
below it by the tables' policies. The county's tree, desks, seal and readiness go to catalogue, approval and fees over
gRPC (their real servers here), on the onboarding service's own credential: their internal methods refuse anyone
else, and the onboarding process's database role reaches no table of theirs."""

from __future__ import annotations

import csv
import io
import json
import secrets
from pathlib import Path

import grpc
import pytest
from keycloak import KeycloakAdmin
from sanji.approval.v1 import approval_pb2, approval_pb2_grpc
from sanji.catalogue.v1 import catalogue_pb2, catalogue_pb2_grpc
from sanji.fees.v1 import fees_pb2, fees_pb2_grpc
from sanji.onboarding.v1 import onboarding_pb2 as pb
from sanji.onboarding.v1 import onboarding_pb2_grpc
from sqlalchemy.exc import DBAPIError

from infra.local.bootstrap import service_database_url
from infra.oidc.client import login
from infra.oidc.provider import ProviderServer
from services.approval.administration import AdministrationHandlers
from services.approval.handlers import ApprovalHandlers
from services.approval.service import registration as approval_registration
from services.approval.translate import EventsOut as ApprovalEvents
from services.catalogue.admin import UPSERT_UNITS
from services.fees.handlers import FeesHandlers
from services.fees.service import registration as fees_registration
from services.fees.signing import Signer, Verifier
from services.fees.translate import EventsOut as FeesEvents
from services.onboarding.clients import OwnersBackOffice
from services.onboarding.domain import JobStatus, Upload
from services.onboarding.handlers import OnboardingHandlers
from services.onboarding.onboarder import CountyOnboarder
from services.onboarding.service import registration
from shared.auth import TokenVerifier
from shared.clock import Clock
from shared.db import Database
from shared.errors import InvalidArgument, NotFound, PermissionDenied
from shared.grpc.server import FIELD_KEY
from shared.sm2 import generate_keypair
from shared.tenancy import DivisionCode, Principal, Role
from tests.support import Caller, serving

DATA = Path(__file__).resolve().parents[3] / "tests" / "data" / "divisions-640104"
COUNTY = "640104"
ADMIN_SECRET = secrets.token_urlsafe(24)
BAD_VILLAGES = ("640104999001,\"无此街道的村\",640104999,64,6401,640104\n"
                "64010400100X,\"坏代码\",640104001,64,6401,640104\n")
STAFF = """username,name,unit_code,roles,password
xq.clerk,马受理,640104,综合受理员,pw-xq-clerk
xq.reviewer,杨审核,640104,审核人,pw-xq-reviewer
xq.decider,丁决定,640104,decider,
xq.admin,海管理,640104,tenant_admin;head,pw-xq-admin
xq.both,兼任,640104,reviewer;decider,
xq.stranger,外省,371502,reviewer,
"""


def _principal(tenant: str, username: str, *roles: Role) -> Principal:
    return Principal(subject=f"test:{username}", username=username, tenant=DivisionCode(tenant),
                     roles=frozenset(str(r) for r in roles or (Role.TENANT_ADMIN,)), display_name=username)


NINGXIA = _principal("64", "ningxia.admin")
GANSU = _principal("62", "gansu.admin")
XINGQING = _principal(COUNTY, "xingqing.admin")                       # the county's own administrator
NINGXIA_CLERK = _principal("64", "ningxia.clerk", Role.WINDOW_CLERK)


def uploads(villages_extra: str = "", staff: str = STAFF) -> dict[str, Upload]:
    text = {n: (DATA / f"{n}.csv").read_text(encoding="utf-8") for n in ("areas", "streets", "villages")}
    return {"areas": Upload(text["areas"].encode("gbk"), "areas.csv"),
            "streets": Upload(text["streets"].encode("utf-8-sig"), "streets.csv"),
            "villages": Upload((text["villages"] + villages_extra).encode("utf-8"), "villages.csv"),
            "staff": Upload(staff.encode("gbk"), "staff.csv")}


@pytest.fixture(scope="module")
def provider():
    server = ProviderServer([], admin_clients={"sanji-admin": ADMIN_SECRET}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def db(migrated):
    """The onboarding process's own database role (sanji_onboarding), as `make run` and k8s connect it."""
    database = Database.connect(service_database_url(migrated.database_url, "onboarding"), schema="onboarding",
                                pool_size=2)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def owners(migrated, verifier, catalogue_server):
    """approval's and fees' real gRPC servers (the platform's interceptor chain), beside the session's catalogue."""
    clock = Clock.from_settings(migrated)
    approval_db = Database.connect(migrated.database_url, schema="approval", pool_size=2)
    fees_db = Database.connect(migrated.database_url, schema="fees", pool_size=2)
    approval = ApprovalHandlers(approval_db, clock, ApprovalEvents())
    admin = AdministrationHandlers(approval_db, clock, approval.events_out, calendars=approval.calendars,
                                   categories=approval.categories)
    fees = FeesHandlers(fees_db, province=Verifier(generate_keypair()[1]), receipt_signer=Signer(*generate_keypair()),
                        events_out=FeesEvents(), clock=clock)
    with serving([approval_registration(approval, admin)], verifier) as approval_target, \
            serving([fees_registration(fees)], verifier) as fees_target:
        yield {"approval": approval_target, "fees": fees_target, "catalogue": catalogue_server,
               "approval_db": approval_db, "fees_db": fees_db}
    approval_db.dispose()
    fees_db.dispose()


@pytest.fixture(scope="module")
def handlers(migrated, db, provider, owners, service_credentials) -> OnboardingHandlers:
    clock = Clock.from_settings(migrated)

    def idp() -> KeycloakAdmin:
        return KeycloakAdmin(server_url=provider.url, realm_name="sanji", client_id="sanji-admin",
                             client_secret_key=ADMIN_SECRET)

    back_office = OwnersBackOffice(approval=owners["approval"], fees=owners["fees"], catalogue=owners["catalogue"],
                                   service=service_credentials("onboarding"))
    return OnboardingHandlers(db, clock, CountyOnboarder(back_office, idp))


@pytest.fixture(scope="module")
def first_job(handlers):
    job = handlers.submit(NINGXIA, COUNTY, uploads(BAD_VILLAGES))
    assert (job.status, job.province, job.county, job.requested_by) == (JobStatus.QUEUED, "64", COUNTY,
                                                                        "ningxia.admin")
    assert handlers.run_waiting() >= 1
    return handlers.get(NINGXIA, job.id)


def test_a_province_admin_onboards_a_county_of_the_province_and_reads_the_report_by_line(first_job, provider):
    job = first_job
    assert job.status is JobStatus.DONE and job.error == "", job.report
    assert job.units_imported == 1 + 16 + 148
    assert "导入单位：165 个（县（区） 1 个、乡镇（街道） 16 个、村（社区） 148 个）" in job.report
    problems = {(f, n): m for f, n, m in job.problems}
    assert set(problems) == {("villages.csv", 150), ("villages.csv", 151), ("staff.csv", 6), ("staff.csv", 7)}
    assert "640104999" in problems[("villages.csv", 150)]
    assert problems[("staff.csv", 6)] == "账号 xq.both 不能同时为审核人和决定人（审核人与决定人分离）"
    assert problems[("staff.csv", 7)] == "账号 xq.stranger 的单位代码 371502 不是 640104 单位树中的单位"
    assert job.staff_provisioned == 4 and job.passwords_set == 4 and job.credentials_waiting
    assert any("没有已发布的事项" in lack for lack in job.lacks)
    assert any("行政审批专用章为占位" in lack for lack in job.lacks)
    # the staff log in with their unit and roles
    verifier = TokenVerifier(provider.url, "sanji", audience="sanji-platform")
    clerk = verifier.verify(login(provider.url, "xq.clerk", "pw-xq-clerk"))
    assert (str(clerk.tenant), set(clerk.roles), clerk.display_name) == (COUNTY, {"window_clerk"}, "马受理")


def test_the_initial_passwords_are_handed_out_once_to_the_provinces_admin(handlers, first_job, provider):
    with pytest.raises(NotFound):
        handlers.take_credentials(GANSU, first_job.id)                  # not another province's
    name, content = handlers.take_credentials(NINGXIA, first_job.id)
    sheet = {r["username"]: r for r in csv.DictReader(io.StringIO(content.decode("utf-8")))}
    assert name == "initial-passwords-640104.csv" and set(sheet) == {"xq.clerk", "xq.reviewer", "xq.decider",
                                                                     "xq.admin"}
    decider = sheet["xq.decider"]["initial_password"]                   # a random one: the line gave none
    assert len(decider) >= 12 and login(provider.url, "xq.decider", decider)
    with pytest.raises(NotFound):
        handlers.take_credentials(NINGXIA, first_job.id)                # erased as it was read
    assert not handlers.get(NINGXIA, first_job.id).credentials_waiting


def test_onboarding_again_changes_nothing(handlers, first_job):
    job = handlers.submit(NINGXIA, COUNTY, uploads())
    assert handlers.run_waiting() >= 1
    job = handlers.get(NINGXIA, job.id)
    assert job.status is JobStatus.DONE and job.problems == [("staff.csv", 6, job.problems[0][2]),
                                                              ("staff.csv", 7, job.problems[1][2])]
    assert "统一身份认证：新建/更新 {}；已存在 " in "\n".join(job.report)
    assert any(line.endswith("占位印章：0 个单位") for line in job.report)
    assert job.passwords_set == 0 and not job.credentials_waiting
    jobs, total = handlers.list(NINGXIA, 50, 0)
    ids = [j.id for j in jobs]          # newest first (other tests of the module may have run jobs in between)
    assert total >= 2 and ids[0] == job.id and first_job.id in ids[1:]


def test_another_provinces_admin_a_county_admin_and_a_clerk_are_refused(handlers, first_job, db):
    for who in (GANSU, XINGQING, NINGXIA_CLERK):
        with pytest.raises(PermissionDenied):
            handlers.submit(who, COUNTY, uploads())
    with pytest.raises(PermissionDenied):
        handlers.submit(NINGXIA, "620602", uploads())                 # Ningxia's admin, a Gansu county
    with pytest.raises(NotFound):
        handlers.get(GANSU, first_job.id)
    assert first_job.id not in {j.id for j in handlers.list(GANSU, 200, 0)[0]}
    for who in (XINGQING, NINGXIA_CLERK):
        with pytest.raises(PermissionDenied):
            handlers.get(who, first_job.id)
    # below the handlers: Gansu's binding sees no Ningxia job
    with db.unit_of_work(tenant="62") as uow:
        assert uow.value("SELECT count(*) FROM onboarding.jobs WHERE tenant_code = '64'") == 0


def test_the_division_tree_is_written_by_the_catalogue_bound_to_the_province(first_job, owners, catalogue_db,
                                                                              service_credentials):
    """catalogue 0007's policy on catalogue.units: a unit written only by a transaction bound to its province; the
    catalogue's ImportCountyUnits binds the province the onboarding service names and refuses a county of another."""
    rename = {"code": "640104001", "name": "改名", "kind": "township", "parent": COUNTY}
    new = {"code": "640104777", "name": "新街道", "kind": "township", "parent": COUNTY}
    for binding in ("62", COUNTY):          # another province's, and the county's own (units are the province's)
        for rows in ([rename], [new]):
            with pytest.raises(Exception, match="row-level security"), \
                    catalogue_db.unit_of_work(tenant=binding) as uow:
                uow.execute(UPSERT_UNITS, {"rows": json.dumps(rows)})
    with catalogue_db.unit_of_work(tenant="64") as uow:
        assert uow.execute("UPDATE catalogue.units SET name = 'x' WHERE code = '620602'") == 0
    with grpc.insecure_channel(owners["catalogue"]) as channel:
        stub = Caller(catalogue_pb2_grpc.CatalogueServiceStub(channel), None, service=service_credentials("onboarding"))
        line = catalogue_pb2.DivisionLine(source="x.csv", line=2, code="640104777", name="新街道")
        with pytest.raises(grpc.RpcError) as refused:                   # a Ningxia county under Gansu
            stub.ImportCountyUnits(catalogue_pb2.ImportCountyUnitsRequest(province="62", county=COUNTY, lines=[line]))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        for province, county, field_name in (("6", COUNTY, "province"), ("64", "64010", "county"),
                                             ("64", "640104001", "county")):
            with pytest.raises(grpc.RpcError) as refused:
                stub.ImportCountyUnits(catalogue_pb2.ImportCountyUnitsRequest(province=province, county=county))
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (province, county)
            assert dict(refused.value.trailing_metadata()).get(FIELD_KEY) == field_name
        # a line of another county (of the same province or not) is refused by line, nothing of it written
        strays = [catalogue_pb2.DivisionLine(source="x.csv", line=3, code="640105001", name="别县街道"),
                  catalogue_pb2.DivisionLine(source="x.csv", line=4, code="620602777", name="甘肃街道"),
                  catalogue_pb2.DivisionLine(source="x.csv", line=5, code="64", name="宁夏")]
        r = stub.ImportCountyUnits(catalogue_pb2.ImportCountyUnitsRequest(province="64", county=COUNTY, lines=strays))
        assert [x.line for x in r.refused] == [3, 4, 5] and not r.accepted
        assert {u.code for u in r.county_units} >= {COUNTY, "640104001"}
        assert not any(u.code.startswith(("6401050", "620602")) for u in r.county_units)
    with catalogue_db.unit_of_work() as uow:
        assert uow.value("SELECT count(*) FROM catalogue.units WHERE code IN ('640105001', '620602777')") == 0


def test_the_onboarding_role_reaches_no_table_of_approval_fees_or_catalogue(db, first_job):
    """The wall: the onboarding process's database role (sanji_onboarding) has USAGE on its own schema only — bound
    to the county, the province or nothing, it can neither read nor write approval's, fees' or catalogue's tables."""
    reads = ["SELECT count(*) FROM approval.seals", "SELECT count(*) FROM approval.staff",
             "SELECT count(*) FROM approval.desks", "SELECT count(*) FROM fees.fee_items",
             "SELECT count(*) FROM fees.treasury_accounts", "SELECT count(*) FROM catalogue.items",
             "SELECT count(*) FROM catalogue.item_listings", "SELECT count(*) FROM catalogue.units",
             "SELECT count(*) FROM catalogue.code_formats", "SELECT count(*) FROM intake.applications"]
    writes = ["INSERT INTO approval.seals (tenant_code, name, code) VALUES (:c, '伪章', 'X')",
              "UPDATE approval.seals SET code = 'X' WHERE tenant_code = :c",
              "INSERT INTO fees.treasury_accounts (tenant_code, payee_name, account_number, bank_name, kind)"
              " VALUES (:c, 'x', '1', 'x', 'x')",
              "DELETE FROM fees.fee_items WHERE tenant_code = :c",
              "UPDATE catalogue.units SET name = 'x' WHERE code = :c"]
    for binding in (COUNTY, "64", None):
        for statement in (*reads, *writes):
            uow = db.unit_of_work(tenant=binding) if binding else db.unit_of_work()
            with pytest.raises(DBAPIError, match="permission denied for schema"), uow as u:
                u.execute(statement, {"c": COUNTY})
    with db.unit_of_work(tenant="64") as uow:                   # its own tables it reads, under their policies
        assert uow.value("SELECT count(*) FROM onboarding.jobs WHERE id = :j", {"j": first_job.id}) == 1
        assert uow.value("SELECT current_user") == "sanji_onboarding"


def _internal_calls(owners):
    """Each owner's internal method for onboarding, with a valid request: (target, stub class, method, request)."""
    return [
        (owners["approval"], approval_pb2_grpc.ApprovalServiceStub, "SetUpUnitBackOffice",
         approval_pb2.SetUpUnitBackOfficeRequest(unit="620602001", unit_name="东大街街道", staff=[
             approval_pb2.BackOfficeStaff(username="intruder", name="闯入者", decider=True)])),
        (owners["approval"], approval_pb2_grpc.ApprovalServiceStub, "GetBackOfficeReadiness",
         approval_pb2.GetBackOfficeReadinessRequest(unit="620602")),
        (owners["fees"], fees_pb2_grpc.FeesServiceStub, "GetFeesReadiness", fees_pb2.GetFeesReadinessRequest(
            unit="620602")),
        (owners["catalogue"], catalogue_pb2_grpc.CatalogueServiceStub, "GetCatalogueReadiness",
         catalogue_pb2.GetCatalogueReadinessRequest(unit="620602")),
        (owners["catalogue"], catalogue_pb2_grpc.CatalogueServiceStub, "ImportCountyUnits",
         catalogue_pb2.ImportCountyUnitsRequest(province="62", county="620602", lines=[catalogue_pb2.DivisionLine(
             source="x.csv", line=2, code="620602777", name="伪街道")])),
    ]


def test_the_owners_internal_methods_refuse_any_caller_but_the_onboarding_service(owners, tokens, catalogue_db,
                                                                                  service_credentials):
    """No token, a person's token (the county's own admin, the province's admin), a person's token sent as the
    service credential, another service's credential (alone or carrying a person), and even the onboarding service's
    own credential carrying a person: refused, and nothing written."""
    onboarding, intake = service_credentials("onboarding"), service_credentials("intake")
    for target, stub_class, method, request in _internal_calls(owners):
        with grpc.insecure_channel(target) as channel:
            stub = stub_class(channel)
            attempts = [
                (Caller(stub, None), grpc.StatusCode.UNAUTHENTICATED),
                (Caller(stub, tokens["county.admin"]), grpc.StatusCode.UNAUTHENTICATED),
                (Caller(stub, tokens["ningxia.admin"]), grpc.StatusCode.UNAUTHENTICATED),
                (Caller(stub, None, service=_PersonAsService(tokens["county.admin"])),
                 grpc.StatusCode.UNAUTHENTICATED),
                (Caller(stub, None, service=intake), grpc.StatusCode.PERMISSION_DENIED),
                (Caller(stub, tokens["county.admin"], service=intake), grpc.StatusCode.PERMISSION_DENIED),
                (Caller(stub, tokens["county.admin"], service=onboarding), grpc.StatusCode.PERMISSION_DENIED),
            ]
            for caller, code in attempts:
                with pytest.raises(grpc.RpcError) as refused:
                    getattr(caller, method)(request)
                assert refused.value.code() == code, (method, code)
    with owners["approval_db"].unit_of_work(tenant="620602001") as uow:
        assert uow.value("SELECT count(*) FROM approval.staff WHERE username = 'intruder'") == 0
        assert uow.value("SELECT count(*) FROM approval.seals WHERE code LIKE 'PENDING-%'") == 0
    with catalogue_db.unit_of_work() as uow:
        assert uow.value("SELECT count(*) FROM catalogue.units WHERE code = '620602777'") == 0


class _PersonAsService:
    """A person's token sent where a service's own credential goes."""

    def __init__(self, token: str):
        self._token = token

    def token(self) -> str:
        return self._token


def test_the_onboarding_service_sets_up_one_unit_at_a_time_and_reads_one_county(owners, service_credentials,
                                                                                 first_job):
    """Through the internal methods on the onboarding credential: the back office is the named unit's only (another
    county's desks and seal untouched), the readiness is the named county's (the demo county's items and seal are not
    640104's), and bad input names its field."""
    onboarding = service_credentials("onboarding")
    with grpc.insecure_channel(owners["approval"]) as a, grpc.insecure_channel(owners["fees"]) as f, \
            grpc.insecure_channel(owners["catalogue"]) as c:
        approval = Caller(approval_pb2_grpc.ApprovalServiceStub(a), None, service=onboarding)
        fees = Caller(fees_pb2_grpc.FeesServiceStub(f), None, service=onboarding)
        catalogue = Caller(catalogue_pb2_grpc.CatalogueServiceStub(c), None, service=onboarding)
        ready = approval.GetBackOfficeReadiness(approval_pb2.GetBackOfficeReadinessRequest(unit=COUNTY))
        assert ready.seal and ready.placeholder_seal                    # onboarding gave 640104 a placeholder
        again = approval.SetUpUnitBackOffice(approval_pb2.SetUpUnitBackOfficeRequest(
            unit="640104001", unit_name="凤凰北街街道", staff=[approval_pb2.BackOfficeStaff(
                username="fh.decider", name="凤决定", decider=True)]))
        assert again.placeholder_seal_registered and [d.username for d in again.desks] == ["fh.decider"]
        assert again.desks[0].desks
        repeat = approval.SetUpUnitBackOffice(approval_pb2.SetUpUnitBackOfficeRequest(
            unit="640104001", unit_name="凤凰北街街道", staff=[approval_pb2.BackOfficeStaff(
                username="fh.decider", name="凤决定", decider=True)]))
        assert not repeat.placeholder_seal_registered                   # its seal is never replaced
        assert catalogue.GetCatalogueReadiness(catalogue_pb2.GetCatalogueReadinessRequest(unit=COUNTY)) \
            .published_items == 0
        assert fees.GetFeesReadiness(fees_pb2.GetFeesReadinessRequest(unit=COUNTY)).published_fee_items == 0
        for call, request, field_name in (
                (approval.SetUpUnitBackOffice, approval_pb2.SetUpUnitBackOfficeRequest(unit="6401x"), "unit"),
                (approval.SetUpUnitBackOffice, approval_pb2.SetUpUnitBackOfficeRequest(
                    unit=COUNTY, staff=[approval_pb2.BackOfficeStaff(username=" ")]), "staff[0].username"),
                (approval.GetBackOfficeReadiness, approval_pb2.GetBackOfficeReadinessRequest(unit=""), "unit"),
                (fees.GetFeesReadiness, fees_pb2.GetFeesReadinessRequest(unit="abc"), "unit"),
                (catalogue.GetCatalogueReadiness, catalogue_pb2.GetCatalogueReadinessRequest(unit="1"), "unit")):
            with pytest.raises(grpc.RpcError) as refused:
                call(request)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert dict(refused.value.trailing_metadata()).get(FIELD_KEY) == field_name, field_name
    with owners["approval_db"].unit_of_work(tenant="620602") as uow:   # the demo county: nobody of 640104's
        assert uow.value("SELECT count(*) FROM approval.staff WHERE username LIKE 'xq.%' OR username LIKE 'fh.%'") == 0
        assert uow.value("SELECT count(*) FROM approval.seals WHERE code LIKE 'PENDING-64%'") == 0


@pytest.mark.parametrize("change,field_name,message", [
    ({"areas": Upload("code,name,cityCode,provinceCode\n640105,西夏区,6401,64\n".encode(), "areas.csv")},
     "files", "areas.csv 中没有县（区）640104"),
    ({"staff": Upload("账号,姓名\nx,y\n".encode(), "staff.csv")}, "staff",
     "表头缺少列 username、name、unit_code、roles"),
    ({"villages": Upload(b"", "villages.csv")}, "villages", "缺少村级区划文件"),
    ({"streets": Upload(b"\xff\xfe\x00\x01garbage\x80\x81", "streets.csv")}, "files", "streets.csv"),
    ({"staff": Upload(b"username,name,unit_code,roles\n", "../staff.csv")}, "staff", "文件名无效"),
])
def test_unreadable_files_are_refused_in_chinese_before_a_job_is_queued(handlers, change, field_name, message):
    before = handlers.list(NINGXIA, 1, 0)[1]
    with pytest.raises(InvalidArgument) as refused:
        handlers.submit(NINGXIA, COUNTY, {**uploads(), **change})
    assert refused.value.field == field_name and message in refused.value.message
    assert handlers.list(NINGXIA, 1, 0)[1] == before


def test_through_grpc_the_province_admin_queues_and_others_are_refused(handlers, first_job, verifier, tokens):
    with serving([registration(handlers)], verifier) as target, grpc.insecure_channel(target) as channel:
        stub = onboarding_pb2_grpc.OnboardingServiceStub(channel)
        files = {k: pb.Upload(content=u.content, filename=u.filename) for k, u in uploads().items()}
        request = pb.OnboardCountyRequest(county=COUNTY, **files)
        ningxia = Caller(stub, tokens["ningxia.admin"])
        job = ningxia.OnboardCounty(request)
        assert job.status == pb.JOB_STATUS_QUEUED and job.province == "64"
        assert ningxia.GetJob(pb.GetJobRequest(job_id=first_job.id)).status == pb.JOB_STATUS_DONE
        seen = ningxia.GetJob(pb.GetJobRequest(job_id=first_job.id))
        assert seen.units_imported == 165 and any(p.line == 150 and p.file == "villages.csv" for p in seen.problems)
        for who in ("gansu.admin", "county.admin", "county.clerk"):
            with pytest.raises(grpc.RpcError) as refused:
                Caller(stub, tokens[who]).OnboardCounty(request)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as refused:
            Caller(stub, tokens["gansu.admin"]).GetJob(pb.GetJobRequest(job_id=first_job.id))
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as refused:
            Caller(stub, None).ListJobs(pb.ListJobsRequest())
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert handlers.run_waiting() >= 1
    assert handlers.get(NINGXIA, job.id).status is JobStatus.DONE


def test_the_rest_route_and_the_console_page_for_the_province_admin_only(handlers, first_job, catalogue_server, oidc,
                                                                         verifier, tokens):
    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from gateway.pages_kit import csrf_of
    from gateway.settings import GatewaySettings

    with serving([registration(handlers)], verifier) as target:
        settings = GatewaySettings(catalogue_target=catalogue_server, onboarding_target=target,
                                   oidc_server_url=oidc.url)
        gw = TestClient(create_app(settings, verifier=verifier), raise_server_exceptions=False,
                        follow_redirects=False, client=("203.0.113.71", 40000))
        bearer = lambda who: {"authorization": f"Bearer {tokens[who]}"}  # noqa: E731
        files = {k: (u.filename, u.content, "text/csv") for k, u in uploads().items()}
        r = gw.post("/api/v1/provinces/64/counties", data={"county": COUNTY}, files=files,
                    headers=bearer("ningxia.admin"))
        assert r.status_code == 202 and r.json()["status"] == "queued", r.text
        job_id = r.json()["id"]
        assert handlers.run_waiting() >= 1
        job = gw.get(f"/api/v1/provinces/64/onboarding-jobs/{job_id}", headers=bearer("ningxia.admin")).json()
        assert job["status"] == "done" and job["units_imported"] == 165
        assert {(p["file"], p["line"]) for p in job["problems"]} == {("staff.csv", 6), ("staff.csv", 7)}
        listed = gw.get("/api/v1/provinces/64/onboarding-jobs", headers=bearer("ningxia.admin")).json()
        assert listed["jobs"][0]["id"] == job_id
        # refused: another province's admin (on either province's path), a county's admin; bad input names its field
        r = gw.post("/api/v1/provinces/64/counties", data={"county": COUNTY}, files=files,
                    headers=bearer("gansu.admin"))
        assert r.status_code == 403 and r.json()["field"] == "province"
        r = gw.post("/api/v1/provinces/62/counties", data={"county": COUNTY}, files=files,
                    headers=bearer("gansu.admin"))
        assert r.status_code == 422 and r.json()["field"] == "county"
        r = gw.get(f"/api/v1/provinces/62/onboarding-jobs/{job_id}", headers=bearer("gansu.admin"))
        assert r.status_code == 404
        r = gw.post("/api/v1/provinces/62/counties", data={"county": "620602"}, files=files,
                    headers=bearer("county.admin"))
        assert r.status_code == 403
        r = gw.post("/api/v1/provinces/64/counties", data={"county": COUNTY}, files={**files, "areas": (
            "areas.csv", "code,name\n640105,西夏区\n".encode("gbk"), "text/csv")}, headers=bearer("ningxia.admin"))
        assert r.status_code == 422 and "areas.csv 中没有县（区）640104" in r.json()["message"]
        r = gw.post("/api/v1/provinces/64/counties", data={"county": COUNTY},
                    files={k: v for k, v in files.items() if k != "staff"}, headers=bearer("ningxia.admin"))
        assert r.status_code == 422 and r.json()["field"] == "staff"

        # the console page: the menu for the province's admin only, the form with its CSRF value, the job's report
        page = gw.get("/console/onboarding", headers=bearer("ningxia.admin"))
        assert page.status_code == 200 and 'id="onboard-form"' in page.text and job_id in page.text
        assert 'href="/console/onboarding"' in page.text
        assert 'href="/console/onboarding"' not in gw.get("/console", headers=bearer("county.admin")).text
        form = {"county": COUNTY}
        r = gw.post("/console/onboarding", data={**form, "csrf": csrf_of(tokens["gansu.admin"])}, files=files,
                    headers=bearer("ningxia.admin"))
        assert r.status_code == 403 and "防伪" in r.text
        r = gw.post("/console/onboarding", data={**form, "csrf": csrf_of(tokens["ningxia.admin"])}, files=files,
                    headers=bearer("ningxia.admin"))
        assert r.status_code == 303, r.text
        page_job = r.headers["location"].rsplit("/", 1)[1]
        waiting = gw.get(r.headers["location"], headers=bearer("ningxia.admin"))
        assert "排队中" in waiting.text and 'http-equiv="refresh"' in waiting.text
        assert handlers.run_waiting() >= 1
        done = gw.get(r.headers["location"], headers=bearer("ningxia.admin")).text
        assert "已完成" in done and "staff.csv</td><td>7</td><td>账号 xq.stranger 的单位代码 371502" in done
        assert "没有已发布的事项" in done and "领取初始密码表" not in done           # a re-run sets no password
        r = gw.post(f"/console/onboarding/{page_job}/credentials", data={"csrf": csrf_of(tokens["ningxia.admin"])},
                    headers=bearer("ningxia.admin"))
        assert r.status_code == 404 and "没有待领取的初始密码" in r.text
        r = gw.get(f"/console/onboarding/{page_job}", headers=bearer("gansu.admin"))
        assert r.status_code == 404 and "text/html" in r.headers["content-type"]
        r = gw.get("/console/onboarding", headers=bearer("county.admin"))
        assert r.status_code == 403 and "只有省级管理员" in r.text
