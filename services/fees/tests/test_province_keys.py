"""Several provinces in one deployment, each with its own public payment platform (issue 23, item 3): a
callback is verified with the key of the province whose unit it pays — a Gansu notice is paid only by
Gansu's platform, whatever other province's key the deployment also holds, and a callback signed by another
province's platform is refused for its signature and logged, with nothing recorded."""

from __future__ import annotations

import grpc
import pytest
from sanji.fees.v1 import fees_pb2 as pb
from sanji.fees.v1 import fees_pb2_grpc

from services.fees.handlers import FeesHandlers
from services.fees.payment_handlers import ProvinceKeys
from services.fees.settings import FeesSettings
from services.fees.signing import Signer, Verifier, generate_keypair
from services.fees.tests.conftest import Province, case_number, owner_rows
from services.fees.translate import EventsOut
from tests.support import Caller, serving

GANSU, SICHUAN, DEFAULT = generate_keypair(), generate_keypair(), generate_keypair()


@pytest.fixture(scope="module")
def stub(fees_db, receipt_keys, verifier):
    """A deployment for Gansu and Sichuan: each province's platform with its own key, and a default key for
    any other province."""
    keys = ProvinceKeys(Verifier(DEFAULT[1]), {"62": Verifier(GANSU[1]), "51": Verifier(SICHUAN[1])})
    handlers = FeesHandlers(fees_db, province=keys, receipt_signer=Signer(*receipt_keys), events_out=EventsOut())
    with serving([registration_of(handlers)], verifier) as target, grpc.insecure_channel(target) as channel:
        yield fees_pb2_grpc.FeesServiceStub(channel)


def registration_of(handlers):
    from services.fees.service import registration

    return registration(handlers)


def _notice(stub, tokens) -> str:
    cashier = Caller(stub, tokens["county.cashier"])
    case = case_number()
    cashier.AssessFees(pb.AssessFeesRequest(case_number=case, lines=[pb.LineInput(fee_code="FEE-JMSFZ-GBF")],
                                            item_name="居民身份证换领", applicant_name="张三"))
    return cashier.IssueNotice(pb.IssueNoticeRequest(case_number=case)).notice.notice_number


def test_a_callback_is_verified_with_the_key_of_the_province_it_pays(stub, tokens, migrated):
    notice = _notice(stub, tokens)
    for name, keys in (("sichuan", SICHUAN), ("default", DEFAULT)):
        other = Province(keys, stub)
        fields = other.fields(notice, 2000)
        with pytest.raises(grpc.RpcError) as refused:
            other.callback(fields)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED and "签名" in refused.value.details(), name
        assert owner_rows(migrated.database_owner_url, "SELECT 1 FROM fees.payments WHERE payment_id = :p",
                          p=fields["payment_id"]) == []
        assert owner_rows(migrated.database_owner_url, "SELECT reason FROM fees.callback_rejections"
                          " WHERE payment_id = :p", p=fields["payment_id"]) == [("signature does not verify",)]
    assert Province(GANSU, stub).pay(notice, 2000).outcome == "recorded"


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


def test_the_province_keys_setting_names_provinces_by_their_codes(monkeypatch):
    monkeypatch.setenv("SANJI_MODE", "development")
    monkeypatch.setenv("SANJI_FEES_PROVINCE_PUBLIC_KEYS", f'{{"64": "{GANSU[1].upper()}"}}')
    assert FeesSettings().fees_province_public_keys == {"64": GANSU[1]}
    monkeypatch.setenv("SANJI_FEES_PROVINCE_PUBLIC_KEYS", f'{{"ningxia": "{GANSU[1]}"}}')
    with pytest.raises(ValueError, match="2-digit codes"):
        FeesSettings()
    with pytest.raises(ValueError, match="2-digit code"):
        ProvinceKeys(Verifier(DEFAULT[1]), {"640104": Verifier(GANSU[1])})


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
