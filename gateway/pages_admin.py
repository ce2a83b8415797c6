"""The unit admin's item page (issue 19): one item of the unit's catalogue with its elements, and the forms
over the catalogue's own calls — complete a draft (an imported draft is completed here) and publish it,
adjust a published item (a new version, with the reason), cancel it, delegate it to lower units, or list
it for 帮办代办 (proxy) or 代收 (collect). The elements are edited as the catalogue's JSON (the same body
the REST API takes); every rule — completeness, the code formats, who may delegate to whom — is the
catalogue's, and its refusals come back as the page's error naming the field.
"""

from __future__ import annotations

import base64
import binascii

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb
from sanji.fees.v1 import fees_pb2 as fpb

from gateway.pages_kit import Posted, Staff, Uploaded, allow, render
from gateway.rest import status_tokens
from gateway.routes_catalogue import catalogue, import_items
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


# -- the province's published list into the unit (事项清单导入), routed before the item page ------------------
IMPORT_OUTCOMES = {pb.IMPORT_OUTCOME_NEW: ("new", "新建草稿"), pb.IMPORT_OUTCOME_PRESENT: ("present", "已存在"),
                   pb.IMPORT_OUTCOME_REFUSED: ("refused", "拒绝")}


def _import_page(request: Request, p, *, report=None, content: bytes = b"", filename: str = "", error: str = "",
                 status: int = 200):
    return render(request, "catalogue_import.html", {
        "report": report, "outcomes": IMPORT_OUTCOMES, "error": error, "filename": filename,
        "content_b64": base64.b64encode(content).decode("ascii") if content else ""}, status=status, p=p)


def _import(request: Request, p, content: bytes, filename: str, confirm: bool):
    """The catalogue's ImportItems; a file it cannot read comes back to the form with the reason beside the
    file field (422), any other refusal is the error page."""
    try:
        return import_items(request, p, content, filename, confirm), None
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise
        return None, _import_page(request, p, error=exc.details(), status=422)
    except InvalidArgument as exc:
        return None, _import_page(request, p, error=exc.message, status=422)


@router.get("/console/catalogue/import", response_class=HTMLResponse)
def import_form(request: Request, p: Staff):
    """The unit admin (a county's, or a province's for its standard items) uploads the list the provincial
    portal publishes; each always goes into the admin's own unit."""
    allow(p, Role.TENANT_ADMIN)
    return _import_page(request, p)


@router.post("/console/catalogue/import", response_class=HTMLResponse)
def import_preview(request: Request, p: Staff, upload: Uploaded):
    """Step 1: the per-line report of what would be new, already held or refused (and why); nothing written."""
    allow(p, Role.TENANT_ADMIN)
    if not upload.content:
        return _import_page(request, p, error="请选择要导入的事项清单文件（CSV）", status=422)
    report, refused = _import(request, p, upload.content, upload.filename, confirm=False)
    if refused is not None:
        return refused
    return _import_page(request, p, report=report, content=upload.content, filename=upload.filename)


@router.post("/console/catalogue/import/confirm", response_class=HTMLResponse)
def import_confirm(request: Request, p: Staff, upload: Uploaded):
    """Step 2: the same file (carried by the preview's form) made into drafts; the catalogue plans it again, so
    what changed since the preview is reported as it is now."""
    allow(p, Role.TENANT_ADMIN)
    try:
        content = base64.b64decode(upload.form.get("content_b64"), validate=True)
    except (binascii.Error, ValueError):
        content = b""
    if not content:
        return _import_page(request, p, error="确认导入的表单缺少文件内容，请重新选择文件预览", status=422)
    report, refused = _import(request, p, content, upload.form.get("filename"), confirm=True)
    if refused is not None:
        return refused
    return _import_page(request, p, report=report, filename=upload.form.get("filename"))


# -- a new item from a form (新建事项), routed before the item page ------------------------------------------------
# What the form offers to choose from (GB/T 39046's code sets, as the catalogue names them); the catalogue decides
# what is valid and its refusal is shown beside the field it names.
ITEM_TYPE_CHOICES = {"01": "行政许可", "02": "行政处罚", "03": "行政强制", "04": "行政征收", "05": "行政给付",
                     "06": "行政检查", "07": "行政确认", "08": "行政奖励", "09": "行政裁决", "10": "其他行政权力",
                     "20": "公共服务"}
