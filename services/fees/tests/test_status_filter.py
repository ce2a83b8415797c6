"""Fees statuses are enums on the wire and lower-case tokens at the REST edge (issue 14 item 8): the fee
window's case list and the refunds filtered by status through gRPC (the platform's interceptors, real
tokens) and through the gateway, a status the API does not know refused naming the field, a township's
cashier never seeing the county's cases or refunds whatever the filter, and the daily report's rows
carrying the words people read as `status_label`."""

from __future__ import annotations

import grpc
import pytest
from sanji.fees.v1 import fees_pb2 as pb

from services.fees.tests.conftest import case_number, err, field_of

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def auth(tokens, user: str) -> dict:
    return {"authorization": f"Bearer {tokens[user]}"}


def assessed(as_, number: str) -> pb.CaseFees:
    return as_("county.cashier").AssessFees(pb.AssessFeesRequest(
        case_number=number, lines=[pb.LineInput(fee_code="FEE-JMSFZ-BL")], item_name="居民身份证换领",
        applicant_name="马秀英"))


@pytest.fixture(scope="module")
def county_cases(as_, province):
    """A case assessed, one noticed, and one paid whose payment has a pending refund (凉州区)."""
    only_assessed = assessed(as_, case_number()).case_number
    noticed = assessed(as_, case_number()).case_number
    as_("county.cashier").IssueNotice(pb.IssueNoticeRequest(case_number=noticed))
    paid = assessed(as_, case_number()).case_number
    notice = as_("county.cashier").IssueNotice(pb.IssueNoticeRequest(case_number=paid)).notice
    province.pay(notice.notice_number, notice.total_fen)
    refund = as_("county.cashier").RequestRefund(pb.RequestRefundRequest(
        notice_number=notice.notice_number, amount_fen=1000, reason="多收退还"))
    two_lines = as_("county.cashier").AssessFees(pb.AssessFeesRequest(
        case_number=case_number(),
        lines=[pb.LineInput(fee_code="FEE-JMSFZ-BL"), pb.LineInput(fee_code="FEE-JMSFZ-GBF")],
        item_name="居民身份证换领", applicant_name="马秀英")).case_number
    as_("county.cashier").IssueNotice(pb.IssueNoticeRequest(case_number=two_lines))
    return {"assessed": only_assessed, "noticed": noticed, "settled": paid, "refund": refund.id,
            "day": notice.issued_at[:10], "two_lines": two_lines}


def grpc_cases(as_, user: str, status: int) -> dict[str, int]:
    seen, offset = {}, 0
    while True:
        page = as_(user).ListCases(pb.ListCasesRequest(status=status, limit=200, offset=offset))
        seen.update({c.case_number: c.status for c in page.cases})
        offset += 200
        if offset >= page.total:
            return seen


def rest_cases(client, tokens, user: str, status: str) -> dict[str, str]:
    seen, offset = {}, 0
    while True:
        r = client.get("/api/v1/fees/cases", params={"status": status, "limit": 200, "offset": offset},
                       headers=auth(tokens, user))
        assert r.status_code == 200, r.text
        seen.update({c["case_number"]: c["status"] for c in r.json()["cases"]})
        offset += 200
        if offset >= r.json()["total"]:
            return seen


def test_grpc_lists_cases_and_refunds_by_status_enum(as_, county_cases):
    c = county_cases
    for status, mine in ((pb.CASE_STATUS_ASSESSED, "assessed"), (pb.CASE_STATUS_NOTICED, "noticed"),
                         (pb.CASE_STATUS_SETTLED, "settled")):
        seen = grpc_cases(as_, "county.cashier", status)
        assert c[mine] in seen and set(seen.values()) == {status}
        assert not {c[k] for k in ("assessed", "noticed", "settled") if k != mine} & set(seen)
    every = grpc_cases(as_, "county.cashier", pb.CASE_STATUS_UNSPECIFIED)
    assert [every[c[k]] for k in ("assessed", "noticed", "settled")] == [
        pb.CASE_STATUS_ASSESSED, pb.CASE_STATUS_NOTICED, pb.CASE_STATUS_SETTLED]
    settled = as_("county.cashier").GetCaseFees(pb.GetCaseFeesRequest(case_number=c["settled"]))
    assert (settled.notice.status, {x.status for x in settled.lines}) == (pb.NOTICE_STATUS_PAID,
                                                                          {pb.FEE_LINE_STATUS_PAID})
    pending = as_("county.cashier").ListRefunds(pb.ListRefundsRequest(status=pb.REFUND_STATUS_PENDING)).refunds
    assert c["refund"] in {r.id for r in pending} and {r.status for r in pending} == {pb.REFUND_STATUS_PENDING}
    approved = as_("county.cashier").ListRefunds(pb.ListRefundsRequest(status=pb.REFUND_STATUS_APPROVED)).refunds
    assert c["refund"] not in {r.id for r in approved}
    every = as_("county.cashier").ListRefunds(pb.ListRefundsRequest()).refunds
    assert c["refund"] in {r.id for r in every}


@pytest.mark.parametrize("number", [6, 99, -1])
def test_grpc_refuses_a_status_number_the_api_does_not_know(as_, number):
    e = err(as_("county.cashier").ListCases, pb.ListCasesRequest(status=number))
    assert e.code() == INVALID and field_of(e) == "status" and not e.details().isascii()
    e = err(as_("county.cashier").ListRefunds, pb.ListRefundsRequest(status=number))
    assert e.code() == INVALID and field_of(e) == "status" and not e.details().isascii()


