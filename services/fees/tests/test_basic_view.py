"""The cashier's list in its basic view (issue 22 item 4; fees.proto CaseFeesView, Google's AIP-157 "view"):
the console's fee window asks for each case without its lines and with its notice in brief, so the list at a
year's volume reads no line and translates no line. These tests hold the basic view to the full one: for every
case of the unit, in every state the fee window knows (assessed, partly and wholly waived, noticed, paid,
refunded), the basic view is the full view with its lines left out and its notice cut to the brief fields, its
totals the same figures as the lines add up to; a view number the API does not know is refused; the basic view
stays inside the unit; and the REST edge and the console speak it."""

from __future__ import annotations

import grpc
import pytest
from sanji.fees.v1 import fees_pb2 as pb

from gateway.pages_kit import CONSOLE_MAX_OFFSET, CONSOLE_PAGE
from services.fees.tests.conftest import case_number, err, field_of, line

BRIEF = ("notice_number", "case_number", "tenant", "status", "total_fen", "issued_at", "paid_at", "serial")


def assess(as_, *lines: pb.LineInput) -> str:
    return as_("county.cashier").AssessFees(pb.AssessFeesRequest(
        case_number=case_number(), lines=lines, item_name="建设工程规划许可",
        applicant_name="甘肃某建设有限公司")).case_number


def issue(as_, number: str) -> pb.Notice:
    return as_("county.cashier").IssueNotice(pb.IssueNoticeRequest(case_number=number)).notice


@pytest.fixture(scope="module")
def states(as_, province):
    """One case of the county's in each state the fee window knows."""
    cashier, head = as_("county.cashier"), as_("county.head")
    two = (line("FEE-CSJCSSPTF", 6000, building_area=100), line("FEE-BDCDJ-FZZ", extra_certificates=0))
    out = {"assessed": assess(as_, *two)}
    out["waived_in_part"] = assess(as_, *two)
    head.WaiveFee(pb.WaiveFeeRequest(case_number=out["waived_in_part"], line_no=1, reason_code="GYXM",
                                     amount_fen=300_000, note="学校项目"))
    head.WaiveFee(pb.WaiveFeeRequest(case_number=out["waived_in_part"], line_no=2, reason_code="XWQY"))
    issue(as_, out["waived_in_part"])
    out["waived_in_full"] = assess(as_, line("FEE-JMSFZ-GBF"))
    head.WaiveFee(pb.WaiveFeeRequest(case_number=out["waived_in_full"], line_no=1, reason_code="DIBAO"))
    out["noticed"] = assess(as_, line("FEE-JMSFZ-BL"))
    issue(as_, out["noticed"])
    out["paid"] = assess(as_, line("FEE-JMSFZ-BL"))
    n = issue(as_, out["paid"])
    province.pay(n.notice_number, n.total_fen)
    out["refunded"] = assess(as_, line("FEE-JMSFZ-BL"), line("FEE-JMSFZ-GBF"))
    n = issue(as_, out["refunded"])
    province.pay(n.notice_number, n.total_fen)
    refund = cashier.RequestRefund(pb.RequestRefundRequest(notice_number=n.notice_number, amount_fen=1000,
                                                           reason="多收退还"))
    head.DecideRefund(pb.DecideRefundRequest(refund_id=refund.id, approve=True, note="同意"))
    return out


def every_case(as_, user: str, view: int, status: int = pb.CASE_STATUS_UNSPECIFIED) -> dict[str, pb.CaseFees]:
    seen, offset = {}, 0
    while True:
        page = as_(user).ListCases(pb.ListCasesRequest(status=status, limit=200, offset=offset, view=view))
        seen.update({c.case_number: c for c in page.cases})
        offset += 200
        if offset >= page.total:
            return seen


def in_brief(full: pb.CaseFees) -> pb.CaseFees:
    """What the basic view must give of a case, from its full view."""
    brief = pb.CaseFees()
    brief.CopyFrom(full)
    del brief.lines[:]
    if full.HasField("notice"):
        brief.notice.Clear()
        for name in BRIEF:
            setattr(brief.notice, name, getattr(full.notice, name))
    return brief


