"""The back office and the fee window as pages: the reviewer's, decider's and head's queue (claim, review
with opinion, decide; the chief representative's 即办 decision), every case with its due dates, the
working-day trace, the steps, the history and the seal; site inspections (现场踏勘) scheduled and recorded on
the case page; the cashier's cases (assessed fees, the one notice, payment status, the daily reconciliation
as CSV or PDF) and refunds (the cashier asks, the head decides).

The rules are approval's and fees': these pages post what the person chose and show the services' answers.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sanji.approval.v1 import approval_pb2 as apb
from sanji.fees.v1 import fees_pb2 as fpb

from gateway.pages_kit import CONSOLE_MAX_OFFSET, CONSOLE_PAGE, Posted, Staff, allow, pager, render
from gateway.rest import status_tokens
from gateway.routes_approval import approval
from gateway.routes_fees import fees
from shared.tenancy import Role

router = APIRouter(include_in_schema=False)
BACK_OFFICE = (Role.REVIEWER, Role.DECIDER, Role.HEAD, Role.CHIEF_REPRESENTATIVE)
DESKS = (Role.REVIEWER, Role.DECIDER)          # the roles that take a desk's tasks (approval's queue)
# who opens a case page: whom approval lets read the case (its STAFF_ROLES; the cashier is not one, the window is)
CASE_READERS = (*BACK_OFFICE, Role.WINDOW_CLERK, Role.TENANT_ADMIN, Role.SUPERVISOR)
STEP = status_tokens(apb.StepStatus)
CASE = status_tokens(apb.CaseStatus)
FEE_CASE = status_tokens(fpb.CaseStatus)
NOTICE = status_tokens(fpb.NoticeStatus)
INSPECTION = status_tokens(apb.InspectionStatus)
STEP_NAMES = {"waiting": "等待前序环节", "open": "待认领", "claimed": "办理中", "done": "已完成", "cancelled": "已取消"}
FEE_NAMES = {"awaiting_assessment": "待核定", "assessed": "已核定，待开具缴款书", "noticed": "待缴款",
             "settled": "已缴清", "closed": "已终止收费"}
NOTICE_NAMES = {"issued": "待缴款", "paid": "已缴款", "void": "已作废"}


def yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


@router.get("/console/queue", response_class=HTMLResponse)
def queue(request: Request, p: Staff, offset: int = Query(0, ge=0, le=CONSOLE_MAX_OFFSET),
          mine_offset: int = Query(0, ge=0, le=CONSOLE_MAX_OFFSET)):
    """A desk's queue, most urgent first, and the tasks the caller has claimed: each a page at a time. The head
    and the window's chief representative take no desk's task (approval refuses them the queue): their page is
    the case search, to open a case by its number (an extension to approve, a 即办件 to decide)."""
    allow(p, *BACK_OFFICE)
    if not any(p.has(r) for r in DESKS):
        return render(request, "queue.html", {"desk": False}, p=p)
    tasks = approval.call(request, p, "ListQueue", apb.ListQueueRequest(limit=CONSOLE_PAGE, offset=offset))
    mine = approval.call(request, p, "ListQueue", apb.ListQueueRequest(mine=True, limit=CONSOLE_PAGE,
                                                                       offset=mine_offset))
    return render(request, "queue.html", {
        "desk": True, "tasks": tasks.tasks, "mine": mine.tasks, "step": STEP, "names": STEP_NAMES,
        "tasks_pager": pager(request, offset, len(tasks.tasks), tasks.total, tasks.total_capped),
        "mine_pager": pager(request, mine_offset, len(mine.tasks), mine.total, mine.total_capped, "mine_offset")}, p=p)


@router.post("/console/queue/{step_id}/claim")
def claim(request: Request, step_id: str, p: Staff, form: Posted):
    allow(p, *BACK_OFFICE)
    task = approval.call(request, p, "ClaimTask", apb.ClaimTaskRequest(step_id=step_id))
    return RedirectResponse(f"/console/case/{task.case_id}", status_code=303)


@router.get("/console/case/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: str, p: Staff):
    allow(p, *CASE_READERS)
    case = approval.call(request, p, "GetCase", apb.GetCaseRequest(case_id=case_id))
    mine = [s for s in case.steps if STEP.get(s.status) == "claimed" and s.claimed_by == p.username]
    return render(request, "case.html", {
        "case": case, "status": CASE.get(case.status, ""), "step": STEP, "names": STEP_NAMES,
        "inspection": INSPECTION, "modes": INSPECTION_MODES,
        "review": next((s for s in mine if s.kind in ("review", "department_review")), None),
        # the clock is stopped and restarted by whoever holds a step of the case (approval's ledger rule): not
        # offered to the head or to a reviewer who holds none, whom approval would refuse
        "clock": CASE.get(case.status, "") in ("review", "decision") and bool(mine),
        "decision": next((s for s in mine if s.kind == "decision"), None),
        "immediate": next((s for s in case.steps if s.kind == "window_decision" and STEP.get(s.status) != "done"),
                          None) if p.has(Role.CHIEF_REPRESENTATIVE) else None}, p=p)


@router.get("/console/case", response_class=HTMLResponse)
def case_by_number(request: Request, p: Staff, number: str = Query(max_length=64)):
    allow(p, *CASE_READERS)
    case = approval.call(request, p, "GetCase", apb.GetCaseRequest(case_number=number.strip()))
    return RedirectResponse(f"/console/case/{case.id}", status_code=303)


@router.post("/console/case/{case_id}/review/{step_id}")
def review(request: Request, case_id: str, step_id: str, p: Staff, form: Posted):
    allow(p, Role.REVIEWER)
    approval.call(request, p, "CompleteReview", apb.CompleteReviewRequest(
        step_id=step_id, opinion=form.get("opinion"), conclusion=form.get("conclusion") or "agree"))
    return RedirectResponse(f"/console/case/{case_id}", status_code=303)


@router.post("/console/case/{case_id}/decide")
def decide(request: Request, case_id: str, p: Staff, form: Posted):
    allow(p, Role.DECIDER, Role.CHIEF_REPRESENTATIVE)
    reasons = [r.strip() for r in form.get("reasons").splitlines() if r.strip()]
    fields = {"case_id": case_id, "outcome": form.get("outcome"), "opinion": form.get("opinion"), "reasons": reasons}
    if form.get("immediate"):
        approval.call(request, p, "DecideImmediately", apb.DecideImmediatelyRequest(**fields))
    else:
        approval.call(request, p, "Decide", apb.DecideRequest(**fields))
    return RedirectResponse(f"/console/case/{case_id}", status_code=303)


@router.post("/console/case/{case_id}/suspend")
def suspend(request: Request, case_id: str, p: Staff, form: Posted):
    """Stop the clock for a special procedure (听证、检验、专家评审 …) or the applicant's correction; the
    service writes the notice to the applicant."""
    allow(p, *DESKS)
    try:
        days = int(form.get("days") or 0)
    except ValueError:
        days = 0
    approval.call(request, p, "SuspendClock", apb.SuspendClockRequest(
        case_id=case_id, procedure=form.get("procedure"), reason=form.get("reason"), days=days))
    return RedirectResponse(f"/console/case/{case_id}", status_code=303)


@router.post("/console/case/{case_id}/resume")
def resume(request: Request, case_id: str, p: Staff, form: Posted):
    allow(p, *DESKS)
    approval.call(request, p, "ResumeClock", apb.ResumeClockRequest(case_id=case_id, reason=form.get("reason")))
    return RedirectResponse(f"/console/case/{case_id}", status_code=303)


@router.post("/console/case/{case_id}/extend")
def extend(request: Request, case_id: str, p: Staff, form: Posted):
    """The head extends the statutory limit (the service holds it to the law's ceiling)."""
    allow(p, Role.HEAD)
    try:
        days = int(form.get("days") or 0)
    except ValueError:
        days = 0
    approval.call(request, p, "ExtendDeadline",
                  apb.ExtendDeadlineRequest(case_id=case_id, days=days, reason=form.get("reason")))
    return RedirectResponse(f"/console/case/{case_id}", status_code=303)


# -- site inspection (现场踏勘): schedule and record ----------------------------------------------------------
INSPECTION_MODES = {"independent": "独立踏勘", "joint": "联合踏勘", "delegated": "委托原职能部门踏勘"}


@router.post("/console/case/{case_id}/inspections")
def request_inspection(request: Request, case_id: str, p: Staff, form: Posted):
    """Schedule a site inspection (the reviewer holding the review step); where the item says so the service
    stops the clock (with its notice to the applicant)."""
    allow(p, Role.REVIEWER)
    departments = [d.strip() for d in form.get("departments").replace("，", ",").replace("\n", ",").split(",")
                   if d.strip()]
    approval.call(request, p, "RequestInspection", apb.RequestInspectionRequest(
        case_id=case_id, mode=form.get("mode"), departments=departments, scheduled_on=form.get("scheduled_on"),
        inspectors=form.get("inspectors"), note=form.get("note")))
    return RedirectResponse(f"/console/case/{case_id}#inspections", status_code=303)


@router.post("/console/case/{case_id}/inspections/{inspection_id}/findings")
def record_inspection(request: Request, case_id: str, inspection_id: str, p: Staff, form: Posted):
    allow(p, Role.REVIEWER)
    approval.call(request, p, "RecordInspection", apb.RecordInspectionRequest(
        case_id=case_id, inspection_id=inspection_id, findings=form.get("findings"),
        conclusion=form.get("conclusion")))
    return RedirectResponse(f"/console/case/{case_id}#inspections", status_code=303)


# -- the fee window ------------------------------------------------------------------------------------
@router.get("/console/cashier", response_class=HTMLResponse)
def cashier(request: Request, p: Staff, status: str = Query("", pattern="^(" + "|".join(FEE_NAMES) + ")?$"),
            offset: int = Query(0, ge=0, le=CONSOLE_MAX_OFFSET)):
    allow(p, Role.CASHIER, Role.HEAD)
    number = {t: n for n, t in FEE_CASE.items()}.get(status, 0)
    cases = fees.call(request, p, "ListCases", fpb.ListCasesRequest(status=number, limit=CONSOLE_PAGE, offset=offset,
                                                                     view=fpb.CASE_FEES_VIEW_BASIC))
    return render(request, "cashier.html", {
        "cases": cases.cases, "status": status, "names": FEE_NAMES, "fee_case": FEE_CASE, "yuan": yuan,
        "pager": pager(request, offset, len(cases.cases), cases.total, cases.total_capped)}, p=p)


@router.get("/console/cashier/{case_number}", response_class=HTMLResponse)
def cashier_case(request: Request, case_number: str, p: Staff):
    allow(p, Role.CASHIER, Role.HEAD)
    c = fees.call(request, p, "GetCaseFees", fpb.GetCaseFeesRequest(case_number=case_number))
    return render(request, "cashier_case.html", {
        "c": c, "status": FEE_CASE.get(c.status, ""), "names": FEE_NAMES, "yuan": yuan,
        "notice_status": NOTICE.get(c.notice.status, "") if c.HasField("notice") else "",
        "notice_names": NOTICE_NAMES}, p=p)


@router.post("/console/cashier/{case_number}/notice")
def issue_notice(request: Request, case_number: str, p: Staff, form: Posted):
    allow(p, Role.CASHIER)
    fees.call(request, p, "IssueNotice", fpb.IssueNoticeRequest(case_number=case_number))
    return RedirectResponse(f"/console/cashier/{case_number}", status_code=303)


@router.get("/console/cashier-report")
def cashier_report(p: Staff, day: str = Query(pattern=r"^\d{4}-\d{2}-\d{2}$"),
                   format: str = Query("csv", pattern="^(csv|pdf)$")):
    """The day's reconciliation, as the REST route gives it (CSV or PDF)."""
    allow(p, Role.CASHIER, Role.HEAD, Role.SUPERVISOR)
    return RedirectResponse(f"/api/v1/fees/reports/{day}/download?format={format}", status_code=303)


# -- the unit's working-day calendar (unit admin) -------------------------------------------------------
CHANGE_NAMES = {"proposed": "待批准", "approved": "已生效", "rejected": "已驳回", "withdrawn": "已撤回"}


@router.get("/console/calendar", response_class=HTMLResponse)
def calendar(request: Request, p: Staff):
    """The unit's local holidays: proposed by one admin, approved by another admin or the head (not the proposer:
    approval's rule), and the cases each moved."""
    allow(p, Role.TENANT_ADMIN, Role.HEAD, Role.SUPERVISOR)
    changes = approval.call(request, p, "ListCalendarChanges", apb.ListCalendarChangesRequest(limit=100)).changes
    return render(request, "calendar.html", {"changes": changes, "change": status_tokens(apb.CalendarChangeStatus),
                                             "names": CHANGE_NAMES}, p=p)


@router.post("/console/calendar")
def propose_holiday(request: Request, p: Staff, form: Posted):
    allow(p, Role.TENANT_ADMIN)
    approval.call(request, p, "ProposeLocalHoliday", apb.ProposeLocalHolidayRequest(
        day=form.get("day"), name=form.get("name"), reason=form.get("reason")))
    return RedirectResponse("/console/calendar", status_code=303)


@router.post("/console/calendar/{change_id}/approve")
def approve_holiday(request: Request, change_id: str, p: Staff, form: Posted):
    allow(p, Role.TENANT_ADMIN, Role.HEAD)
    approval.call(request, p, "ApproveLocalHoliday", apb.ApproveLocalHolidayRequest(change_id=change_id),
                  at_least=120.0)
    return RedirectResponse("/console/calendar", status_code=303)


# -- refunds (退费): the cashier asks, the head approves (not the one who asked; fees' rule) ------------------
REFUND = status_tokens(fpb.RefundStatus)
REFUND_NAMES = {"pending": "待审批", "approved": "已批准", "rejected": "不予批准"}


def fen_of(yuan_text: str) -> int:
    """元 as typed (20 / 20.5 / 20.00) → 分; what is no amount becomes 0 and the fee service refuses it by name."""
    try:
        value = Decimal(yuan_text.replace(",", "").strip())
    except InvalidOperation:
        return 0
    fen = value * 100
    return int(fen) if fen == fen.to_integral_value() else 0


@router.get("/console/refunds", response_class=HTMLResponse)
def refunds(request: Request, p: Staff, notice: str = Query("", max_length=64)):
    allow(p, Role.CASHIER, Role.HEAD)
    found = fees.call(request, p, "ListRefunds", fpb.ListRefundsRequest())
    return render(request, "refunds.html", {"refunds": found.refunds, "status": REFUND, "names": REFUND_NAMES,
                                            "yuan": yuan, "notice": notice}, p=p)


@router.post("/console/refunds")
def request_refund(request: Request, p: Staff, form: Posted):
    allow(p, Role.CASHIER)
    fees.call(request, p, "RequestRefund", fpb.RequestRefundRequest(
        notice_number=form.get("notice_number"), amount_fen=fen_of(form.get("amount")), reason=form.get("reason")))
    return RedirectResponse("/console/refunds", status_code=303)


@router.post("/console/refunds/{refund_id}/decide")
def decide_refund(request: Request, refund_id: str, p: Staff, form: Posted):
    allow(p, Role.HEAD)
    fees.call(request, p, "DecideRefund", fpb.DecideRefundRequest(
        refund_id=refund_id, approve=form.get("approve") == "1", note=form.get("note")))
    return RedirectResponse("/console/refunds", status_code=303)