def test_grpc_status_filters_stay_inside_the_unit(as_, county_cases):
    c = county_cases
    for status in (pb.CASE_STATUS_UNSPECIFIED, pb.CASE_STATUS_ASSESSED, pb.CASE_STATUS_NOTICED,
                   pb.CASE_STATUS_SETTLED):
        seen = grpc_cases(as_, "dongdajie.cashier", status)
        assert not {c["assessed"], c["noticed"], c["settled"]} & set(seen), status
    for status in (pb.REFUND_STATUS_UNSPECIFIED, pb.REFUND_STATUS_PENDING):
        refunds = as_("dongdajie.cashier").ListRefunds(pb.ListRefundsRequest(status=status)).refunds
        assert c["refund"] not in {r.id for r in refunds}


def test_rest_speaks_the_lower_case_tokens_both_ways(client, tokens, county_cases):
    c = county_cases
    seen = rest_cases(client, tokens, "county.cashier", "noticed")
    assert c["noticed"] in seen and c["assessed"] not in seen and set(seen.values()) == {"noticed"}
    every = rest_cases(client, tokens, "county.cashier", "")
    assert [every[c[k]] for k in ("assessed", "noticed", "settled")] == ["assessed", "noticed", "settled"]
    r = client.get(f"/api/v1/fees/cases/{c['settled']}", headers=auth(tokens, "county.cashier"))
    body = r.json()
    assert (body["status"], body["notice"]["status"], {x["status"] for x in body["lines"]}) == (
        "settled", "paid", {"paid"})
    r = client.get("/api/v1/fees/refunds", params={"status": "pending"}, headers=auth(tokens, "county.cashier"))
    assert r.status_code == 200 and c["refund"] in {x["id"] for x in r.json()["refunds"]}
    assert {x["status"] for x in r.json()["refunds"]} == {"pending"}
    r = client.get("/api/v1/fees/refunds", params={"status": "approved"}, headers=auth(tokens, "county.cashier"))
    assert r.status_code == 200 and c["refund"] not in {x["id"] for x in r.json()["refunds"]}
    r = client.get("/api/v1/fees/reconciliation", params={"include_resolved": True},
                   headers=auth(tokens, "county.cashier"))
    assert r.status_code == 200 and {e["status"] for e in r.json()["entries"]} <= {"open", "matched", "resolved"}


def test_rest_daily_report_rows_carry_the_words_as_status_label(client, tokens, county_cases):
    r = client.get(f"/api/v1/fees/reports/{county_cases['day']}", headers=auth(tokens, "county.cashier"))
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert rows and all("status" not in x and x["status_label"] for x in rows)
    assert "已缴款" in {x["status_label"] for x in rows if x["kind"] == "notice"}


@pytest.mark.parametrize("path", ["/api/v1/fees/cases", "/api/v1/fees/refunds"])
@pytest.mark.parametrize("bad", ["paid_up", "CASE_STATUS_ASSESSED", "REFUND_STATUS_PENDING", "Pending", "1",
                                 "unspecified", "pending\x00", "待缴款"])
def test_rest_refuses_a_status_that_is_not_a_token(client, tokens, path, bad):
    r = client.get(path, params={"status": bad}, headers=auth(tokens, "county.cashier"))
    assert r.status_code == 422 and r.json()["field"] == "status", r.text


def test_rest_status_filters_stay_inside_the_unit(client, tokens, county_cases):
    c = county_cases
    for status in ("", "assessed", "noticed", "settled"):
        seen = rest_cases(client, tokens, "dongdajie.cashier", status)
        assert not {c["assessed"], c["noticed"], c["settled"]} & set(seen), status
    r = client.get("/api/v1/fees/refunds", params={"status": "pending"}, headers=auth(tokens, "dongdajie.cashier"))
    assert r.status_code == 200 and c["refund"] not in {x["id"] for x in r.json()["refunds"]}
    assert client.get("/api/v1/fees/cases", params={"status": "noticed"}).status_code == 401



def test_a_listed_case_is_the_case_itself_with_its_lines_and_notice(as_, county_cases):
    # the list reads a page in one statement, each case's lines and notice with it (issue 22); each entry must still
    # be what GetCaseFees answers: a case without a notice, one with two lines, one paid
    cashier = as_("county.cashier")
    for status in (pb.CASE_STATUS_UNSPECIFIED, pb.CASE_STATUS_NOTICED, pb.CASE_STATUS_ASSESSED,
                   pb.CASE_STATUS_SETTLED):
        page = cashier.ListCases(pb.ListCasesRequest(status=status, limit=50))
        assert page.cases
        for case in page.cases:
            assert case == cashier.GetCaseFees(pb.GetCaseFeesRequest(case_number=case.case_number))
        listed = {c.case_number: c for c in page.cases}
        if status == pb.CASE_STATUS_ASSESSED:
            assert not listed[county_cases["assessed"]].HasField("notice")
        if status == pb.CASE_STATUS_NOTICED:
            assert [x.line_no for x in listed[county_cases["two_lines"]].lines] == [1, 2]
        if status == pb.CASE_STATUS_NOTICED:          # a noticed case has its lines and its notice
            assert all(c.lines and c.notice.notice_number for c in page.cases)
        again = cashier.ListCases(pb.ListCasesRequest(status=status, limit=50))
        assert [c.case_number for c in again.cases] == [c.case_number for c in page.cases]   # the same order