def test_the_basic_view_is_the_full_view_without_lines_and_with_the_notice_in_brief(as_, states):
    full = every_case(as_, "county.cashier", pb.CASE_FEES_VIEW_FULL)
    basic = every_case(as_, "county.cashier", pb.CASE_FEES_VIEW_BASIC)
    assert set(states.values()) <= set(full) and set(basic) == set(full)
    for number, case in full.items():                  # every case of the unit, not only these
        assert basic[number] == in_brief(case), number
        assert (case.total_fen, case.waived_fen) == (sum(x.amount_fen for x in case.lines),
                                                     sum(x.waived_fen for x in case.lines)), number
    s = {k: basic[v] for k, v in states.items()}
    assert [len(full[v].lines) for v in states.values()] == [2, 2, 1, 1, 1, 2]
    assert not any(c.lines for c in basic.values())
    assert (s["waived_in_part"].waived_fen, s["waived_in_part"].due_fen) == (655_000 - 300_000, 300_000)
    assert (s["waived_in_full"].status, s["waived_in_full"].due_fen) == (pb.CASE_STATUS_SETTLED, 0)
    assert not s["waived_in_full"].HasField("notice") and not s["assessed"].HasField("notice")
    assert s["noticed"].notice.status == pb.NOTICE_STATUS_ISSUED and s["noticed"].notice.serial > 0
    assert s["noticed"].notice.notice_number == full[states["noticed"]].notice.notice_number
    assert (s["paid"].notice.status, s["paid"].paid_fen) == (pb.NOTICE_STATUS_PAID, s["paid"].due_fen)
    assert full[states["paid"]].notice.receipt_signature and not s["paid"].notice.receipt_signature
    assert s["refunded"].refunded_fen == 1000
    # the unspecified view is the full one, as the list gave before the view existed
    assert every_case(as_, "county.cashier", pb.CASE_FEES_VIEW_UNSPECIFIED) == full
    # and a status filter in the basic view keeps to that status
    noticed = every_case(as_, "county.cashier", pb.CASE_FEES_VIEW_BASIC, pb.CASE_STATUS_NOTICED)
    assert states["noticed"] in noticed and {c.status for c in noticed.values()} == {pb.CASE_STATUS_NOTICED}
    assert states["paid"] not in noticed


@pytest.mark.parametrize("number", [3, 99, -1])
def test_a_view_the_api_does_not_know_is_refused(as_, number):
    e = err(as_("county.cashier").ListCases, pb.ListCasesRequest(view=number))
    assert (e.code(), field_of(e)) == (grpc.StatusCode.INVALID_ARGUMENT, "view") and not e.details().isascii()


def test_the_basic_view_stays_inside_the_unit(as_, states):
    for view in (pb.CASE_FEES_VIEW_BASIC, pb.CASE_FEES_VIEW_FULL):
        township = every_case(as_, "dongdajie.cashier", view)
        assert not set(states.values()) & set(township)
        assert all(c.tenant != "620602" for c in township.values())
    e = err(as_("county.clerk").ListCases, pb.ListCasesRequest(view=pb.CASE_FEES_VIEW_BASIC))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED


def test_the_rest_edge_and_the_console_speak_the_view(client, tokens, states):
    headers = {"authorization": f"Bearer {tokens['county.cashier']}"}

    def listed(**params) -> dict[str, dict]:
        r = client.get("/api/v1/fees/cases", params={"status": "noticed", "limit": 200, **params}, headers=headers)
        assert r.status_code == 200, r.text
        return {c["case_number"]: c for c in r.json()["cases"]}

    number = states["noticed"]
    assert listed()[number]["lines"] and listed(view="full")[number]["lines"]
    full, basic = listed()[number], listed(view="basic")[number]
    assert basic["lines"] == [] and basic["notice"]["status"] == "issued" and basic["notice"]["payee_account"] == ""
    assert full["notice"]["payee_account"] and basic["due_fen"] == full["due_fen"] and int(full["due_fen"]) > 0
    for bad in ("BASIC", "brief", "", "full "):
        r = client.get("/api/v1/fees/cases", params={"view": bad}, headers=headers)
        assert r.status_code == 422 and "view" in r.text, bad
    page = client.get("/console/cashier", params={"status": "noticed"}, headers=headers)
    assert page.status_code == 200 and number in page.text
    # a page at a time (the console's CONSOLE_PAGE rows), its place in the whole as the service counts it
    counted = client.get("/api/v1/fees/cases", params={"status": "noticed", "limit": 1}, headers=headers).json()
    assert f"共 {counted['total']}{'+' if counted['total_capped'] else ''} 条" in page.text
    assert page.text.count('href="/console/cashier/') <= CONSOLE_PAGE
    for bad in ("-1", "x", str(CONSOLE_MAX_OFFSET + 1)):
        assert client.get("/console/cashier", params={"offset": bad}, headers=headers).status_code == 422, bad


def test_the_fee_window_offers_the_notice_form_to_the_cashier_not_the_head(client, tokens, states):
    """一案一书 is the cashier's to issue (fees and the page's route refuse the head, who reads the case)."""
    number = states["assessed"]
    for user, offered in (("county.cashier", True), ("county.head", False)):
        page = client.get(f"/console/cashier/{number}", headers={"authorization": f"Bearer {tokens[user]}"})
        assert page.status_code == 200 and number in page.text
        assert ('id="notice-form"' in page.text) is offered, user
