"""The 综合受理 window (county and township centres): find the item, pick the 办理情形, the applicant by ID
number (prefilled from the unit's records), the materials checklist (core and waivable), then accept,
one-time correction (补正), 不予受理 or 容缺; the notice PDF at once; the hand-out (出件); the day's list.

Keyboard first: every page puts the focus where the clerk types next (autofocus), Enter submits, the
menus have access keys. The rules are intake's: the page posts what the clerk chose and shows the answer.
"""

from __future__ import annotations

import uuid

import grpc
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.intake.v1 import intake_pb2 as pb

from gateway.pages_kit import CONSOLE_MAX_OFFSET, CONSOLE_PAGE, Posted, Staff, allow, capped, pager, render
from gateway.rest import status_tokens
from gateway.routes_catalogue import catalogue
from gateway.routes_intake import intake
from shared.tenancy import Role

router = APIRouter(include_in_schema=False)
# who works the window: intake takes in, accepts, asks for corrections, refuses and hands out for the window clerk
# only (its submit and `_decide`); a chief representative without that role reads the window's list and its
# applications and confirms the refusals the window proposes, and is offered no form intake would refuse
WINDOW = (Role.WINDOW_CLERK,)
READERS = (Role.WINDOW_CLERK, Role.CHIEF_REPRESENTATIVE)
STATUS_NAMES = {"received": "已收件，待受理", "correction": "补正中", "accepted": "已受理", "rejected": "不予受理",
                "terminated": "终止办理", "completed": "已办结，待出件", "picked_up": "已出件"}
STATUS_TAG = {"accepted": "ok", "completed": "ok", "picked_up": "ok", "rejected": "bad", "terminated": "bad",
              "received": "warn", "correction": "warn"}
TOKENS = status_tokens(pb.ApplicationStatus)
HANDLED = (cpb.LISTING_KIND_OWN, cpb.LISTING_KIND_DELEGATED)


# what the window's list counts as waiting on it: a decision on receipt, a correction, a hand-out
WAITING = (pb.APPLICATION_STATUS_RECEIVED, pb.APPLICATION_STATUS_CORRECTION, pb.APPLICATION_STATUS_COMPLETED)


def status_of(app: pb.Application) -> str:
    return TOKENS.get(app.status, "")


def _scenario(item: cpb.Item, code: str) -> cpb.Scenario | None:
    return next((s for s in item.elements.scenarios if s.code == code), None)


@router.get("/console/window", response_class=HTMLResponse)
def window(request: Request, p: Staff, q: str = Query("", max_length=100)):
    """Find the item by name, keyword or code (the unit's published list: its own and the delegated)."""
    allow(p, *WINDOW)
    items = None
    if q.strip():
        found = catalogue.call(request, p, "ListMyItems", cpb.ListMyItemsRequest(query=q.strip(), limit=50))
        items = [it for it in found.items if it.listing in HANDLED and it.status == cpb.ITEM_STATUS_PUBLISHED]
    return render(request, "window_search.html", {"q": q, "items": items}, p=p)


@router.get("/console/window/new", response_class=HTMLResponse)
def new_application(request: Request, p: Staff, item: str = Query(max_length=64),
                    scenario: str = Query("", max_length=64)):
    """The item's 办理情形 to pick, then the applicant and the materials checklist of that 情形."""
    allow(p, *WINDOW)
    it = catalogue.call(request, None, "GetPublicItem", cpb.GetPublicItemRequest(item_id=item))
    sc = _scenario(it, scenario) if scenario else None
    if sc is None and len(it.elements.scenarios) == 1:
        sc = it.elements.scenarios[0]
    return render(request, "window_new.html", {"item": it, "scenario": sc, "key": uuid.uuid4().hex}, p=p)


@router.get("/console/window/applicant", response_class=HTMLResponse)
def applicant_fields(request: Request, p: Staff, id_number: str = Query("", max_length=32)):
    """The applicant's other fields, prefilled from the unit's records (htmx swaps them in)."""
    allow(p, *WINDOW)
    known = None
    if len(id_number.strip()) == 18:
        try:
            known = intake.call(request, p, "GetApplicantProfile",
                                pb.GetApplicantProfileRequest(id_number=id_number.strip()))
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise
            known = None     # someone new to this unit (or a number still being typed): the clerk fills in
    return render(request, "_applicant.html", {"a": known}, p=p)


