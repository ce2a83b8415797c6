"""Several provinces in one deployment, each with its own public payment platform (issue 23, item 3): a
callback is verified with the key of the province whose unit it pays, and which key that is comes from the
province's record at the catalogue (`payment_key_ref`, managed by the province's administrator) — the key
itself from this service's configuration by that name, never from the record. A Gansu notice is paid only by
the key set Gansu's record names; a callback signed by another province's platform is refused for its
signature and logged, with nothing recorded; Gansu's administrator naming another key set changes which key
verifies Gansu's callbacks (within the record's cache time, in every replica)."""

from __future__ import annotations

import grpc
import pytest
from sanji.fees.v1 import fees_pb2 as pb
from sanji.fees.v1 import fees_pb2_grpc

from services.catalogue.province_handlers import ProvinceHandlers
from services.fees.handlers import FeesHandlers
from services.fees.payment_handlers import ProvinceKeys
from services.fees.settings import FeesSettings
from services.fees.signing import Signer, Verifier, generate_keypair
from services.fees.tests.conftest import Province, case_number, owner_rows
from services.fees.translate import EventsOut
from shared.grpc.provinces import GrpcProvinces
from shared.provinces import ProvinceBook
from shared.tenancy import DivisionCode, Principal, Role
from tests.support import Caller, serving

GANSU, GANSU_2027, SICHUAN, DEFAULT = generate_keypair(), generate_keypair(), generate_keypair(), generate_keypair()
SETS = {"gansu-pay": GANSU, "gansu-pay-2027": GANSU_2027, "sichuan-pay": SICHUAN}


def _admin(province: str) -> Principal:
    return Principal(subject=f"test:{province}-admin", username=f"admin.{province}", tenant=DivisionCode(province),
                     roles=frozenset({str(Role.TENANT_ADMIN)}))


class Clock:
    """The record cache's monotonic clock, moved by the test (no sleeping)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def records(catalogue_db, catalogue_server):
    """Gansu's and Sichuan's records name their key sets (as their administrators would); put back after."""
    provinces = ProvinceHandlers(catalogue_db)
    before = {code: provinces.get(code) for code in ("62", "51")}

    def name_key_set(code: str, ref: str) -> None:
        was = before[code]
        provinces.put(_admin(code), code, {"name": was.name, "calendar_region": was.calendar_region,
                                           "payment_key_ref": ref, "n_tong": list(was.n_tong),
                                           "complaint_working_days": was.complaint_working_days,
                                           "rectification_days": was.rectification_days})

    name_key_set("62", "gansu-pay")
    name_key_set("51", "sichuan-pay")
    source = GrpcProvinces(catalogue_server)
    yield name_key_set, source
    source.close()
    for code, was in before.items():
        name_key_set(code, was.payment_key_ref)


@pytest.fixture(scope="module")
def deployment(fees_db, receipt_keys, verifier, records):
    """A deployment for Gansu and Sichuan: the key sets by name, a default key for any other province, and the
    records read through the catalogue's gRPC with a 60 s cache on a clock the test moves."""
    clock = Clock()
    book = ProvinceBook(records[1], ttl=60.0, monotonic=clock)
    keys = ProvinceKeys(Verifier(DEFAULT[1]), {ref: Verifier(pair[1]) for ref, pair in SETS.items()}, book)
    handlers = FeesHandlers(fees_db, province=keys, receipt_signer=Signer(*receipt_keys), events_out=EventsOut())
    with serving([registration_of(handlers)], verifier) as target, grpc.insecure_channel(target) as channel:
        yield fees_pb2_grpc.FeesServiceStub(channel), clock


@pytest.fixture(scope="module")
def stub(deployment):
    return deployment[0]


def registration_of(handlers):
    from services.fees.service import registration

    return registration(handlers)


def _notice(stub, tokens) -> str:
    cashier = Caller(stub, tokens["county.cashier"])
    case = case_number()
    cashier.AssessFees(pb.AssessFeesRequest(case_number=case, lines=[pb.LineInput(fee_code="FEE-JMSFZ-GBF")],
                                            item_name="居民身份证换领", applicant_name="张三"))
    return cashier.IssueNotice(pb.IssueNoticeRequest(case_number=case)).notice.notice_number


def _refused(stub, keys, notice: str, migrated, reason: str = "signature does not verify") -> None:
    other = Province(keys, stub)
    fields = other.fields(notice, 2000)
    with pytest.raises(grpc.RpcError) as refused:
        other.callback(fields)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED and "签名" in refused.value.details()
    assert owner_rows(migrated.database_owner_url, "SELECT 1 FROM fees.payments WHERE payment_id = :p",
                      p=fields["payment_id"]) == []
    assert owner_rows(migrated.database_owner_url, "SELECT reason FROM fees.callback_rejections"
                      " WHERE payment_id = :p", p=fields["payment_id"]) == [(reason,)]


