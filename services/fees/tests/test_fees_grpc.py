"""The fees service through its gRPC API: real PostgreSQL, real tokens, the platform interceptor chain,
SM2-signed callbacks of a provincial platform whose key pair is generated for the run."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from google.protobuf import json_format
from sanji.fees.v1 import fees_pb2 as pb
from sqlalchemy import create_engine, text

from services.fees import domain
from services.fees.signing import Verifier
from services.fees.tests.conftest import (
    COUNTY,
    COUNTY_ACCOUNT,
    OTHER_COUNTY,
    TOWNSHIP,
    case_number,
    err,
    field_of,
    line,
    outbox,
    owner_rows,
    pdf_text,
)
from shared.clock import CHINA_TZ

CODE = grpc.StatusCode


def assess(as_, number: str, *lines: pb.LineInput, user: str = "county.cashier", **kw) -> pb.CaseFees:
    return as_(user).AssessFees(pb.AssessFeesRequest(case_number=number, lines=lines, item_name="建设工程规划许可",
                                                     applicant_name="甘肃某建设有限公司", **kw))


THREE_LINES = (line("FEE-CSJCSSPTF", 5000, building_area=1000),            # 住建局: 50 元 × 1000 m² = 50,000 元
               line("FEE-BDCDJ-FZZ", extra_certificates=0),                   # 自然资源局: 550 元
               line("FEE-TDFKF", cultivated_area=200, other_area=0))          # 自然资源局: 200 m² × 7.5 元 = 1,500 元


def noticed(as_, number: str | None = None, lines=THREE_LINES) -> pb.CaseFees:
    number = number or case_number()
    assess(as_, number, *lines)
    return as_("county.cashier").IssueNotice(pb.IssueNoticeRequest(case_number=number))


def count(db, sql: str, **params) -> int:
    with db.engine.connect() as c:
        c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": params.pop("tenant", COUNTY)})
        return c.execute(text(sql), params).scalar_one()


# ------------------------------------------------------------------------------------------------
# the fee catalogue
# ------------------------------------------------------------------------------------------------
def test_fee_catalogue_is_published_versioned_and_public(as_, fees_db):
    admin = as_("county.admin")
    d = pb.FeeDefinition(fee_code="FEE-TEST-GDF", name="测试工本费", basis="《测试收费文件》",
                         collecting_unit="凉州区测试局",
                         standard=pb.Standard(kind=pb.STANDARD_KIND_FIXED, amount_fen=1500))
    item = admin.CreateFeeItem(pb.CreateFeeItemRequest(definition=d))
    assert (item.status, item.version, item.tenant) == (pb.FEE_ITEM_STATUS_DRAFT, 1, COUNTY)
    codes = lambda r: [i.definition.fee_code for i in r.items]  # noqa: E731
    assert "FEE-TEST-GDF" not in codes(as_().ListPublicFeeItems(pb.ListPublicFeeItemsRequest(region=COUNTY)))
    item = admin.PublishFeeItem(pb.PublishFeeItemRequest(fee_item_id=item.id))
    d.standard.amount_fen = 1200
    adjusted = admin.AdjustFeeItem(pb.AdjustFeeItemRequest(fee_item_id=item.id, definition=d, reason="降低收费标准"))
    assert (adjusted.version, adjusted.definition.standard.amount_fen) == (2, 1200)
    first = admin.GetFeeItem(pb.GetFeeItemRequest(fee_item_id=item.id, version=1))
    assert (first.status, first.definition.standard.amount_fen) == (pb.FEE_ITEM_STATUS_SUPERSEDED, 1500)
    public = as_().ListPublicFeeItems(pb.ListPublicFeeItemsRequest(region=TOWNSHIP))
    assert {"FEE-TEST-GDF", "FEE-CSJCSSPTF", "FEE-TDFKF"} <= set(codes(public))
    # a township uses its county's published fee items
    mine = as_("dongdajie.cashier").GetFeeItem(pb.GetFeeItemRequest(fee_code="FEE-TEST-GDF"))
    assert mine.version == 2
    assert [e[0] for e in outbox(fees_db, item.id)] == ["fee_item_published", "fee_item_published"]
    # only the tenant's admin manages it; another county never sees it
    assert err(as_("county.cashier").CreateFeeItem, pb.CreateFeeItemRequest(definition=d)).code() == \
        CODE.PERMISSION_DENIED
    assert err(as_("dongdajie.admin").CancelFeeItem, pb.CancelFeeItemRequest(
        fee_item_id=item.id, reason="x")).code() == CODE.PERMISSION_DENIED
    assert err(as_("wenchuan.admin").GetFeeItem, pb.GetFeeItemRequest(fee_item_id=item.id)).code() == CODE.NOT_FOUND
    e = err(admin.CreateFeeItem, pb.CreateFeeItemRequest(definition=d))
    assert (e.code(), field_of(e)) == (CODE.ALREADY_EXISTS, "definition.fee_code")
    bad = pb.FeeDefinition(fee_code="FEE-TEST-NEG", name="负数", basis="x", collecting_unit="y",
                           standard=pb.Standard(kind=pb.STANDARD_KIND_RANGE, lower_fen=-1, upper_fen=10))
    e = err(admin.CreateFeeItem, pb.CreateFeeItemRequest(definition=bad))
    assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "definition.standard.lower_fen")
    admin.CancelFeeItem(pb.CancelFeeItemRequest(fee_item_id=item.id, reason="取消该收费"))
    e = err(as_("county.cashier").AssessFees, pb.AssessFeesRequest(case_number=case_number(),
                                                                   lines=[line("FEE-TEST-GDF")]))
    assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "lines[0].fee_code")   # cancelled: no fee outside


# ------------------------------------------------------------------------------------------------
# assessment
# ------------------------------------------------------------------------------------------------
def test_range_lower_bound_and_formula_assessments(as_, fees_db):
    number = case_number()
    fees = assess(as_, number, line("FEE-CSJCSSPTF", 6000, building_area="1234.56"),
                  line("FEE-TDFKF", cultivated_area="123.45", other_area="10.1"))
    assert [x.amount_fen for x in fees.lines] == [7_407_360, 95_996]          # 74,073.60 元 and 959.96 元
    assert (fees.total_fen, fees.due_fen, fees.status) == (7_503_356, 7_503_356, pb.CASE_STATUS_ASSESSED)
    assert [x.collecting_unit for x in fees.lines] == ["凉州区住房和城乡建设局", "凉州区自然资源局"]
    # a government-invested project: the lower bound, automatically (收费从低)
    gov = assess(as_, case_number(), line("FEE-CSJCSSPTF", building_area="1234.56"), government_invested=True)
    assert (gov.lines[0].amount_fen, gov.lines[0].unit_price_fen, gov.lines[0].lower_bound_applied) == \
        (4_938_240, 4000, True)
    e = err(assess, as_, case_number(), line("FEE-CSJCSSPTF", 6000, building_area="10"), key_project=True)
    assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "lines[0].standard_fen")
    # re-assessment before the notice replaces the lines
    again = assess(as_, number, line("FEE-BDCDJ-FZZ", extra_certificates=2))
    assert [x.amount_fen for x in again.lines] == [57_000]
    assert [e[0] for e in outbox(fees_db, number)] == ["fees_assessed", "fees_assessed"]


def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(as_, fees_db):
    number = case_number()
    cases = [
        ((line("FEE-CSJCSSPTF", 8001, building_area=10),), "lines[0].standard_fen"),       # out of range
        ((line("FEE-JMSFZ-GBF"), line("FEE-CSJCSSPTF", -4000, building_area=10)), "lines[1].standard_fen"),
        ((line("FEE-TDFKF", cultivated_area="-3", other_area=0),), "lines[0].quantities.cultivated_area"),
        ((line("FEE-NO-SUCH-FEE"),), "lines[0].fee_code"),                                 # unknown fee item
        ((line("FEE-JMSFZ-GBF"), line("FEE-JMSFZ-GBF")), "lines[1].fee_code"),             # twice
        ((), "lines"),
    ]
    for lines, name in cases:
        e = err(assess, as_, number, *lines)
        assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, name), name
    e = err(as_("county.cashier").AssessFees, pb.AssessFeesRequest(case_number="LZ-2026-0001",
                                                                   lines=[line("FEE-JMSFZ-GBF")]))
    assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "case_number")
    assert count(fees_db, "SELECT count(*) FROM fees.cases WHERE case_number = :n", n=number) == 0
    assert count(fees_db, "SELECT count(*) FROM fees.lines WHERE case_number = :n", n=number) == 0
    assert outbox(fees_db, number) == []
    e = err(as_("county.cashier").IssueNotice, pb.IssueNoticeRequest(case_number=number))
    assert e.code() == CODE.NOT_FOUND


def test_waivers_need_a_listed_reason_and_the_heads_authority(as_, fees_db):
    number = case_number()
    assess(as_, number, line("FEE-CSJCSSPTF", 6000, building_area=100), line("FEE-BDCDJ-FZZ", extra_certificates=0))
    req = pb.WaiveFeeRequest(case_number=number, line_no=1, reason_code="GYXM", amount_fen=300_000, note="学校项目")
    assert err(as_("county.cashier").WaiveFee, req).code() == CODE.PERMISSION_DENIED    # no authority
    assert err(as_("county.supervisor").WaiveFee, req).code() == CODE.PERMISSION_DENIED
    e = err(as_("county.head").WaiveFee, pb.WaiveFeeRequest(case_number=number, line_no=1, reason_code="VIP"))
    assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "reason_code")
    e = err(as_("county.head").WaiveFee, pb.WaiveFeeRequest(case_number=number, line_no=1, reason_code="GYXM",
                                                            amount_fen=300_001))
    assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "amount_fen")
    assert as_("county.cashier").GetCaseFees(pb.GetCaseFeesRequest(case_number=number)).waived_fen == 0
    fees = as_("county.head").WaiveFee(req)
    assert (fees.lines[0].waived_fen, fees.lines[0].waived_by, fees.due_fen) == (300_000, "county.head", 355_000)
    # 小微企业免收 the whole registration fee; the notice asks for the rest only
    fees = as_("county.head").WaiveFee(pb.WaiveFeeRequest(case_number=number, line_no=2, reason_code="XWQY"))
    assert (fees.lines[1].status, fees.due_fen) == (pb.FEE_LINE_STATUS_WAIVED, 300_000)
    fees = as_("county.cashier").IssueNotice(pb.IssueNoticeRequest(case_number=number))
    assert fees.notice.total_fen == 300_000
    assert [e[0] for e in outbox(fees_db, number)] == ["fees_assessed", "fee_waived", "fee_waived", "notice_issued"]


def test_a_fully_waived_case_settles_without_a_notice(as_, fees_db):
    number = case_number()
    assess(as_, number, line("FEE-JMSFZ-GBF"))
    fees = as_("county.head").WaiveFee(pb.WaiveFeeRequest(case_number=number, line_no=1, reason_code="DIBAO"))
    assert fees.status == pb.CASE_STATUS_SETTLED and not fees.HasField("notice")
    settled = [b for k, b, _ in outbox(fees_db, number) if k == "fees_settled"]
    assert settled == [{**settled[0], "waived_in_full": True, "waived_fen": "2000", "paid_fen": "0"}]
    e = err(as_("county.cashier").IssueNotice, pb.IssueNoticeRequest(case_number=number))
    assert e.code() == CODE.FAILED_PRECONDITION


# ------------------------------------------------------------------------------------------------
# one window, one notice, payment, receipt, settlement
# ------------------------------------------------------------------------------------------------
def test_three_fee_items_of_two_departments_one_notice_paid_settles_the_case(as_, province, fees_db, receipt_keys):
    number = case_number()
    fees = noticed(as_, number)
    n = fees.notice
    assert len({x.collecting_unit for x in fees.lines}) == 2 and len(fees.lines) == 3
    assert (n.total_fen, fees.status, n.status) == (5_205_000, pb.CASE_STATUS_NOTICED,   # 52,050.00 元
                                                    pb.NOTICE_STATUS_ISSUED)
    assert n.payee_account == COUNTY_ACCOUNT and "财政局" in n.payee_name                   # 收缴分离
    assert domain.notice_tenant(n.notice_number) == COUNTY
    assert as_("county.cashier").IssueNotice(pb.IssueNoticeRequest(case_number=number)).notice.notice_number == \
        n.notice_number                                                                      # one notice per case
    assert count(fees_db, "SELECT count(*) FROM fees.notices WHERE case_number = :n", n=number) == 1
    status = as_().GetPaymentStatus(pb.GetPaymentStatusRequest(notice_number=n.notice_number,
                                                                code=n.verification_code))
    assert (status.status, status.status_label, status.total_fen) == (pb.NOTICE_STATUS_ISSUED, "待缴款", 5_205_000)

    result = province.pay(n.notice_number, 5_205_000)
    assert (result.outcome, result.settled) == ("recorded", True)
    fees = as_("county.cashier").GetCaseFees(pb.GetCaseFeesRequest(case_number=number))
    assert (fees.status, fees.paid_fen, fees.notice.status) == (pb.CASE_STATUS_SETTLED, 5_205_000,
                                                                pb.NOTICE_STATUS_PAID)
    assert {x.status for x in fees.lines} == {pb.FEE_LINE_STATUS_PAID}
    # the receipt: the notice countersigned over notice and payment (SM2), with its SM3 digest
    receipt = fees.notice
    assert Verifier(receipt_keys[1]).verify(receipt.receipt_signature, receipt.receipt_text.encode())
    assert f"notice_number={n.notice_number}" in receipt.receipt_text and \
        f"payment_id={result.payment_id}" in receipt.receipt_text
    pdf = as_("county.cashier").RenderNotice(pb.RenderNoticeRequest(case_number=number))
    assert pdf.content[:4] == b"%PDF" and pdf.filename.startswith("收据-")
    assert f"status?code={n.verification_code}" in pdf_text(pdf.content)      # the QR code's link, printed
    events = outbox(fees_db, number)
    assert [e[0] for e in events] == ["fees_assessed", "notice_issued", "payment_received", "fees_settled"]
    kind, body, tenant = events[-1]
    assert (body["case_number"], body["paid_fen"], body["notice_number"], tenant) == \
        (number, "5205000", n.notice_number, COUNTY)
    paid = as_().GetPaymentStatus(pb.GetPaymentStatusRequest(notice_number=n.notice_number, code=n.verification_code))
    assert (paid.status, paid.paid_fen) == (pb.NOTICE_STATUS_PAID, 5_205_000)


def test_the_same_callback_twice_records_one_payment(as_, province, fees_db):
    number = case_number()
    n = noticed(as_, number, (line("FEE-JMSFZ-GBF"),)).notice
    fields = province.fields(n.notice_number, 2000)
    assert province.callback(fields).outcome == "recorded"
    again = province.callback(fields)
    assert again.outcome == "duplicate"
    assert count(fees_db, "SELECT count(*) FROM fees.payments WHERE payment_id = :p",
                 p=fields["payment_id"]) == 1
    assert [e[0] for e in outbox(fees_db, number)].count("payment_received") == 1
    assert as_("county.cashier").GetCaseFees(pb.GetCaseFeesRequest(case_number=number)).paid_fen == 2000
    # the same payment id with different content is refused and logged, not recorded
    e = err(province.callback, {**fields, "amount_fen": "1"})
    assert e.code() == CODE.ALREADY_EXISTS
    # a second, different payment for the paid notice goes to the reconciliation queue (overpayment)
    assert province.pay(n.notice_number, 2000).outcome == "queued"


def test_a_wrong_amount_goes_to_the_reconciliation_queue(as_, province, fees_db):
    number = case_number()
    n = noticed(as_, number, (line("FEE-JMSFZ-BL"),)).notice           # 40 元
    result = province.pay(n.notice_number, 3000)
    assert result.outcome == "queued" and result.reconciliation_id
    fees = as_("county.cashier").GetCaseFees(pb.GetCaseFeesRequest(case_number=number))
    # never silently accepted
    assert (fees.status, fees.paid_fen, fees.notice.status) == (pb.CASE_STATUS_NOTICED, 0, pb.NOTICE_STATUS_ISSUED)
    queue = as_("county.cashier").ListReconciliation(pb.ListReconciliationRequest())
    [entry] = [x for x in queue.entries if x.id == result.reconciliation_id]
    assert (entry.kind, entry.amount_fen, entry.expected_fen, entry.case_number, entry.status) == \
        ("amount_mismatch", 3000, 4000, number, pb.RECONCILIATION_ENTRY_STATUS_OPEN)
    assert result.reconciliation_id not in [x.id for x in as_("dongdajie.cashier").ListReconciliation(
        pb.ListReconciliationRequest()).entries]
    assert [e[0] for e in outbox(fees_db, number)][-1] == "payment_queued"
    # matching it by hand is refused (amounts differ); the cashier asks for a refund instead
    e = err(as_("county.cashier").ResolveReconciliation, pb.ResolveReconciliationRequest(
        id=entry.id, action="match", notice_number=n.notice_number, note="核对"))
    assert e.code() == CODE.FAILED_PRECONDITION
    resolved = as_("county.cashier").ResolveReconciliation(pb.ResolveReconciliationRequest(
        id=entry.id, action="refund", note="金额不符，退还缴款人"))
    assert resolved.status == pb.RECONCILIATION_ENTRY_STATUS_RESOLVED
    pending = as_("county.cashier").ListRefunds(pb.ListRefundsRequest(status=pb.REFUND_STATUS_PENDING)).refunds
    [refund] = [r for r in pending if r.reconciliation_id == entry.id]
    assert refund.amount_fen == 3000
    approved = as_("county.head").DecideRefund(pb.DecideRefundRequest(refund_id=refund.id, approve=True, note="同意"))
    assert approved.status == pb.REFUND_STATUS_APPROVED


def test_a_tampered_callback_is_refused_logged_and_nothing_recorded(as_, province, fees_db, migrated):
    number = case_number()
    n = noticed(as_, number, (line("FEE-JMSFZ-GBF"),)).notice
    fields = province.fields(n.notice_number, 2000)
    signature = province.sign(fields)
    for tampered, sig in [({**fields, "amount_fen": "1"}, signature), (fields, "0" * 128), (fields, "")]:
        e = err(province.callback, tampered, sig)
        assert e.code() == CODE.UNAUTHENTICATED and "签名" in e.details()
    assert count(fees_db, "SELECT count(*) FROM fees.payments WHERE payment_id = :p", p=fields["payment_id"]) == 0
    logged = owner_rows(migrated.database_owner_url, "SELECT reason FROM fees.callback_rejections"
                        " WHERE payment_id = :p", p=fields["payment_id"])
    assert len(logged) == 3 and {r[0] for r in logged} == {"signature does not verify"}
    assert as_("county.cashier").GetCaseFees(pb.GetCaseFeesRequest(case_number=number)).status == pb.CASE_STATUS_NOTICED
    # signed by the province, but to an account that is not a treasury account of the platform
    e = err(province.pay, n.notice_number, 2000, account="62220000111122223333")
    assert e.code() == CODE.FAILED_PRECONDITION
    e = err(province.pay, n.notice_number, -1)
    assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "amount_fen")
    assert province.pay(n.notice_number, 2000).outcome == "recorded"


def test_a_callback_before_the_notice_is_matched_once_the_notice_exists(seeded, fees_db):
    """Out of order (DESIGN §5): the province reports a payment for a number before the notice of that number is
    recorded here. The numbers are random; the service here draws from a seeded generator, so its twin says
    which number the next notice gets."""
    as_, province, twin = seeded
    year = dt.datetime.now(CHINA_TZ).year
    upcoming = domain.draw_notice_number(COUNTY, year, twin.randrange)   # the number the next notice will get
    early = province.pay(upcoming, 4000)
    assert early.outcome == "queued"
    [entry] = [x for x in as_("county.cashier").ListReconciliation(pb.ListReconciliationRequest()).entries
               if x.id == early.reconciliation_id]
    assert (entry.kind, entry.status) == ("unknown_notice", pb.RECONCILIATION_ENTRY_STATUS_OPEN)
    number = case_number()
    fees = noticed(as_, number, (line("FEE-JMSFZ-BL"),))               # 40 元: the notice the payment was for
    assert fees.notice.notice_number == upcoming
    assert fees.notice.verification_code == domain.new_verification_code(8, twin.randrange)
    assert (fees.status, fees.notice.status, fees.paid_fen) == (pb.CASE_STATUS_SETTLED, pb.NOTICE_STATUS_PAID, 4000)
    done = as_("county.cashier").ListReconciliation(pb.ListReconciliationRequest(include_resolved=True)).entries
    [entry] = [x for x in done if x.id == early.reconciliation_id]
    assert (entry.status, entry.case_number) == (pb.RECONCILIATION_ENTRY_STATUS_MATCHED, number)
    assert [e[0] for e in outbox(fees_db, number)] == ["fees_assessed", "notice_issued", "payment_received",
                                                       "fees_settled"]


# ------------------------------------------------------------------------------------------------
# tenancy and roles
# ------------------------------------------------------------------------------------------------
def test_only_a_cashier_issues_and_a_township_never_sees_a_county_case(as_, fees_db):
    number = case_number()
    assess(as_, number, line("FEE-JMSFZ-GBF"))
    for user in ("county.clerk", "county.head", "county.supervisor", "county.admin"):
        assert err(as_(user).IssueNotice, pb.IssueNoticeRequest(case_number=number)).code() == \
            CODE.PERMISSION_DENIED, user
        assert err(as_(user).AssessFees, pb.AssessFeesRequest(case_number=number, lines=[line("FEE-JMSFZ-GBF")])
                   ).code() == CODE.PERMISSION_DENIED, user
    assert err(as_().GetCaseFees, pb.GetCaseFeesRequest(case_number=number)).code() == CODE.UNAUTHENTICATED
    for user in ("dongdajie.cashier", "wenchuan.cashier"):
        assert err(as_(user).GetCaseFees, pb.GetCaseFeesRequest(case_number=number)).code() == CODE.NOT_FOUND
        assert err(as_(user).IssueNotice, pb.IssueNoticeRequest(case_number=number)).code() == \
            CODE.PERMISSION_DENIED                                          # a notice for another tenant's case
        assert number not in [c.case_number for c in as_(user).ListCases(pb.ListCasesRequest()).cases]
    # the county's supervisor reads the county's and its townships' fees; the township's cashier its own
    township_case = case_number(TOWNSHIP)
    fees = assess(as_, township_case, line("FEE-JMSFZ-GBF"), user="dongdajie.cashier")
    assert fees.tenant == TOWNSHIP
    n = as_("dongdajie.cashier").IssueNotice(pb.IssueNoticeRequest(case_number=township_case)).notice
    assert n.payee_account == COUNTY_ACCOUNT and domain.notice_tenant(n.notice_number) == TOWNSHIP
    assert as_("county.supervisor").GetCaseFees(pb.GetCaseFeesRequest(case_number=township_case)).tenant == TOWNSHIP
    assert err(as_("county.cashier").GetCaseFees, pb.GetCaseFeesRequest(case_number=township_case)).code() == \
        CODE.NOT_FOUND
    assert err(as_("wenchuan.cashier").AssessFees, pb.AssessFeesRequest(
        case_number=case_number(OTHER_COUNTY), lines=[line("FEE-JMSFZ-GBF")])).code() == CODE.INVALID_ARGUMENT
    assert count(fees_db, "SELECT count(*) FROM fees.cases WHERE tenant_code = :t", t=OTHER_COUNTY,
                 tenant=OTHER_COUNTY) == 0


def test_row_level_security_as_the_application_role(as_, migrated):
    number = case_number()
    noticed(as_, number, (line("FEE-JMSFZ-GBF"),))
    eng = create_engine(migrated.database_url)
    try:
        with eng.connect() as c:
            for table in ("cases", "lines", "notices"):
                assert c.execute(text(f"SELECT count(*) FROM fees.{table} WHERE case_number = :n"),
                                 {"n": number}).scalar_one() == 0, f"{table} visible without a tenant"
            c.rollback()
            for tenant in (TOWNSHIP, OTHER_COUNTY):
                with c.begin():
                    c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
                    assert c.execute(text("SELECT count(*) FROM fees.cases WHERE case_number = :n"),
                                     {"n": number}).scalar_one() == 0
                    assert c.execute(text("UPDATE fees.notices SET status = 'void' WHERE case_number = :n"),
                                     {"n": number}).rowcount == 0
            with c.begin():
                c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": TOWNSHIP})
                with pytest.raises(Exception, match="row-level security"):
                    c.execute(text("INSERT INTO fees.cases (tenant_code, case_number, status, source)"
                                   " VALUES ('620602', :n, 'assessed', 'cashier')"), {"n": case_number()})
            with c.begin():
                c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": COUNTY})
                assert c.execute(text("SELECT count(*) FROM fees.notices WHERE case_number = :n"),
                                 {"n": number}).scalar_one() == 1
    finally:
        eng.dispose()


# ------------------------------------------------------------------------------------------------
# refunds and the daily reconciliation
# ------------------------------------------------------------------------------------------------
def test_refunds_need_a_reason_and_the_heads_approval(as_, province, fees_db):
    number = case_number()
    n = noticed(as_, number, (line("FEE-JMSFZ-BL"),)).notice
    e = err(as_("county.cashier").RequestRefund, pb.RequestRefundRequest(notice_number=n.notice_number,
                                                                         amount_fen=4000, reason="撤回"))
    assert e.code() == CODE.FAILED_PRECONDITION                                  # not paid yet
    province.pay(n.notice_number, 4000)
    for amount, reason, name in [(4001, "撤回", "amount_fen"), (-1, "撤回", "amount_fen"), (100, " ", "reason")]:
        e = err(as_("county.cashier").RequestRefund, pb.RequestRefundRequest(
            notice_number=n.notice_number, amount_fen=amount, reason=reason))
        assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, name)
    assert err(as_("dongdajie.cashier").RequestRefund, pb.RequestRefundRequest(
        notice_number=n.notice_number, amount_fen=100, reason="x")).code() == CODE.PERMISSION_DENIED
    refund = as_("county.cashier").RequestRefund(pb.RequestRefundRequest(notice_number=n.notice_number,
                                                                         amount_fen=4000, reason="申请人撤回申请"))
    assert refund.status == pb.REFUND_STATUS_PENDING
    assert err(as_("county.cashier").DecideRefund, pb.DecideRefundRequest(refund_id=refund.id, approve=True)
               ).code() == CODE.PERMISSION_DENIED
    done = as_("county.head").DecideRefund(pb.DecideRefundRequest(refund_id=refund.id, approve=True, note="同意"))
    assert (done.status, done.decided_by) == (pb.REFUND_STATUS_APPROVED, "county.head")
    assert err(as_("county.head").DecideRefund, pb.DecideRefundRequest(refund_id=refund.id, approve=True)
               ).code() == CODE.FAILED_PRECONDITION
    assert as_("county.cashier").GetCaseFees(pb.GetCaseFeesRequest(case_number=number)).refunded_fen == 4000
    [made] = [b for k, b, _ in outbox(fees_db, number) if k == "refund_made"]
    assert (made["amount_fen"], made["approved_by"]) == ("4000", "county.head")


def test_daily_reconciliation_for_cashier_and_supervisor(as_, province):
    number = case_number()
    n = noticed(as_, number, (line("FEE-JMSFZ-GBF"),)).notice
    province.pay(n.notice_number, 2000)
    mismatch = noticed(as_, case_number(), (line("FEE-JMSFZ-BL"),)).notice
    province.pay(mismatch.notice_number, 1)
    day = n.issued_at[:10]
    report = as_("county.cashier").DailyReconciliation(pb.DailyReconciliationRequest(day=day))
    rows = json_format.MessageToDict(report, preserving_proto_field_name=True)["rows"]
    assert report.notices_issued >= 2 and report.payments_received >= 2 and report.mismatches >= 1
    assert report.payments_fen == sum(int(r.get("amount_fen", 0)) for r in rows if r["kind"] == "payment")
    assert {n.notice_number, mismatch.notice_number} <= {r["notice_number"] for r in rows if r["kind"] == "notice"}
    csv = as_("county.supervisor").RenderDailyReconciliation(pb.RenderDailyReconciliationRequest(
        day=day, format="csv"))
    text_csv = csv.content.decode("utf-8-sig")
    assert csv.filename.endswith(".csv") and n.notice_number in text_csv and "缴款金额与缴款书不符" in text_csv
    pdf = as_("county.cashier").RenderDailyReconciliation(pb.RenderDailyReconciliationRequest(day=day, format="pdf"))
    assert pdf.content[:4] == b"%PDF"
    township = as_("county.supervisor").DailyReconciliation(pb.DailyReconciliationRequest(day=day, tenant=TOWNSHIP))
    assert township.tenant == TOWNSHIP
    assert err(as_("dongdajie.cashier").DailyReconciliation, pb.DailyReconciliationRequest(
        day=day, tenant=COUNTY)).code() == CODE.PERMISSION_DENIED
    assert err(as_("county.clerk").DailyReconciliation, pb.DailyReconciliationRequest(day=day)).code() == \
        CODE.PERMISSION_DENIED
    e = err(as_("county.cashier").DailyReconciliation, pb.DailyReconciliationRequest(day="18/09/2026"))
    assert (e.code(), field_of(e)) == (CODE.INVALID_ARGUMENT, "day")


# ------------------------------------------------------------------------------------------------
# case_decided from approval
# ------------------------------------------------------------------------------------------------
def test_case_decided_opens_or_assesses_the_case_once(as_, decisions, fees_db):
    pub, consumer = decisions
    auto, waiting, denied, no_fees = case_number(), case_number(), case_number(), case_number()
    first = pub.row(COUNTY, auto, outcome="approved", has_fees=True, key_project=True,
                    applicant_name="武威市城投公司", fee_codes=["FEE-JMSFZ-GBF", "FEE-LSSFZ-GBF"])
    for row in (first, first,                                       # delivered twice: handled once
                pub.row(COUNTY, waiting, outcome="approved", has_fees=True, government_invested=True,
                        fee_codes=["FEE-CSJCSSPTF"]),                 # needs the building area: a person
                pub.row(COUNTY, no_fees, outcome="approved", has_fees=False)):
        pub.publish_row(row)
    assess(as_, denied, line("FEE-JMSFZ-GBF"))
    as_("county.cashier").IssueNotice(pb.IssueNoticeRequest(case_number=denied))
    pub.publish_row(pub.row(COUNTY, denied, outcome="denied", has_fees=True))
    assert consumer.drain(5, timeout=30) == 5
    assert consumer.stats.duplicates == 1 and consumer.stats.dead_lettered == 0
    get = lambda n: as_("county.cashier").GetCaseFees(pb.GetCaseFeesRequest(case_number=n))  # noqa: E731
    a = get(auto)
    assert (a.status, a.source, a.key_project, a.total_fen) == (pb.CASE_STATUS_ASSESSED, "decision", True, 3000)
    assert [e[0] for e in outbox(fees_db, auto)] == ["fees_assessed"]
    w = get(waiting)
    assert (w.status, w.government_invested, len(w.lines), list(w.expected_fee_codes)) == \
        (pb.CASE_STATUS_AWAITING_ASSESSMENT, True, 0, ["FEE-CSJCSSPTF"])
    assert waiting in [c.case_number for c in as_("county.cashier").ListCases(pb.ListCasesRequest(
        status=pb.CASE_STATUS_AWAITING_ASSESSMENT)).cases]
    # the cashier assesses it later: the decision's "government-invested" makes the range its lower bound
    w = assess(as_, waiting, line("FEE-CSJCSSPTF", building_area=100))
    assert (w.lines[0].amount_fen, w.lines[0].lower_bound_applied) == (400_000, True)
    d = get(denied)
    assert (d.status, d.notice.status) == (pb.CASE_STATUS_CLOSED, pb.NOTICE_STATUS_VOID)
    assert err(get, no_fees).code() == CODE.NOT_FOUND               # a case without fees is not touched


def test_every_other_action_checks_role_and_tenant(as_, province):
    number = case_number()
    n = noticed(as_, number, (line("FEE-JMSFZ-BL"),)).notice
    entry_id = province.pay(n.notice_number, 1).reconciliation_id
    resolve = pb.ResolveReconciliationRequest(id=entry_id, action="close", note="核实为测试款")
    assert err(as_("county.head").ResolveReconciliation, resolve).code() == CODE.PERMISSION_DENIED
    assert err(as_("county.clerk").ResolveReconciliation, resolve).code() == CODE.PERMISSION_DENIED
    assert err(as_("dongdajie.cashier").ResolveReconciliation, resolve).code() == CODE.NOT_FOUND
    for user in ("county.clerk", "county.admin"):
        for method, request in [("RenderNotice", pb.RenderNoticeRequest(case_number=number)),
                                ("ListCases", pb.ListCasesRequest()), ("ListRefunds", pb.ListRefundsRequest()),
                                ("ListReconciliation", pb.ListReconciliationRequest()),
                                ("GetCaseFees", pb.GetCaseFeesRequest(case_number=number))]:
            assert err(getattr(as_(user), method), request).code() == CODE.PERMISSION_DENIED, (user, method)
    for user in ("wenchuan.cashier", "dongdajie.cashier"):
        assert err(as_(user).RenderNotice, pb.RenderNoticeRequest(case_number=number)).code() == CODE.NOT_FOUND
        assert err(as_(user).RequestRefund, pb.RequestRefundRequest(
            reconciliation_id=entry_id, amount_fen=1, reason="x")).code() == CODE.NOT_FOUND
    assert err(as_().ListReconciliation, pb.ListReconciliationRequest()).code() == CODE.UNAUTHENTICATED
    pdf = as_("county.supervisor").RenderNotice(pb.RenderNoticeRequest(case_number=number))
    assert pdf.content[:4] == b"%PDF" and pdf.filename.startswith("缴款书-")
    assert as_("county.cashier").ResolveReconciliation(resolve).status == pb.RECONCILIATION_ENTRY_STATUS_RESOLVED
    e = err(as_("county.cashier").ResolveReconciliation, resolve)
    assert e.code() == CODE.FAILED_PRECONDITION


# ------------------------------------------------------------------------------------------------
# the notice's yearly serial, taken with the COMMIT (issue 22)
# ------------------------------------------------------------------------------------------------
def _counter(owner_url: str, year: int, value: int | None = None) -> int:
    """The county's notice counter of the year (set to `value` first, bound to the county as its policy asks)."""
    eng = create_engine(owner_url)
    try:
        with eng.begin() as c:
            c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": COUNTY})
            if value is not None:
                c.execute(text("UPDATE fees.notice_counters SET last_seq = :v WHERE tenant_code = :t AND year = :y"),
                          {"v": value, "t": COUNTY, "y": year})
            return c.execute(text("SELECT last_seq FROM fees.notice_counters WHERE tenant_code = :t AND year = :y"),
                             {"t": COUNTY, "y": year}).scalar_one()
    finally:
        eng.dispose()


