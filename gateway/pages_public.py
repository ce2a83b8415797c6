"""Public pages without login (they work on a phone): the fee catalogue with each fee's basis and the
supervision channel; the complaint form (吐槽找茬) and its follow-up; the rating page the QR code on a
notice opens (一事一评); the unit's public scorecard. The guide search is the home page (gateway/pages.py);
the progress page is intake's (gateway/routes_intake.py).

The forms here carry no session (nobody is logged in), so there is nothing for a forged form to borrow; the
services check every field (their 422 names it) and the gateway limits each address's budget.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

import grpc
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sanji.complaints.v1 import complaints_pb2 as cpb
from sanji.fees.v1 import fees_pb2 as fpb
from sanji.supervision.v1 import supervision_pb2 as spb

from gateway.pages_kit import FORM_MAX_BYTES, Form, render
from gateway.rest import status_tokens
from gateway.routes_complaints import complaints
from gateway.routes_fees import fees
from gateway.routes_supervision import supervision
from shared.errors import InvalidArgument

router = APIRouter(include_in_schema=False)
COMPLAINT = status_tokens(cpb.ComplaintStatus)
LEVELS = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}
SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}


def yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}"


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


async def public_form(request: Request) -> Form:
    raw = await request.body()
    if len(raw) > FORM_MAX_BYTES:
        raise InvalidArgument("body", "表单内容过长")
    return Form(parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=100))


PublicForm = Annotated[Form, Depends(public_form)]


def _refused(exc: grpc.RpcError) -> str:
    """What a service said was wrong with the form (its Chinese message), to show beside the form."""
    if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                      grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED,
                      grpc.StatusCode.ALREADY_EXISTS):
        return exc.details() or "提交的内容不正确"
    raise exc


@router.get("/fees", response_class=HTMLResponse)
def fee_catalogue(request: Request, region: str = Query("", max_length=12, pattern=r"^\d*$")):
    items = fees.call(request, None, "ListPublicFeeItems", fpb.ListPublicFeeItemsRequest(region=region)).items
    return render(request, "fees.html", {"items": items, "region": region, "yuan": yuan})


# -- complaints (吐槽找茬) ---------------------------------------------------------------------------------
def _complaint_form(request: Request, values: dict, error: str = "", status: int = 200):
    categories = complaints.call(request, None, "ListCategories", cpb.ListCategoriesRequest()).categories
    return render(request, "complaint_new.html", {"categories": categories, "v": values, "error": error},
                  status=status)


@router.get("/complaints/new", response_class=HTMLResponse)
def complaint_new(request: Request, case: str = Query("", max_length=64), category: str = Query("", max_length=40)):
    return _complaint_form(request, {"case_number": case, "category": category})


@router.post("/complaints/new", response_class=HTMLResponse)
def complaint_file(request: Request, form: PublicForm):
    v = {k: form.get(k) for k in ("kind", "category", "content", "case_number", "unit", "window", "name", "phone",
                                  "anonymous")}
    anonymous = v["kind"] == "report" and v["anonymous"] == "1"
    try:
        receipt = complaints.call(request, None, "FilePublicComplaint", cpb.FilePublicComplaintRequest(
            kind=v["kind"] or "complaint", category=v["category"], content=v["content"],
            subject=cpb.Subject(tenant=v["unit"], case_number=v["case_number"], window=v["window"]),
            complainant=cpb.Complainant(name="" if anonymous else v["name"], phone="" if anonymous else v["phone"],
                                        anonymous=anonymous)))
    except grpc.RpcError as exc:
        return _complaint_form(request, v, _refused(exc), status=422)
    return render(request, "complaint_receipt.html", {"r": receipt})


@router.get("/complaints/follow", response_class=HTMLResponse)
def complaint_follow_page(request: Request, number: str = Query("", max_length=40)):
    return render(request, "complaint_follow.html", {"number": number, "view": None, "error": ""})


@router.post("/complaints/follow", response_class=HTMLResponse)
def complaint_follow(request: Request, form: PublicForm):
    number, last4 = form.get("number"), form.get("phone_last4")
    view, error = None, ""
    try:
        if form.get("satisfaction"):
            view = complaints.call(request, None, "RateComplaintHandling", cpb.RateComplaintHandlingRequest(
                number=number, phone_last4=last4, satisfaction=form.get("satisfaction"), comment=form.get("comment")))
        else:
            view = complaints.call(request, None, "FollowComplaint",
                                   cpb.FollowComplaintRequest(number=number, phone_last4=last4))
    except grpc.RpcError as exc:
        error = _refused(exc)
    return render(request, "complaint_follow.html", {
        "number": number, "last4": last4, "view": view, "error": error, "satisfaction": SATISFACTION,
        "status": COMPLAINT.get(view.status, "") if view else ""}, status=422 if error else 200)


# -- 一事一评: the QR code on a notice opens this page with the case number ---------------------------------
@router.get("/rate", response_class=HTMLResponse)
def rate_page(request: Request, case: str = Query("", max_length=64)):
    return render(request, "rate.html", {"v": {"case_number": case}, "levels": LEVELS, "done": None, "error": ""})


@router.post("/rate", response_class=HTMLResponse)
def rate(request: Request, form: PublicForm):
    v = {k: form.get(k) for k in ("case_number", "id_suffix", "level", "text", "rater_name", "phone")}
    try:
        level = int(v["level"] or 0)
    except ValueError:
        level = 0
    done, error = None, ""
    try:
        done = complaints.call(request, None, "RateCase", cpb.RateCaseRequest(
            case_number=v["case_number"], id_suffix=v["id_suffix"], level=level, text=v["text"],
            rater_name=v["rater_name"], phone=v["phone"]))
    except grpc.RpcError as exc:
        error = _refused(exc)
    return render(request, "rate.html", {"v": v, "levels": LEVELS, "done": done, "error": error},
                  status=422 if error else 200)


# -- 晒成绩单 ---------------------------------------------------------------------------------------------
@router.get("/scorecard/{unit}", response_class=HTMLResponse)
def scorecard(request: Request, unit: str, month: str = Query("", pattern=r"^(\d{4}-\d{2})?$")):
    card = supervision.call(request, None, "GetScorecard", spb.GetScorecardRequest(unit=unit, month=month))
    return render(request, "scorecard.html", {"card": card, "pct": pct, "yuan": yuan})
