"""The province's payment callback is signed over every field (issue 24), in a form no value can reshape
(issue 15, item 7).

A realistic callback with every field the province sends, signed by an implementation that is not
ours: pure-Python `gmssl` 3.2.2 (`CryptSM2.sign_with_sm3`, default user id) with the province's DEV key,
over the canonical form written out by hand below (percent-encoded values, the fields in their fixed
order). Each field changed in turn, removed, emptied, or one added, and a field boundary moved inside a
value, must be refused for its signature with nothing recorded — otherwise a payment for one notice could
be applied to another. The untouched callback then pays its notice: the signature is good and the fixture
is real.

How the known answer was made (outside the project, `pip install gmssl==3.2.2`):

    from gmssl import func, sm2
    c = sm2.CryptSM2(private_key=DEV_PROVINCE_PRIVATE_KEY, public_key=DEV_PROVINCE_PUBLIC_KEY)
    c.sign_with_sm3(CANONICAL, func.random_hex(c.para_len))
"""

from __future__ import annotations

import datetime as dt
import random
from urllib.parse import unquote

import grpc
import pytest
from sanji.fees.v1 import fees_pb2 as pb
from sanji.fees.v1 import fees_pb2_grpc

from services.fees import payments
from services.fees.handlers import FeesHandlers
from services.fees.payment_handlers import CallbackLimits
from services.fees.service import registration
from services.fees.signing import DEV_PROVINCE_PUBLIC_KEY, Signer, Verifier
from services.fees.tests.conftest import COUNTY_ACCOUNT, outbox, owner_rows
from services.fees.translate import EventsOut
from shared.clock import Clock
from tests.support import Caller, serving

# A day no other test issues notices in. A notice number's middle 8 digits are random: the service here draws
# them from a generator seeded with SEED, so the county's first two notices of the day get these numbers.
DAY = dt.date(2039, 3, 14)
SEED = 20390314
CASE, OTHER_CASE = "62060200000020390314000001", "62060200000020390314000002"
NOTICE, OTHER_NOTICE = "6206020000002039363811463", "6206020000002039285633078"
WENCHUAN_ACCOUNT = "22880101040054321"   # another treasury account of the platform (汶川县)

FIELDS = {"payment_id": "GSPAY2039031400000001", "notice_number": NOTICE, "amount_fen": "2000",
          "paid_at": "2039-03-14T10:26:08+08:00", "payee_account": COUNTY_ACCOUNT, "payer_name": "张三",
          "channel": "unionpay"}
CANONICAL = (b"payment_id=GSPAY2039031400000001&notice_number=6206020000002039363811463&amount_fen=2000"
             b"&paid_at=2039-03-14T10%3A26%3A08%2B08%3A00&payee_account=27050101040012345"
             b"&payer_name=%E5%BC%A0%E4%B8%89&channel=unionpay")
SIGNATURE = ("aa26fdda98986fb7512ffb88cf380a1f466e1c98e71961b3e16cb4fcc45b8115"
             "deec1849b0d8f681cfd5ddc3af4f62b4c11c90897f7d4e53e6278eb10877da40")

# each field to another value the platform would otherwise take: the other notice (same amount, same unit),
# another registered account, a well-formed payment id and time
CHANGED = {"payment_id": "GSPAY2039031400000002", "notice_number": OTHER_NOTICE, "amount_fen": "200",
           "paid_at": "2039-03-14T10:26:09+08:00", "payee_account": WENCHUAN_ACCOUNT, "payer_name": "李四",
           "channel": "alipay"}


@pytest.fixture(scope="module")
def stub(fees_db, receipt_keys, verifier):
    """The fees service on the day, verifying with the province's DEV key (the one gmssl signed with). Its clock
    pins the date only (the time of day is the real one), so paid_at's window is widened to the day here: this
    test is about what the signature covers (test_callback_bounds.py tests the window)."""
    handlers = FeesHandlers(fees_db, province=Verifier(DEV_PROVINCE_PUBLIC_KEY), receipt_signer=Signer(*receipt_keys),
                            events_out=EventsOut(), clock=Clock(DAY), draw=random.Random(SEED).randrange,
                            limits=CallbackLimits(clock_skew=dt.timedelta(days=1)))
    with serving([registration(handlers)], verifier) as target, grpc.insecure_channel(target) as channel:
        yield fees_pb2_grpc.FeesServiceStub(channel)


