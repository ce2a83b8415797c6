"""Issue 15 for the fees: each way in, tried through the real interface and refused.

- item 1: a production process without the province's key and its own receipt key pair (or with the
  repository's development keys) refuses to start, naming the variables — in process and as `python -m
  services.fees`;
- item 5: notice numbers are not a sequence, and the public payment status answers only to the number with
  the verification code printed on the notice (a wrong code answers as an unknown number does); a refused
  callback stores a bounded head of what was sent, and only so many refusals a minute are stored;
- item 7: paid_at outside its window (in the future, before its notice) and a payment to another account than
  the notice's are refused with nothing recorded (the signed form itself: test_callback_signature.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import uuid

import grpc
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sanji.fees.v1 import fees_pb2 as pb
from sanji.fees.v1 import fees_pb2_grpc
from sqlalchemy import create_engine, text

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.fees import domain, signing
from services.fees.handlers import FeesHandlers
from services.fees.payment_handlers import CallbackLimits
from services.fees.service import registration
from services.fees.settings import FeesSettings
from services.fees.signing import Signer, Verifier, generate_keypair
from services.fees.tests.conftest import (
    COUNTY,
    COUNTY_ACCOUNT,
    case_number,
    err,
    field_of,
    outbox,
    owner_rows,
    pdf_text,
)
from services.fees.translate import EventsOut
from shared.clock import CHINA_TZ, Clock
from tests.support import serving

CODE = grpc.StatusCode
WENCHUAN_ACCOUNT = "22880101040054321"       # another county's treasury account (汶川县, demo data)
# the province's own non-tax revenue account: registered for these tests, a payee the platform knows whose
# unit (62) contains the county's — a payment to it is still not a payment of a county notice
PROVINCE_ACCOUNT = "10010101040000062"
KEYS = ("SANJI_FEES_PROVINCE_PUBLIC_KEY", "SANJI_FEES_RECEIPT_PRIVATE_KEY", "SANJI_FEES_RECEIPT_PUBLIC_KEY")
REAL = {"database_url": "postgresql+psycopg://sanji_app:s3cr3t-from-vault@db.internal:5432/sanji",
        "amqp_url": "amqps://sanji-fees:0th3r-s3cr3t@mq.internal:5671/sanji",
        "service_client_secret": "from-the-realm"}


@pytest.fixture(scope="module")
def province_account(fees_db, migrated):
    eng = create_engine(migrated.database_owner_url)
    try:
        with eng.begin() as c:
            c.execute(text("INSERT INTO fees.treasury_accounts (tenant_code, payee_name, account_number, bank_name,"
                           " kind) VALUES ('62', '甘肃省财政厅', :a, '中国农业银行兰州分行', 'non_tax_revenue')"
                           " ON CONFLICT DO NOTHING"), {"a": PROVINCE_ACCOUNT})
    finally:
        eng.dispose()
    return PROVINCE_ACCOUNT


@contextlib.contextmanager
def own_service(fees_db, province_keys, receipt_keys, verifier, **options):
    """A fees service of the test's own (the platform's interceptor chain, real database) built with `options`."""
    handlers = FeesHandlers(fees_db, province=Verifier(province_keys[1]), receipt_signer=Signer(*receipt_keys),
                            events_out=EventsOut(), **options)
    with serving([registration(handlers)], verifier) as target, grpc.insecure_channel(target) as channel:
        yield fees_pb2_grpc.FeesServiceStub(channel)


def notice_of(as_, fee_code: str = "FEE-JMSFZ-GBF", number: str | None = None) -> pb.Notice:
    number = number or case_number()
    cashier = as_("county.cashier")
    cashier.AssessFees(pb.AssessFeesRequest(case_number=number, lines=[pb.LineInput(fee_code=fee_code)],
                                            item_name="居民身份证换领", applicant_name="张三"))
    return cashier.IssueNotice(pb.IssueNoticeRequest(case_number=number)).notice


def payments_of(migrated, notice_number: str) -> list:
    return owner_rows(migrated.database_owner_url, "SELECT payment_id FROM fees.payments WHERE notice_number = :n",
                      n=notice_number)


def rejections(migrated, payment_id: str) -> list:
    return owner_rows(migrated.database_owner_url,
                      "SELECT reason, body, body_bytes, body_sha256, octet_length(body), signature"
                      " FROM fees.callback_rejections WHERE payment_id = :p ORDER BY id", p=payment_id)


# -- item 1: no development keys outside development ------------------------------------------------------
def test_a_production_fees_service_refuses_to_start_without_its_own_keys_and_names_them():
    with pytest.raises(ValidationError) as e:
        FeesSettings(mode="production", **REAL)
    assert all(name in str(e.value) for name in KEYS) and "SANJI_DATABASE_URL" not in str(e.value)
    province_public = generate_keypair()[1]
    receipt_private, receipt_public = generate_keypair()
    real_keys = {"fees_province_public_key": province_public, "fees_receipt_private_key": receipt_private,
                 "fees_receipt_public_key": receipt_public}
    settings = FeesSettings(mode="production", **REAL, **real_keys)
    assert (settings.fees_province_public_key, settings.fees_receipt_private_key) == (province_public,
                                                                                     receipt_private)
    # the repository's development keys are refused, however they are spelled
    for name, dev in (("fees_province_public_key", signing.DEV_PROVINCE_PUBLIC_KEY),
                      ("fees_receipt_private_key", signing.DEV_RECEIPT_PRIVATE_KEY),
                      ("fees_receipt_public_key", signing.DEV_RECEIPT_PUBLIC_KEY)):
        for spelled in (dev, f" {dev.upper()} "):
            with pytest.raises(ValidationError) as e:
                FeesSettings(mode="production", **REAL, **{**real_keys, name: spelled})
            assert f"SANJI_{name.upper()}" in str(e.value)
            assert [k for k in KEYS if k in str(e.value)] == [f"SANJI_{name.upper()}"]
    # development mode (make run, tests) fills them with the development keys
    dev = FeesSettings(mode="development")
    assert (dev.fees_province_public_key, dev.fees_receipt_private_key, dev.fees_receipt_public_key) == \
        (signing.DEV_PROVINCE_PUBLIC_KEY, signing.DEV_RECEIPT_PRIVATE_KEY, signing.DEV_RECEIPT_PUBLIC_KEY)


def test_the_fees_process_without_its_keys_exits_naming_the_variables():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANJI_")}
    env.update({"SANJI_MODE": "production", **{f"SANJI_{k.upper()}": v for k, v in REAL.items()}})
    out = subprocess.run([sys.executable, "-m", "services.fees"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert all(name in out.stderr for name in KEYS) and "production" in out.stderr
    assert "SANJI_DATABASE_URL" not in out.stderr and "SANJI_AMQP_URL" not in out.stderr
    # the Secret left holding the repository's development keys: refused the same way
    env.update({"SANJI_FEES_PROVINCE_PUBLIC_KEY": signing.DEV_PROVINCE_PUBLIC_KEY,
                "SANJI_FEES_RECEIPT_PRIVATE_KEY": signing.DEV_RECEIPT_PRIVATE_KEY,
                "SANJI_FEES_RECEIPT_PUBLIC_KEY": signing.DEV_RECEIPT_PUBLIC_KEY})
    out = subprocess.run([sys.executable, "-m", "services.fees"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0 and all(name in out.stderr for name in KEYS)


# -- item 5: enumeration ----------------------------------------------------------------------------------
def test_notice_numbers_follow_no_sequence(as_, migrated):
    numbers = [notice_of(as_).notice_number for _ in range(3)]
    assert all(domain.notice_tenant(n) == COUNTY and len(n) == 25 for n in numbers)
    # walking on from the number one holds finds nothing: the numbers around it were never issued (with the
    # yearly sequence the numbers had, the one before was the last notice issued, the one after the next)
    around = []
    for mine in numbers:
        for step in (-2, -1, 1, 2):
            body = f"{mine[:16]}{(int(mine[16:24]) + step) % 10 ** 8:08d}"
            around.append(body + domain.luhn_digit(body))
    assert owner_rows(migrated.database_owner_url, "SELECT notice_number FROM fees.notices"
                      " WHERE notice_number = ANY(:n)", n=around) == []


def test_the_payment_status_answers_only_to_the_number_with_its_code(as_):
    n = notice_of(as_)
    other = notice_of(as_)
    assert n.verification_code and n.verification_code != other.verification_code
    public = as_()                                               # no login
    status = public.GetPaymentStatus(pb.GetPaymentStatusRequest(notice_number=n.notice_number,
                                                                code=n.verification_code))
    assert (status.notice_number, status.status, status.total_fen) == (n.notice_number, pb.NOTICE_STATUS_ISSUED, 2000)
    spaced = f"{n.verification_code[:4].lower()}-{n.verification_code[4:].lower()}"
    assert public.GetPaymentStatus(pb.GetPaymentStatusRequest(notice_number=n.notice_number, code=spaced)).status \
        == pb.NOTICE_STATUS_ISSUED
    body = f"{COUNTY.ljust(12, '0')}{n.notice_number[12:16]}{(int(n.notice_number[16:24]) + 5) % 10 ** 8:08d}"
    unknown = body + domain.luhn_digit(body)
    wrong = "".join(domain.CODE_ALPHABET[(domain.CODE_ALPHABET.index(c) + 1) % len(domain.CODE_ALPHABET)]
                    for c in n.verification_code)
    answers = [err(public.GetPaymentStatus, pb.GetPaymentStatusRequest(notice_number=number, code=code))
               for number, code in ((n.notice_number, wrong),                   # a wrong code
                                    (n.notice_number, other.verification_code),  # another notice's code
                                    (n.notice_number, n.verification_code[:-1] + wrong[-1]),  # one symbol off
                                    (unknown, n.verification_code))]             # a number never issued
    assert {(e.code(), e.details()) for e in answers} == {(CODE.NOT_FOUND, "缴款书不存在或查验码不符")}
    for code in ("", "1234", "PWWS'--X"):                            # no code, or none a notice can have
        e = err(public.GetPaymentStatus, pb.GetPaymentStatusRequest(notice_number=n.notice_number, code=code))
        assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "code")


def test_the_public_status_route_needs_the_code_and_the_printed_notice_carries_it(fees_server, oidc, verifier,
                                                                                   as_, tokens):
    n = notice_of(as_)
    app = create_app(GatewaySettings(fees_target=fees_server, oidc_server_url=oidc.url), verifier=verifier)
    with TestClient(app, raise_server_exceptions=False) as client:
        route = f"/api/v1/payments/{n.notice_number}/status"
        r = client.get(route)
        assert (r.status_code, r.json()["field"]) == (422, "code")
        wrong = client.get(route, params={"code": "23456789"})
        body = f"{n.notice_number[:16]}{(int(n.notice_number[16:24]) + 7) % 10 ** 8:08d}"
        unknown = client.get(f"/api/v1/payments/{body + domain.luhn_digit(body)}/status",
                             params={"code": n.verification_code})
        assert wrong.status_code == unknown.status_code == 404
        assert wrong.json()["message"] == unknown.json()["message"] and n.notice_number not in wrong.text
        r = client.get(route, params={"code": n.verification_code})
        assert r.status_code == 200 and r.json()["status"] == "issued"
        r = client.get(route, params={"code": "2" * 41})
        assert (r.status_code, r.json()["field"]) == (422, "code")
        # the notice as printed: the code beside the number, and the QR code's link carries both
        cashier = {"authorization": f"Bearer {tokens['county.cashier']}"}
        case = client.get(f"/api/v1/fees/cases/{n.case_number}", headers=cashier).json()
        assert case["notice"]["verification_code"] == n.verification_code
        pdf = client.get(f"/api/v1/fees/cases/{n.case_number}/notice.pdf", headers=cashier)
        printed = pdf_text(pdf.content)
        assert f"查验码：{n.verification_code}" in printed
        assert f"/api/v1/payments/{n.notice_number}/status?code={n.verification_code}" in printed


# -- item 5: bounded logging of refused callbacks -----------------------------------------------------------
def test_a_refused_callback_stores_a_bounded_head_of_what_was_sent(fees_db, province_keys, receipt_keys, verifier,
                                                                  migrated):
    # its own minutes (a date no other test uses), so no other test's refusals count against the minute's bound
    with own_service(fees_db, province_keys, receipt_keys, verifier, clock=Clock(dt.date(2046, 5, 6))) as stub:
        for n_fields, size, refused in ((39, 1000, CODE.UNAUTHENTICATED),      # ~117 KB, within the field bounds
                                        (40, 5000, CODE.INVALID_ARGUMENT)):    # ~600 KB, beyond them
            pid = f"GSPAY{uuid.uuid4().hex[:16].upper()}"
            fields = {"payment_id": pid, **{f"memo{i:02d}": "缴" * size for i in range(n_fields)}}
            with pytest.raises(grpc.RpcError) as e:
                stub.RecordPaymentCallback(pb.PaymentCallback(fields=fields, signature="ab" * 5000), timeout=30)
            assert e.value.code() == refused
            whole = json.dumps(fields, ensure_ascii=False, sort_keys=True).encode()
            [(reason, head, body_bytes, sha, stored_bytes, signature)] = rejections(migrated, pid)
            assert stored_bytes <= 2048 and whole.startswith(head.encode()) and len(whole) > 100_000
            assert (body_bytes, sha) == (len(whole), hashlib.sha256(whole).hexdigest())
            assert len(signature) == 256 and reason in ("signature does not verify", "oversized callback")


def test_only_so_many_refusals_a_minute_are_stored_the_rest_counted(fees_db, province_keys, receipt_keys, verifier,
                                                                  migrated):
    day, cap, sent = dt.date(2046, 7, 8), 3, 10
    marker = uuid.uuid4().hex[:10].upper()
    limits = CallbackLimits(rejections_stored_per_minute=cap)
    with own_service(fees_db, province_keys, receipt_keys, verifier, clock=Clock(day), limits=limits) as stub:
        for i in range(sent):
            fields = {"payment_id": f"FLOOD{marker}{i:03d}", "notice_number": "1" * 25, "amount_fen": "2000"}
            with pytest.raises(grpc.RpcError) as e:
                stub.RecordPaymentCallback(pb.PaymentCallback(fields=fields, signature="0" * 128), timeout=20)
            assert e.value.code() == CODE.UNAUTHENTICATED        # every one refused, stored or only counted
    start = dt.datetime.combine(day, dt.time(), CHINA_TZ)
    minutes = owner_rows(migrated.database_owner_url, "SELECT minute, seen, stored FROM fees.callback_rejection_minutes"
                         " WHERE minute >= :a AND minute < :b", a=start, b=start + dt.timedelta(days=1))
    stored = owner_rows(migrated.database_owner_url, "SELECT count(*) FROM fees.callback_rejections"
                        " WHERE payment_id LIKE :p", p=f"FLOOD{marker}%")[0][0]
    assert sum(seen for _, seen, _ in minutes) == sent                  # every refusal counted
    assert all(s <= cap for _, _, s in minutes)                         # at most `cap` stored in any minute
    assert stored == sum(s for _, _, s in minutes) and stored < sent    # the others only counted
    assert stored >= min(cap, sent)


# -- item 7: paid_at's window and the payee ----------------------------------------------------------------
def test_a_payment_stamped_in_the_future_or_before_its_notice_is_refused(as_, province, migrated, fees_db):
    n = notice_of(as_)
    issued = dt.datetime.fromisoformat(n.issued_at)
    for paid_at in (dt.datetime.now(dt.UTC) + dt.timedelta(days=1),       # not yet made
                    issued - dt.timedelta(days=1)):                       # before there was a notice to pay
        fields = province.fields(n.notice_number, 2000, paid_at=paid_at.isoformat())
        e = err(province.callback, fields)
        assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "paid_at")
        [(reason, *_)] = rejections(migrated, fields["payment_id"])
        assert reason.startswith("invalid field paid_at")
    # a number without a notice (yet) is queued for reconciliation — but not a payment stamped in the future
    body = f"{n.notice_number[:16]}{(int(n.notice_number[16:24]) + 3) % 10 ** 8:08d}"
    fields = province.fields(body + domain.luhn_digit(body), 2000,
                             paid_at=(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat())
    e = err(province.callback, fields)
    assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "paid_at")
    assert payments_of(migrated, fields["notice_number"]) == payments_of(migrated, n.notice_number) == []
    assert [e[0] for e in outbox(fees_db, n.case_number)] == ["fees_assessed", "notice_issued"]
    # within the window (the province's clock a little behind ours at the issue): paid
    fields = province.fields(n.notice_number, 2000, paid_at=(issued - dt.timedelta(minutes=1)).isoformat())
    assert province.callback(fields).outcome == "recorded"


def test_a_payment_to_another_account_than_the_notices_is_refused(as_, province, province_account, migrated,
                                                                  fees_db):
    n = notice_of(as_)
    assert n.payee_account == COUNTY_ACCOUNT
    for account in (WENCHUAN_ACCOUNT,          # another county's account
                    province_account):         # an account whose unit contains the county's, but not the notice's
        fields = province.fields(n.notice_number, 2000, account=account)
        e = err(province.callback, fields)
        assert e.code() == CODE.FAILED_PRECONDITION and "收款账户" in e.details()
        [(reason, *_)] = rejections(migrated, fields["payment_id"])
        assert reason == "payee account is not the notice's"
    assert payments_of(migrated, n.notice_number) == []
    fees = as_("county.cashier").GetCaseFees(pb.GetCaseFeesRequest(case_number=n.case_number))
    assert (fees.status, fees.paid_fen, fees.notice.status) == (pb.CASE_STATUS_NOTICED, 0, pb.NOTICE_STATUS_ISSUED)
    assert [e[0] for e in outbox(fees_db, n.case_number)] == ["fees_assessed", "notice_issued"]
    assert province.pay(n.notice_number, 2000).outcome == "recorded"          # to its own account: paid


def test_a_payment_queued_before_its_notice_to_another_account_is_never_matched(seeded, province_account):
    as_, province, twin = seeded
    upcoming = domain.draw_notice_number(COUNTY, dt.datetime.now(CHINA_TZ).year, twin.randrange)
    early = province.pay(upcoming, 2000, account=province_account)
    assert early.outcome == "queued"
    n = notice_of(as_)
    assert n.notice_number == upcoming
    cashier = as_("county.cashier")
    fees = cashier.GetCaseFees(pb.GetCaseFeesRequest(case_number=n.case_number))
    assert (fees.status, fees.paid_fen, fees.notice.status) == (pb.CASE_STATUS_NOTICED, 0, pb.NOTICE_STATUS_ISSUED)
    [entry] = [x for x in cashier.ListReconciliation(pb.ListReconciliationRequest()).entries
               if x.id == early.reconciliation_id]
    assert (entry.kind, entry.status, entry.kind_label) == (
        "account_mismatch", pb.RECONCILIATION_ENTRY_STATUS_OPEN, "收款账户与缴款书不符")
    e = err(cashier.ResolveReconciliation, pb.ResolveReconciliationRequest(
        id=entry.id, action="match", notice_number=n.notice_number, note="核对"))
    assert e.code() == CODE.FAILED_PRECONDITION and "收款账户" in e.details()