@router.post("/console/window/new")
def submit(request: Request, p: Staff, form: Posted):
    allow(p, *WINDOW)
    kind = form.get("kind") or "natural_person"
    applicant = pb.Applicant(
        kind=kind, id_type="uscc" if kind == "legal_person" else "resident_id", id_number=form.get("id_number"),
        name=form.get("name"), phone=form.get("phone"), address=form.get("address"),
        organisation=form.get("organisation"))
    materials = [pb.MaterialSubmission(code=c, supplied=True, note=form.get(f"note_{c}")) for c in form.all("material")]
    app = intake.call(request, p, "SubmitApplication", pb.SubmitApplicationRequest(
        idempotency_key=form.get("key") or uuid.uuid4().hex, item_id=form.get("item"),
        scenario_code=form.get("scenario"), channel=pb.CHANNEL_WINDOW, applicant=applicant, materials=materials))
    return RedirectResponse(f"/console/window/app/{app.id}", status_code=303)


def _checklist(request: Request, app: pb.Application) -> list[dict]:
    """The 情形's materials with what was supplied, what is waived and what is still asked for."""
    try:
        it = catalogue.call(request, None, "GetPublicItem", cpb.GetPublicItemRequest(item_id=app.item_id))
    except Exception:  # noqa: BLE001 - an item cancelled since: the application's own record is shown
        it = None
    sc = _scenario(it, app.scenario_code) if it is not None else None
    supplied = {m.code: m for m in app.materials if m.supplied}
    waived = {w.material_code: w.promised_by for w in app.waived}
    asked = {c.material_code: c.problem for c in app.open_corrections}
    rows = []
    for m in (sc.materials if sc else []):
        rows.append({"code": m.code, "name": m.name, "core": m.core, "waivable": m.waivable, "copies": m.copies,
                     "form": m.form, "supplied": m.code in supplied, "waived": waived.get(m.code, ""),
                     "asked": asked.get(m.code), "makeup_days": m.makeup_days})
    return rows


@router.get("/console/window/app/{application_id}", response_class=HTMLResponse)
def application(request: Request, application_id: str, p: Staff, notice: str = Query("", max_length=64)):
    allow(p, *READERS, Role.HEAD, Role.TENANT_ADMIN, Role.SUPERVISOR)
    app = intake.call(request, p, "GetApplication", pb.GetApplicationRequest(application_id=application_id))
    rows = _checklist(request, app)
    status = status_of(app)
    printed = next((n for n in app.notices if n.id == notice), None)
    return render(request, "window_app.html", {
        "app": app, "rows": rows, "status": status, "status_name": STATUS_NAMES.get(status, status),
        "tag": STATUS_TAG.get(status, ""), "printed": printed,
        "confirms": p.has(Role.CHIEF_REPRESENTATIVE) or p.has(Role.HEAD),
        # the window's own work (受理, 补正, 不予受理, 补交, 出件) is the window clerk's in intake: the head, the
        # admin and the supervisor who open the application read it, with no form that would be refused
        "acts": p.has(Role.WINDOW_CLERK),
        "missing": [r for r in rows if not r["supplied"]],
        "core_missing": [r for r in rows if not r["supplied"] and r["core"]]}, p=p)


def _latest_notice(app: pb.Application, kind: str) -> str:
    notices = [n for n in app.notices if n.kind == kind] or list(app.notices)
    return notices[-1].id if notices else ""


def _after(app: pb.Application, kind: str) -> RedirectResponse:
    """Back to the application with the notice just issued up front (to print at once)."""
    notice = _latest_notice(app, kind)
    return RedirectResponse(f"/console/window/app/{app.id}" + (f"?notice={notice}" if notice else ""),
                            status_code=303)


