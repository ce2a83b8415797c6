"""The unit admin's item page (issue 19): one item of the unit's catalogue with its elements, and the forms
over the catalogue's own calls — complete a draft (an imported draft is completed here) and publish it,
adjust a published item (a new version, with the reason), cancel it, delegate it to lower units, or list
it for 帮办代办 (proxy) or 代收 (collect). The elements are edited as the catalogue's JSON (the same body
the REST API takes); every rule — completeness, the code formats, who may delegate to whom — is the
catalogue's, and its refusals come back as the page's error naming the field.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb
from sanji.fees.v1 import fees_pb2 as fpb

from gateway.pages_kit import Posted, Staff, allow, render
from gateway.rest import status_tokens
from gateway.routes_catalogue import catalogue
from gateway.routes_fees import fees
from shared.errors import InvalidArgument
from shared.tenancy import Role

router = APIRouter(include_in_schema=False)
ITEM_STATUS = status_tokens(pb.ItemStatus)
STATUS_NAMES = {"draft": "草稿", "published": "已发布", "superseded": "已替代", "cancelled": "已取消"}
LISTING_NAMES = {pb.LISTING_KIND_OWN: "本单位", pb.LISTING_KIND_DELEGATED: "上级下放", pb.LISTING_KIND_PROXY: "代办",
                 pb.LISTING_KIND_COLLECT: "代收"}
DELEGATE_KINDS = {"delegated": (pb.LISTING_KIND_DELEGATED, "下放（由下级单位办理）"),
                  "proxy": (pb.LISTING_KIND_PROXY, "帮办代办（下级代为收件、转交本单位办理）"),
                  "collect": (pb.LISTING_KIND_COLLECT, "代收（下级窗口收件，本单位受理）")}


def elements_json(elements: pb.ItemElements) -> str:
    return json_format.MessageToJson(elements, preserving_proto_field_name=True, indent=2, ensure_ascii=False)


def elements_of(text: str) -> pb.ItemElements:
    """The elements as posted (the catalogue's JSON); what is not that JSON is refused naming the field."""
    try:
        return json_format.Parse(text or "{}", pb.ItemElements())
    except json_format.ParseError as exc:
        raise InvalidArgument("elements", f"事项要素不是有效的 JSON：{exc}") from None


def _back(item_id: str) -> RedirectResponse:
    return RedirectResponse(f"/console/catalogue/{item_id}", status_code=303)


@router.get("/console/catalogue/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: str, p: Staff):
    allow(p, Role.TENANT_ADMIN)
    item = catalogue.call(request, p, "GetItem", pb.GetItemRequest(item_id=item_id))
    versions = catalogue.call(request, p, "ListItemVersions", pb.ListItemVersionsRequest(item_id=item_id))
    return render(request, "item_admin.html", {
        "item": item, "status": ITEM_STATUS.get(item.status, ""), "status_names": STATUS_NAMES,
        "item_status": ITEM_STATUS, "listing": LISTING_NAMES.get(item.listing, ""), "versions": versions.versions,
        "elements": elements_json(item.elements), "kinds": DELEGATE_KINDS}, p=p)


@router.post("/console/catalogue/{item_id}/draft")
def save_draft(request: Request, item_id: str, p: Staff, form: Posted):
    """Complete (or correct) a draft; publishing is a separate step the catalogue checks for completeness."""
    allow(p, Role.TENANT_ADMIN)
    catalogue.call(request, p, "UpdateDraft", pb.UpdateDraftRequest(item_id=item_id,
                                                                    elements=elements_of(form.get("elements"))))
    return _back(item_id)


@router.post("/console/catalogue/{item_id}/adjust")
def adjust(request: Request, item_id: str, p: Staff, form: Posted):
    allow(p, Role.TENANT_ADMIN)
    catalogue.call(request, p, "AdjustItem", pb.AdjustItemRequest(
        item_id=item_id, elements=elements_of(form.get("elements")), reason=form.get("reason")))
    return _back(item_id)


@router.post("/console/catalogue/{item_id}/cancel")
def cancel(request: Request, item_id: str, p: Staff, form: Posted):
    allow(p, Role.TENANT_ADMIN)
    catalogue.call(request, p, "CancelItem", pb.CancelItemRequest(item_id=item_id, reason=form.get("reason")))
    return _back(item_id)


@router.post("/console/catalogue/{item_id}/delegate")
def delegate(request: Request, item_id: str, p: Staff, form: Posted):
    allow(p, Role.TENANT_ADMIN)
    kind = DELEGATE_KINDS.get(form.get("kind"), (pb.LISTING_KIND_UNSPECIFIED, ""))[0]
    targets = [t.strip() for t in form.get("targets").replace("，", ",").replace("\n", ",").split(",") if t.strip()]
    catalogue.call(request, p, "DelegateItem", pb.DelegateItemRequest(item_id=item_id, target_tenants=targets,
                                                                      kind=kind, reason=form.get("reason")))
    return _back(item_id)


# -- the fee catalogue (收费目录) -------------------------------------------------------------------------
FEE_ITEM_STATUS = status_tokens(fpb.FeeItemStatus)
FEE_TEMPLATE = fpb.FeeDefinition(
    fee_code="", name="", basis="", collecting_unit="", category="行政事业性收费",
    standard=fpb.Standard(kind=fpb.STANDARD_KIND_FIXED, amount_fen=0, text=""))


def definition_of(text: str) -> fpb.FeeDefinition:
    try:
        return json_format.Parse(text or "{}", fpb.FeeDefinition())
    except json_format.ParseError as exc:
        raise InvalidArgument("definition", f"收费项目定义不是有效的 JSON：{exc}") from None


def definition_json(d: fpb.FeeDefinition) -> str:
    return json_format.MessageToJson(d, preserving_proto_field_name=True, indent=2, ensure_ascii=False,
                                     always_print_fields_with_no_presence=True)


@router.get("/console/fees", response_class=HTMLResponse)
def fee_catalogue(request: Request, p: Staff):
    allow(p, Role.TENANT_ADMIN)
    found = fees.call(request, p, "ListFeeItems", fpb.ListFeeItemsRequest(include_drafts=True))
    return render(request, "fee_items.html", {
        "items": found.items, "status": FEE_ITEM_STATUS, "names": STATUS_NAMES,
        "definitions": {i.id: definition_json(i.definition) for i in found.items},
        "template": definition_json(FEE_TEMPLATE)}, p=p)


@router.post("/console/fees")
def create_fee_item(request: Request, p: Staff, form: Posted):
    allow(p, Role.TENANT_ADMIN)
    fees.call(request, p, "CreateFeeItem", fpb.CreateFeeItemRequest(definition=definition_of(form.get("definition"))))
    return RedirectResponse("/console/fees", status_code=303)


@router.post("/console/fees/{fee_item_id}/publish")
def publish_fee_item(request: Request, fee_item_id: str, p: Staff, form: Posted):
    allow(p, Role.TENANT_ADMIN)
    fees.call(request, p, "PublishFeeItem", fpb.PublishFeeItemRequest(fee_item_id=fee_item_id))
    return RedirectResponse("/console/fees", status_code=303)


@router.post("/console/fees/{fee_item_id}/adjust")
def adjust_fee_item(request: Request, fee_item_id: str, p: Staff, form: Posted):
    allow(p, Role.TENANT_ADMIN)
    fees.call(request, p, "AdjustFeeItem", fpb.AdjustFeeItemRequest(
        fee_item_id=fee_item_id, definition=definition_of(form.get("definition")), reason=form.get("reason")))
    return RedirectResponse("/console/fees", status_code=303)


@router.post("/console/fees/{fee_item_id}/cancel")
def cancel_fee_item(request: Request, fee_item_id: str, p: Staff, form: Posted):
    allow(p, Role.TENANT_ADMIN)
    fees.call(request, p, "CancelFeeItem", fpb.CancelFeeItemRequest(fee_item_id=fee_item_id,
                                                                    reason=form.get("reason")))
    return RedirectResponse("/console/fees", status_code=303)
