"""The complaint handler's and the supervisor's pages: the unit's complaints (take one on, report its
progress within 3 working days, reply within 7), and the supervision cards of the unit and below (黄牌、红牌)
with the deadline computation that raised each. The rules are the complaints and supervision services'."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sanji.complaints.v1 import complaints_pb2 as cpb
from sanji.supervision.v1 import supervision_pb2 as spb

from gateway.pages_kit import Posted, Staff, allow, render
from gateway.rest import status_tokens
from gateway.routes_complaints import complaints
from gateway.routes_supervision import supervision
from shared.tenancy import Role

router = APIRouter(include_in_schema=False)
HANDLERS = (Role.COMPLAINT_HANDLER, Role.SUPERVISOR, Role.HEAD)
TAKERS = (Role.COMPLAINT_HANDLER, Role.HEAD)        # who work a complaint here (the supervisor reads)
COMPLAINT = status_tokens(cpb.ComplaintStatus)
CARD = status_tokens(spb.CardStatus)
COMPLAINT_NAMES = {"received": "已登记，待指派", "assigned": "已指派专人", "progressing": "已报动态",
                   "replied": "已答复，待评价", "closed": "已办结", "escalated": "已提级"}
OUTCOMES = {"solved": "合理诉求已解决", "plan": "暂不具备条件，说明并计划解决", "policy": "不符合政策，解答政策"}
CHANNELS = {"phone": "电话", "in_person": "当面", "sms": "短信", "email": "电子邮件"}


@router.get("/console/complaints", response_class=HTMLResponse)
def complaint_list(request: Request, p: Staff):
    allow(p, *HANDLERS)
    found = complaints.call(request, p, "ListComplaints", cpb.ListComplaintsRequest(limit=100))
    return render(request, "complaints.html", {"complaints": found.complaints, "total": found.total,
                                               "status": COMPLAINT, "names": COMPLAINT_NAMES}, p=p)


@router.get("/console/complaints/{complaint_id}", response_class=HTMLResponse)
def complaint(request: Request, complaint_id: str, p: Staff):
    allow(p, *HANDLERS)
    c = complaints.call(request, p, "GetComplaint", cpb.GetComplaintRequest(complaint_id=complaint_id))
    return render(request, "complaint.html", {
        "c": c, "status": COMPLAINT.get(c.status, ""), "names": COMPLAINT_NAMES, "outcomes": OUTCOMES,
        "channels": CHANNELS,
        # the forms of who may use them (complaints' rules): a handler or the head takes a complaint on; the
        # assigned handler (专人) or the head reports on it and replies; the supervisor reads
        "takes": any(p.has(r) for r in TAKERS),
        "works": p.has(Role.HEAD) or (p.has(Role.COMPLAINT_HANDLER) and c.handler == p.username)}, p=p)


def _back(complaint_id: str) -> RedirectResponse:
    return RedirectResponse(f"/console/complaints/{complaint_id}", status_code=303)


@router.post("/console/complaints/{complaint_id}/assign")
def take_on(request: Request, complaint_id: str, p: Staff, form: Posted):
    allow(p, *TAKERS)
    complaints.call(request, p, "AssignHandler", cpb.AssignHandlerRequest(complaint_id=complaint_id))
    return _back(complaint_id)


@router.post("/console/complaints/{complaint_id}/progress")
def progress(request: Request, complaint_id: str, p: Staff, form: Posted):
    allow(p, *TAKERS)
    complaints.call(request, p, "ReportProgress",
                    cpb.ReportProgressRequest(complaint_id=complaint_id, text=form.get("text")))
    return _back(complaint_id)


@router.post("/console/complaints/{complaint_id}/reply")
def reply(request: Request, complaint_id: str, p: Staff, form: Posted):
    allow(p, *TAKERS)
    complaints.call(request, p, "Reply", cpb.ReplyRequest(
        complaint_id=complaint_id, outcome=form.get("outcome"), channel=form.get("channel"), text=form.get("text")))
    return _back(complaint_id)


@router.get("/console/supervision", response_class=HTMLResponse)
def cards(request: Request, p: Staff, severity: str = Query("", pattern="^(yellow|red)?$")):
    allow(p, Role.SUPERVISOR)
    found = supervision.call(request, p, "ListCards", spb.ListCardsRequest(severity=severity, limit=100))
    return render(request, "cards.html", {"cards": found.cards, "total": found.total, "card_status": CARD,
                                          "severity": severity}, p=p)