@router.post("/console/window/app/{application_id}/accept")
def accept(request: Request, application_id: str, p: Staff, form: Posted):
    allow(p, *WINDOW)
    waived = [pb.WaivedMaterial(material_code=c, promised_by=form.get(f"promised_{c}"))
              for c in form.all("waive")]
    app = intake.call(request, p, "AcceptApplication", pb.AcceptApplicationRequest(
        application_id=application_id, waived=waived, note=form.get("note")))
    return _after(app, "acceptance")


@router.post("/console/window/app/{application_id}/correction")
def correction(request: Request, application_id: str, p: Staff, form: Posted):
    allow(p, *WINDOW)
    items = [pb.CorrectionItem(material_code=c, problem=form.get(f"problem_{c}") or "缺少")
             for c in form.all("correct")]
    app = intake.call(request, p, "RequestCorrection",
                      pb.RequestCorrectionRequest(application_id=application_id, items=items))
    return _after(app, "correction")


@router.post("/console/window/app/{application_id}/supply")
def supply(request: Request, application_id: str, p: Staff, form: Posted):
    allow(p, *WINDOW)
    materials = [pb.MaterialSubmission(code=c, supplied=True) for c in form.all("material")]
    intake.call(request, p, "SupplyMaterials",
                pb.SupplyMaterialsRequest(application_id=application_id, materials=materials))
    return RedirectResponse(f"/console/window/app/{application_id}", status_code=303)


@router.post("/console/window/app/{application_id}/reject")
def reject(request: Request, application_id: str, p: Staff, form: Posted):
    allow(p, *WINDOW)
    app = intake.call(request, p, "RejectApplication", pb.RejectApplicationRequest(
        application_id=application_id, reason=form.get("reason"), legal_basis=form.get("legal_basis")))
    return _after(app, "rejection")


@router.post("/console/window/app/{application_id}/reject/confirm")
def confirm_rejection(request: Request, application_id: str, p: Staff, form: Posted):
    """The chief representative or the head confirms (or overrules) a refusal the window proposed."""
    allow(p, Role.CHIEF_REPRESENTATIVE, Role.HEAD)
    app = intake.call(request, p, "ConfirmRejection", pb.ConfirmRejectionRequest(
        application_id=application_id, confirm=form.get("confirm") == "1", note=form.get("note")))
    return _after(app, "rejection")


@router.post("/console/window/app/{application_id}/pickup")
def pickup(request: Request, application_id: str, p: Staff, form: Posted):
    allow(p, *WINDOW)
    intake.call(request, p, "RecordPickup", pb.RecordPickupRequest(
        application_id=application_id, picked_up_by=form.get("picked_up_by"), id_number=form.get("id_number"),
        channel=form.get("channel") or "window", what=form.get("what"), tracking_number=form.get("tracking_number")))
    return RedirectResponse(f"/console/window/app/{application_id}", status_code=303)


@router.get("/console/window/today", response_class=HTMLResponse)
def today(request: Request, p: Staff, status: str = Query("", pattern="^(" + "|".join(STATUS_NAMES) + ")?$"),
          offset: int = Query(0, ge=0, le=CONSOLE_MAX_OFFSET)):
    """The window's list, newest first, a page at a time, and what is waiting on it (a decision, a correction, a
    hand-out)."""
    allow(p, *READERS, Role.HEAD, Role.TENANT_ADMIN)
    number = {t: n for n, t in TOKENS.items()}.get(status, 0)
    apps = intake.call(request, p, "ListApplications", pb.ListApplicationsRequest(status=number, limit=CONSOLE_PAGE,
                                                                                offset=offset))
    rows = [{"app": a, "status": status_of(a), "name": STATUS_NAMES.get(status_of(a), ""),
             "tag": STATUS_TAG.get(status_of(a), "")} for a in apps.applications]
    # what the window waits on, counted over its whole list, not the page: a year holds far more rows than a page,
    # and a correction or a result waiting since last month is still waiting
    counted = intake.call(request, p, "CountApplications", pb.CountApplicationsRequest(statuses=WAITING))
    waiting = {TOKENS[c.status]: capped(c.count, c.capped) for c in counted.counts}
    return render(request, "window_today.html", {
        "rows": rows, "status": status, "waiting": waiting, "names": STATUS_NAMES,
        "pager": pager(request, offset, len(rows), apps.total, apps.total_capped)}, p=p)
