"""The village agent's pages (they work on a phone): the proxy requests with the resident's signed
authorisation (委托书), the submission upward, what to tell the resident; and the custody chain of the
originals, handed over by one unit and confirmed by the next (both sides sign).

The rules are the agency service's: these pages post what the person chose and show its answers.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sanji.agency.v1 import agency_pb2 as pb
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.intake.v1 import intake_pb2

from gateway.pages_kit import Posted, Staff, allow, render
from gateway.rest import status_tokens
from gateway.routes_agency import agency
from gateway.routes_catalogue import catalogue
from shared.tenancy import Role

router = APIRouter(include_in_schema=False)
PROXY = status_tokens(pb.ProxyRequestStatus)
HANDOVER = status_tokens(pb.HandOverStatus)
PROXY_NAMES = {"requested": "已登记", "assigned": "已指派代办员", "submitted": "已提交受理单位", "accepted": "已受理",
               "result_ready": "结果可领取", "delivered": "已送达", "closed": "已结束", "rejected": "不予受理"}
HANDOVER_NAMES = {"pending": "待接收", "received": "已接收"}
CUSTODY = (Role.AGENT, Role.WINDOW_CLERK, Role.TENANT_ADMIN)
GROUPS = {"none": "一般", "elderly": "老年人", "disabled": "残疾人", "youfu": "优抚对象", "dibao": "低保对象"}


@router.get("/console/agent", response_class=HTMLResponse)
def agent_home(request: Request, p: Staff, item: str = Query("", max_length=64)):
    allow(p, Role.AGENT)
    requests = agency.call(request, p, "ListProxyRequests", pb.ListProxyRequestsRequest(limit=100))
    listed = catalogue.call(request, p, "ListMyItems", cpb.ListMyItemsRequest(limit=200))
    proxyable = [it for it in listed.items if it.listing == cpb.LISTING_KIND_PROXY
                 and it.status == cpb.ITEM_STATUS_PUBLISHED]
    chosen = next((it for it in proxyable if it.id == item), None)
    return render(request, "agent.html", {"requests": requests.requests, "items": proxyable, "chosen": chosen,
                                          "proxy": PROXY, "names": PROXY_NAMES, "groups": GROUPS,
                                          "key": uuid.uuid4().hex}, p=p)


@router.post("/console/agent/requests")
def request_proxy(request: Request, p: Staff, form: Posted):
    allow(p, Role.AGENT)
    r = agency.call(request, p, "RequestProxy", pb.RequestProxyRequest(
        resident=pb.Resident(name=form.get("name"), id_number=form.get("id_number"), phone=form.get("phone"),
                             address=form.get("address")),
        special_group=form.get("special_group") or "none", door_to_door=form.get("door_to_door") == "1",
        item_id=form.get("item"), scenario_code=form.get("scenario"),
        authorisation=pb.Authorisation(signed_on=form.get("signed_on"), scope=form.get("scope"),
                                       document_ref=form.get("document_ref"), valid_until=form.get("valid_until")),
        idempotency_key=form.get("key") or uuid.uuid4().hex))
    if not r.agent:
        agency.call(request, p, "AssignAgent", pb.AssignAgentRequest(request_id=r.id))
    return RedirectResponse(f"/console/agent/requests/{r.id}", status_code=303)


@router.get("/console/agent/requests/{request_id}", response_class=HTMLResponse)
def proxy_request(request: Request, request_id: str, p: Staff):
    allow(p, Role.AGENT, Role.TENANT_ADMIN, Role.SUPERVISOR)
    r = agency.call(request, p, "GetProxyRequest", pb.GetProxyRequestRequest(request_id=request_id))
    materials = []
    try:
        it = catalogue.call(request, None, "GetPublicItem", cpb.GetPublicItemRequest(item_id=r.item_id))
        sc = next((s for s in it.elements.scenarios if s.code == r.scenario_code), None)
        materials = list(sc.materials) if sc else []
    except Exception:  # noqa: BLE001 - an item withdrawn since: the request's own record is shown
        materials = []
    chain = agency.call(request, p, "CustodyChain", pb.CustodyChainRequest(request_id=request_id)).handovers
    parent = str(p.tenant.parent) if p.tenant.parent else ""
    return render(request, "agent_request.html", {
        "r": r, "status": PROXY.get(r.status, ""), "names": PROXY_NAMES, "materials": materials, "chain": chain,
        "handover": HANDOVER, "handover_names": HANDOVER_NAMES, "parent": parent,
        # the forms of who may use them (agency's rules): the agent submits; the custody staff hand over; the
        # admin and the supervisor read
        "submits": p.has(Role.AGENT), "hands_over": any(p.has(r) for r in CUSTODY)}, p=p)


@router.post("/console/agent/requests/{request_id}/submit")
def submit_upward(request: Request, request_id: str, p: Staff, form: Posted):
    allow(p, Role.AGENT)
    materials = [intake_pb2.MaterialSubmission(code=c, supplied=True, note="代办点已收取原件")
                 for c in form.all("material")]
    agency.call(request, p, "SubmitUpward", pb.SubmitUpwardRequest(request_id=request_id, materials=materials))
    return RedirectResponse(f"/console/agent/requests/{request_id}", status_code=303)


@router.post("/console/handovers")
def hand_over(request: Request, p: Staff, form: Posted):
    """Hand the originals to the next unit up (pending until that unit confirms)."""
    allow(p, *CUSTODY)
    items = [pb.HandOverItem(description=d, copies=1) for d in form.all("item")]
    agency.call(request, p, "HandOver", pb.HandOverRequest(
        request_id=form.get("request_id"), application_id=form.get("application_id"),
        to_tenant=form.get("to_tenant"), items=items))
    back = form.get("back")
    return RedirectResponse(back if back.startswith("/console/") else "/console/handovers", status_code=303)


@router.get("/console/handovers", response_class=HTMLResponse)
def handovers(request: Request, p: Staff):
    allow(p, *CUSTODY)
    incoming = agency.call(request, p, "ListHandOvers", pb.ListHandOversRequest(direction="incoming")).handovers
    outgoing = agency.call(request, p, "ListHandOvers", pb.ListHandOversRequest(direction="outgoing")).handovers
    parent = str(p.tenant.parent) if p.tenant.parent else ""
    return render(request, "handovers.html", {"incoming": incoming, "outgoing": outgoing, "handover": HANDOVER,
                                              "names": HANDOVER_NAMES, "parent": parent}, p=p)


@router.post("/console/handovers/{handover_id}/confirm")
def confirm(request: Request, handover_id: str, p: Staff, form: Posted):
    allow(p, *CUSTODY)
    agency.call(request, p, "ConfirmReceipt", pb.ConfirmReceiptRequest(handover_id=handover_id, note=form.get("note")))
    return RedirectResponse("/console/handovers", status_code=303)