def test_the_canonical_form_is_every_field_and_the_known_answer_verifies():
    assert payments.canonical_form(FIELDS) == CANONICAL
    assert payments.canonical_form({**FIELDS, "signature": SIGNATURE}) == CANONICAL
    assert payments.canonical_form(dict(reversed(FIELDS.items()))) == CANONICAL        # the order is the form's
    assert set(CHANGED) == set(FIELDS) == {f.name for f in payments.Callback.__dataclass_fields__.values()} \
        == set(payments.CALLBACK_FIELDS)
    assert Verifier(DEV_PROVINCE_PUBLIC_KEY).verify(SIGNATURE, CANONICAL)
    # one text is one set of fields: a boundary moved inside a value, or a value holding the separators,
    # makes another text (with `key=value&…` unescaped, the first of these signed the same text as FIELDS)
    moved = {**{k: v for k, v in FIELDS.items() if k not in ("notice_number", "channel")},
             "channel": f"unionpay&notice_number={NOTICE}"}
    shifted = {**FIELDS, "payer_name": "张三&amount_fen=1", "amount_fen": "2000"}
    variants = (FIELDS, moved, shifted, {**FIELDS, "memo": ""}, {**FIELDS, "memo": "&"})
    assert len({payments.canonical_form(f) for f in variants}) == len(variants)
    for f in variants:       # the text reads back as exactly its fields (a known one left out reads as empty)
        pairs = [part.split("=") for part in payments.canonical_form(f).decode("ascii").split("&")]
        assert all(len(kv) == 2 for kv in pairs)
        assert {unquote(k): unquote(v) for k, v in pairs} == {**dict.fromkeys(payments.CALLBACK_FIELDS, ""), **f}
    # a field the province adds is signed too, after the known ones, in key order — empty or not
    assert payments.canonical_form({**FIELDS, "b": "x=y", "a": ""}) == CANONICAL + b"&a=&b=x%3Dy"


def test_every_field_of_a_signed_callback_is_covered_by_its_signature(stub, tokens, fees_db, migrated):
    cashier = Caller(stub, tokens["county.cashier"])
    for case in (CASE, OTHER_CASE):   # two notices of 20 元 of the same unit, issued on the day
        cashier.AssessFees(pb.AssessFeesRequest(case_number=case, lines=[pb.LineInput(fee_code="FEE-JMSFZ-GBF")],
                                                item_name="居民身份证换领", applicant_name="张三"))
        cashier.IssueNotice(pb.IssueNoticeRequest(case_number=case))
    assert cashier.GetCaseFees(pb.GetCaseFeesRequest(case_number=CASE)).notice.notice_number == NOTICE
    assert cashier.GetCaseFees(pb.GetCaseFeesRequest(case_number=OTHER_CASE)).notice.notice_number == OTHER_NOTICE

    def callback(fields: dict[str, str]) -> pb.PaymentCallbackResult:
        return stub.RecordPaymentCallback(pb.PaymentCallback(fields=fields, signature=SIGNATURE), timeout=20)

    tampered = [(f"{name} changed", {**FIELDS, name: value}) for name, value in CHANGED.items()]
    tampered += [(f"{name} left out", {k: v for k, v in FIELDS.items() if k != name}) for name in FIELDS]
    tampered += [("a field added", {**FIELDS, "memo": "代缴"}),
                 ("a field emptied", {**FIELDS, "payer_name": ""})]
    accepted = []
    for what, fields in tampered:
        try:
            result = callback(fields)
            accepted.append((what, result.outcome))
        except grpc.RpcError as e:
            if (e.code(), "签名" in e.details()) != (grpc.StatusCode.UNAUTHENTICATED, True):
                accepted.append((what, f"refused, but not for its signature: {e.code()} {e.details()}"))
    # a field boundary moved inside a value (issue 15, item 7): with `key=value` joined by `&` unescaped, this
    # callback's signed text was the original's and the signature held; now it is another text
    moved = {k: v for k, v in FIELDS.items() if k != "notice_number"}
    moved["channel"] = f"unionpay&notice_number={NOTICE}"
    tampered.append(("a field boundary moved", moved))
    try:
        accepted.append(("a field boundary moved", callback(moved).outcome))
    except grpc.RpcError as e:
        if (e.code(), "签名" in e.details()) != (grpc.StatusCode.UNAUTHENTICATED, True):
            accepted.append(("a field boundary moved", f"refused, but not for its signature: {e.details()}"))
    assert accepted == []

    # nothing recorded: no payment, no event, both notices still unpaid; every refusal logged
    payment_ids = [FIELDS["payment_id"], CHANGED["payment_id"]]
    assert owner_rows(migrated.database_owner_url, "SELECT payment_id, notice_number FROM fees.payments"
                      " WHERE payment_id = ANY(:p) OR notice_number = ANY(:n)",
                      p=payment_ids, n=[NOTICE, OTHER_NOTICE]) == []
    for case in (CASE, OTHER_CASE):
        fees = cashier.GetCaseFees(pb.GetCaseFeesRequest(case_number=case))
        assert (fees.status, fees.paid_fen, fees.notice.status) == (pb.CASE_STATUS_NOTICED, 0, pb.NOTICE_STATUS_ISSUED)
        assert [e[0] for e in outbox(fees_db, case)] == ["fees_assessed", "notice_issued"]
    logged = owner_rows(migrated.database_owner_url, "SELECT reason FROM fees.callback_rejections"
                        " WHERE signature = :s ORDER BY id", s=SIGNATURE)
    assert [r[0] for r in logged] == ["signature does not verify"] * len(tampered)

    # the callback as the province signed it pays its own notice, and only that one
    assert callback(FIELDS).outcome == "recorded"
    assert cashier.GetCaseFees(pb.GetCaseFeesRequest(case_number=CASE)).status == pb.CASE_STATUS_SETTLED
    assert cashier.GetCaseFees(pb.GetCaseFeesRequest(case_number=OTHER_CASE)).status == pb.CASE_STATUS_NOTICED