def test_notice_serials_follow_each_other_and_a_used_up_year_is_refused_with_nothing_written(as_, fees_db, migrated):
    first = noticed(as_).notice
    year = dt.datetime.fromisoformat(first.issued_at).astimezone(CHINA_TZ).year
    second = noticed(as_).notice
    assert first.serial >= 1 and second.serial == first.serial + 1                 # the unit's count, no gaps
    assert _counter(migrated.database_owner_url, year) == second.serial
    stored = owner_rows(migrated.database_owner_url, "SELECT serial FROM fees.notices WHERE notice_number = :n",
                        n=second.notice_number)
    assert stored == [(second.serial,)]                                           # what the cashier saw is kept

    before = _counter(migrated.database_owner_url, year)
    _counter(migrated.database_owner_url, year, domain.NOTICE_SERIAL_MAX)
    try:
        number = case_number()
        assess(as_, number, *THREE_LINES)
        e = err(as_("county.cashier").IssueNotice, pb.IssueNoticeRequest(case_number=number))
        assert e.code() == CODE.FAILED_PRECONDITION and f"{year} 年缴款书序号已用尽" in e.details()
        assert _counter(migrated.database_owner_url, year) == domain.NOTICE_SERIAL_MAX   # rolled back, not taken
        assert count(fees_db, "SELECT count(*) FROM fees.notices WHERE case_number = :n", n=number) == 0
        fees = as_("county.cashier").GetCaseFees(pb.GetCaseFeesRequest(case_number=number))
        assert fees.status == pb.CASE_STATUS_ASSESSED and not fees.notice.notice_number
        assert [k for k, _, _ in outbox(fees_db, number)] == ["fees_assessed"]       # no notice_issued left behind
    finally:
        _counter(migrated.database_owner_url, year, before)