def test_a_callback_is_verified_with_the_key_set_its_provinces_record_names(stub, tokens, migrated):
    notice = _notice(stub, tokens)
    for keys in (SICHUAN, DEFAULT, GANSU_2027):          # another province's, the default, a set Gansu did not name
        _refused(stub, keys, notice, migrated)
    assert Province(GANSU, stub).pay(notice, 2000).outcome == "recorded"


def test_the_province_admin_naming_another_key_set_changes_the_key_within_the_cache_time(
        deployment, tokens, migrated, records):
    stub, clock = deployment
    name_key_set = records[0]
    before = _notice(stub, tokens)
    assert Province(GANSU, stub).pay(before, 2000).outcome == "recorded"        # the record is cached now
    try:
        name_key_set("62", "gansu-pay-2027")                                       # Gansu rotates its key
        after = _notice(stub, tokens)
        assert Province(GANSU, stub).pay(after, 2000).outcome == "recorded"     # within the cache time: the old set
        clock.t += 61                                                              # the cache time passed
        _refused(stub, GANSU, _notice(stub, tokens), migrated)
        assert Province(GANSU_2027, stub).pay(_notice(stub, tokens), 2000).outcome == "recorded"
        _refused(stub, SICHUAN, _notice(stub, tokens), migrated)                   # still no other province's
    finally:
        name_key_set("62", "gansu-pay")
        clock.t += 61


def test_a_record_naming_no_set_uses_the_default_and_an_unknown_set_verifies_nothing(
        deployment, tokens, migrated, records):
    stub, clock = deployment
    name_key_set = records[0]
    try:
        name_key_set("62", "")                             # no key set of its own: the deployment's default key
        clock.t += 61
        _refused(stub, GANSU, _notice(stub, tokens), migrated)
        assert Province(DEFAULT, stub).pay(_notice(stub, tokens), 2000).outcome == "recorded"
        name_key_set("62", "gansu-pay-2030")               # a set this deployment does not hold: fail closed
        clock.t += 61
        for keys in (GANSU, GANSU_2027, SICHUAN, DEFAULT):
            _refused(stub, keys, _notice(stub, tokens), migrated)
    finally:
        name_key_set("62", "gansu-pay")
        clock.t += 61


def test_a_callback_naming_no_notice_is_held_to_the_payee_accounts_province(stub, migrated):
    # no notice of that number: the payee account (凉州区's) names the province, and only Gansu's key will do
    for keys in (SICHUAN, DEFAULT):
        stray = Province(keys, stub)
        fields = stray.fields("not-a-notice-number", 2000)
        with pytest.raises(grpc.RpcError) as refused:
            stray.callback(fields)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert owner_rows(migrated.database_owner_url, "SELECT 1 FROM fees.payments WHERE payment_id = :p",
                          p=fields["payment_id"]) == []
    gansu = Province(GANSU, stub)
    assert gansu.callback(gansu.fields("not-a-notice-number", 2000)).outcome        # to the account's queue


def test_the_key_sets_setting_names_sets_not_keys(monkeypatch):
    monkeypatch.setenv("SANJI_MODE", "development")
    monkeypatch.setenv("SANJI_FEES_PAYMENT_KEY_SETS", f'{{"ningxia-pay": "{GANSU[1].upper()}"}}')
    assert FeesSettings().fees_payment_key_sets == {"ningxia-pay": GANSU[1]}
    for bad in ("宁夏", "a b", "x" * 65, ""):
        monkeypatch.setenv("SANJI_FEES_PAYMENT_KEY_SETS", f'{{"{bad}": "{GANSU[1]}"}}')
        with pytest.raises(ValueError, match="key sets"):
            FeesSettings()
    with pytest.raises(ValueError, match="key set"):
        ProvinceKeys(Verifier(DEFAULT[1]), {"宁夏": Verifier(GANSU[1])})


def test_money_for_another_provinces_account_is_refused_under_this_provinces_key(stub, tokens, migrated):
    from services.fees.domain import luhn_digit, notice_tenant

    real = _notice(stub, tokens)
    body = real[:-6] + ("0" if real[-6] != "0" else "1") + real[-5:-1]     # a Gansu number no notice has
    unknown = body + luhn_digit(body)
    assert notice_tenant(unknown) == "620602"
    gansu = Province(GANSU, stub)
    fields = gansu.fields(unknown, 2000, account="22880101040054321")        # 汶川县's (Sichuan) account
    with pytest.raises(grpc.RpcError) as refused:
        gansu.callback(fields)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert owner_rows(migrated.database_owner_url, "SELECT reason FROM fees.callback_rejections"
                      " WHERE payment_id = :p", p=fields["payment_id"]) == [
        ("signed by another province's payment platform",)]