LEVEL_CHOICES = {"4": "县级", "5": "乡镇（街道）级", "6": "村（社区）级", "7": "分级行使"}
CASE_KIND_CHOICES = {"2": "承诺件", "1": "即办件"}
TARGET_CHOICES = {"natural_person": "自然人", "legal_person": "法人"}
MATERIAL_ROWS = 6          # rows of one 办理情形 on the form; more 情形 and materials on the item page (JSON)
NUMBER_FIELDS = {"statutory_limit_days": "法定办结时限", "promised_limit_days": "承诺办结时限"}


def _number(form, name: str, label: str, errors: dict[str, str]) -> int:
    raw = form.get(name)
    if not raw:
        return 0
    if not raw.isdigit() or len(raw) > 4:
        errors[name] = f"{label}应为不超过 4 位的非负整数（工作日）：{raw[:20]}"
        return 0
    return int(raw)


def new_item_elements(form) -> tuple[pb.ItemElements, dict[str, str]]:
    """The form's fields as the catalogue's elements (the names are the elements' own paths), and what could not
    even be read as a number, by field."""
    errors: dict[str, str] = {}
    el = pb.ItemElements(
        name=form.get("name"), basic_code=form.get("basic_code"), implementation_code=form.get("implementation_code"),
        item_type=form.get("item_type"), exercise_level=form.get("exercise_level"), case_kind=form.get("case_kind"),
        department=form.get("department"), legal_basis=form.get("legal_basis"),
        acceptance_conditions=form.get("acceptance_conditions"), targets=form.all("targets"),
        keywords=[k for k in form.get("keywords").replace("，", ",").replace("、", ",").split(",") if k.strip()],
        handling_place=form.get("handling_place"), consult_phone=form.get("consult_phone"), max_trips=1,
        **{name: _number(form, name, label, errors) for name, label in NUMBER_FIELDS.items()})
    scenario = pb.Scenario(code=form.get("scenarios[0].code"), name=form.get("scenarios[0].name"),
                           description=form.get("scenarios[0].description"))
    for j in range(MATERIAL_ROWS):
        f = f"scenarios[0].materials[{j}]"
        if not (form.get(f"{f}.code") or form.get(f"{f}.name")):
            continue
        m = pb.Material(code=form.get(f"{f}.code"), name=form.get(f"{f}.name"), core=form.get(f"{f}.core") == "1",
                        waivable=form.get(f"{f}.waivable") == "1", copies=1, form=form.get(f"{f}.form") or "原件",
                        makeup_days=_number(form, f"{f}.makeup_days", "补交时限", errors))
        scenario.materials.append(m)
    if scenario.code or scenario.name or scenario.materials:
        el.scenarios.append(scenario)
    return el, errors


def _new_item_page(request: Request, p, values: dict | None = None, errors: dict[str, str] | None = None,
                   status: int = 200):
    return render(request, "item_new.html", {
        "v": values or {"case_kind": "2", "exercise_level": "4", "targets": ["natural_person"], "item_type": "01"},
        "errors": errors or {}, "item_types": ITEM_TYPE_CHOICES, "levels": LEVEL_CHOICES,
        "case_kinds": CASE_KIND_CHOICES, "target_choices": TARGET_CHOICES, "rows": range(MATERIAL_ROWS)},
        status=status, p=p)


@router.get("/console/catalogue/new", response_class=HTMLResponse)
def new_item_form(request: Request, p: Staff):
    allow(p, Role.TENANT_ADMIN)
    return _new_item_page(request, p)


@router.post("/console/catalogue/new", response_class=HTMLResponse)
def create_item(request: Request, p: Staff, form: Posted):
    """The catalogue's CreateItem (a draft of the admin's unit): its refusal comes back beside the field it names
    (422, the form as filled in); a new draft goes to its item page to be published."""
    allow(p, Role.TENANT_ADMIN)
    values = {k: (form.all(k) if k == "targets" else form.get(k)) for k in form.data}
    elements, errors = new_item_elements(form)
    if errors:
        return _new_item_page(request, p, values, errors, status=422)
    try:
        item = catalogue.call(request, p, "CreateItem", pb.CreateItemRequest(elements=elements))
    except grpc.RpcError as exc:
        if exc.code() not in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ALREADY_EXISTS):
            raise
        from shared.grpc.server import FIELD_KEY

        named = dict(exc.trailing_metadata() or ()).get(FIELD_KEY, "") or ""
        field = named.removeprefix("elements.")
        field = "targets" if field.startswith("targets[") else field
        return _new_item_page(request, p, values, {field or "form": exc.details()}, status=422)
    return RedirectResponse(f"/console/catalogue/{item.id}", status_code=303)


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
