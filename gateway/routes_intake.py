"""REST edge of the intake (一窗受理): the window clerk receives applications and decides on them
(受理 / 补正 / 不予受理, 容缺), hands out results, prints notices; the public looks up progress by
case number and the query code on the notices (or the applicant's full ID number), without logging in.

Types are checked here (422 naming the field); the rules are the intake service's (also 422 naming
the field). The caller's token travels with each call, so the service checks the same person again.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qs

import grpc
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import Field
from sanji.intake.v1 import intake_pb2 as pb
from sanji.intake.v1 import intake_pb2_grpc
from starlette.concurrency import run_in_threadpool

from gateway.edge import User
from gateway.rest import Backend, Strict, file_response, to_json

router = APIRouter(tags=["一窗受理"])
intake = Backend("intake", intake_pb2_grpc.IntakeServiceStub)

STATUS = {"received": pb.APPLICATION_STATUS_RECEIVED, "correction": pb.APPLICATION_STATUS_CORRECTION,
          "accepted": pb.APPLICATION_STATUS_ACCEPTED, "rejected": pb.APPLICATION_STATUS_REJECTED,
          "terminated": pb.APPLICATION_STATUS_TERMINATED, "completed": pb.APPLICATION_STATUS_COMPLETED,
          "picked_up": pb.APPLICATION_STATUS_PICKED_UP}
STATUS_PATTERN = "^(" + "|".join(STATUS) + ")$"
CHANNEL = {"window": pb.CHANNEL_WINDOW, "pc": pb.CHANNEL_PC, "mobile": pb.CHANNEL_MOBILE, "post": pb.CHANNEL_POST}


class ApplicantIn(Strict):
    """申请人：留空的项目按本单位已有记录自动填写（表单只填一次）。"""

    id_number: str = Field(max_length=32, description="居民身份证号码或统一社会信用代码（18 位）")
    kind: Literal["", "natural_person", "legal_person"] = ""
    name: str = Field("", max_length=100)
    id_type: Literal["", "resident_id", "uscc"] = ""
    phone: str = Field("", max_length=20)
    address: str = Field("", max_length=200)
    organisation: str = Field("", max_length=100, description="法人：法定代表人或经办人")
    dishonest: bool = Field(False, description="失信被执行人（来自信用名单；不适用容缺受理）")


class MaterialIn(Strict):
    code: str = Field(max_length=64, description="办理情形的材料编码（列出即表示已收取）")
    note: str = Field("", max_length=500, description="如“原件已核验”")


class SubmitIn(Strict):
    idempotency_key: str = Field(max_length=128, description="幂等键：重复提交同一键返回同一申请")
    item_id: str = Field(max_length=64)
    item_version: int = Field(0, ge=0, description="0：现行版本")
    scenario_code: str = Field(max_length=64, description="办理情形")
    channel: Literal["window", "pc", "mobile", "post"] = "window"
    applicant: ApplicantIn
    materials: list[MaterialIn] = Field(default_factory=list, max_length=200)
    form: dict[str, str] = Field(default_factory=dict)


class WaivedIn(Strict):
    material_code: str = Field(max_length=64)
    promised_by: str = Field(max_length=10, description="承诺补交日期 YYYY-MM-DD")


class AcceptIn(Strict):
    waived: list[WaivedIn] = Field(default_factory=list, max_length=100, description="容缺受理的材料及承诺补交日期")
    note: str = Field("", max_length=500)
    government_invested: bool = Field(False, description="政府投资项目（仅事项要求询问时；有上下限的收费按下限征收）")
    key_construction_project: bool = Field(False, description="重点建设项目（仅事项要求询问时；收费从低）")
    idempotency_key: str = Field("", max_length=128,
                                 description="幂等键：答复丢失后以同一键重试，返回已作出的受理，不重复受理")


class CorrectionItemIn(Strict):
    material_code: str = Field(max_length=64)
    problem: str = Field("", max_length=500, description="缺少 / 不符合要求：……")


class CorrectionIn(Strict):
    items: list[CorrectionItemIn] = Field(max_length=200, description="需要补正的全部材料（一次性告知）")


class SupplyIn(Strict):
    materials: list[MaterialIn] = Field(max_length=200)


class RejectIn(Strict):
    reason: str = Field(max_length=1000, description="不予受理的理由")
    legal_basis: str = Field("", max_length=1000, description="依据（默认《中华人民共和国行政许可法》第三十二条）")


class ConfirmRejectionIn(Strict):
    confirm: bool = Field(description="true 确认不予受理（生效并出具通知书）；false 不同意，申请留在窗口继续办理")
    note: str = Field("", max_length=500, description="确认或不同意的意见")


class PickupIn(Strict):
    picked_up_by: str = Field(max_length=100, description="领取人姓名")
    id_number: str = Field(max_length=32, description="领取人居民身份证号码")
    channel: Literal["window", "post", "village"] = "window"
    what: str = Field("", max_length=200, description="领取内容，如证照、批文")
    tracking_number: str = Field("", max_length=64, description="邮寄送达的邮件单号")


def _materials(items: list[MaterialIn]) -> list[pb.MaterialSubmission]:
    return [pb.MaterialSubmission(code=m.code, note=m.note, supplied=True) for m in items]


# -- the window clerk -------------------------------------------------------------------------------
@router.post("/api/v1/intake/applications", summary="收件（窗口、网上、邮寄）", status_code=201)
def submit(body: SubmitIn, request: Request, p: User):
    a = body.applicant
    msg = pb.SubmitApplicationRequest(
        idempotency_key=body.idempotency_key, item_id=body.item_id, item_version=body.item_version,
        scenario_code=body.scenario_code, channel=CHANNEL[body.channel],
        applicant=pb.Applicant(kind=a.kind, name=a.name, id_type=a.id_type, id_number=a.id_number, phone=a.phone,
                               address=a.address, organisation=a.organisation, dishonest=a.dishonest),
        materials=_materials(body.materials), form=body.form)
    return to_json(intake.call(request, p, "SubmitApplication", msg))


@router.get("/api/v1/intake/applications", summary="本单位办件（监察员可查看下级单位）")
def list_applications(request: Request, p: User, status: str | None = Query(None, pattern=STATUS_PATTERN),
                      subtree: bool = False, limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)):
    msg = pb.ListApplicationsRequest(status=STATUS[status] if status else 0, subtree=subtree, limit=limit,
                                     offset=offset)
    return to_json(intake.call(request, p, "ListApplications", msg))


@router.get("/api/v1/intake/applications/{application_id}", summary="办件详情")
def get_application(application_id: str, request: Request, p: User):
    return to_json(intake.call(request, p, "GetApplication", pb.GetApplicationRequest(application_id=application_id)))


@router.post("/api/v1/intake/applications/{application_id}/accept", summary="受理（可容缺受理）")
def accept(application_id: str, body: AcceptIn, request: Request, p: User):
    msg = pb.AcceptApplicationRequest(application_id=application_id, note=body.note, waived=[
        pb.WaivedMaterial(material_code=w.material_code, promised_by=w.promised_by) for w in body.waived],
        government_invested=body.government_invested, key_construction_project=body.key_construction_project,
        idempotency_key=body.idempotency_key)
    return to_json(intake.call(request, p, "AcceptApplication", msg))


@router.post("/api/v1/intake/applications/{application_id}/correction", summary="一次性告知补正")
def request_correction(application_id: str, body: CorrectionIn, request: Request, p: User):
    msg = pb.RequestCorrectionRequest(application_id=application_id, items=[
        pb.CorrectionItem(material_code=i.material_code, problem=i.problem) for i in body.items])
    return to_json(intake.call(request, p, "RequestCorrection", msg))


@router.post("/api/v1/intake/applications/{application_id}/supply", summary="补交材料")
def supply(application_id: str, body: SupplyIn, request: Request, p: User):
    msg = pb.SupplyMaterialsRequest(application_id=application_id, materials=_materials(body.materials))
    return to_json(intake.call(request, p, "SupplyMaterials", msg))


@router.post("/api/v1/intake/applications/{application_id}/reject", summary="提出不予受理意见（待确认）")
def reject(application_id: str, body: RejectIn, request: Request, p: User):
    msg = pb.RejectApplicationRequest(application_id=application_id, reason=body.reason, legal_basis=body.legal_basis)
    return to_json(intake.call(request, p, "RejectApplication", msg))


@router.post("/api/v1/intake/applications/{application_id}/reject/confirm",
             summary="窗口首席代表或单位负责人确认（或不同意）不予受理")
def confirm_rejection(application_id: str, body: ConfirmRejectionIn, request: Request, p: User):
    msg = pb.ConfirmRejectionRequest(application_id=application_id, confirm=body.confirm, note=body.note)
    return to_json(intake.call(request, p, "ConfirmRejection", msg))


@router.post("/api/v1/intake/applications/{application_id}/pickup", summary="出件登记")
def pickup(application_id: str, body: PickupIn, request: Request, p: User):
    msg = pb.RecordPickupRequest(application_id=application_id, picked_up_by=body.picked_up_by,
                                 id_number=body.id_number, channel=body.channel, what=body.what,
                                 tracking_number=body.tracking_number)
    return to_json(intake.call(request, p, "RecordPickup", msg))


@router.get("/api/v1/intake/applications/{application_id}/notices/{notice_id}.pdf", summary="打印通知书（PDF）")
def notice_pdf(application_id: str, notice_id: str, request: Request, p: User):
    n = intake.call(request, p, "GetNotice", pb.GetNoticeRequest(application_id=application_id, notice_id=notice_id))
    return file_response(n.pdf, "application/pdf", f"{n.title}-{application_id}.pdf", inline=True)


@router.get("/api/v1/intake/applicants/{id_number}", summary="申请人信息（自动填表）")
def applicant_profile(id_number: str, request: Request, p: User):
    return to_json(intake.call(request, p, "GetApplicantProfile", pb.GetApplicantProfileRequest(id_number=id_number)))


# -- the public --------------------------------------------------------------------------------------
# The lookup needs a secret the applicant holds (issue 15): the query code printed on every notice next to
# the case number (its QR code opens the page with both), or the applicant's full ID number — which goes in
# a POST body, never in a link (links end up in logs and browser histories).
class ProgressIn(Strict):
    case_number: str = Field(max_length=64, description="办件编号")
    query_code: str = Field("", max_length=32, description="通知书上的查询码（与证件号码二者选一）")
    id_number: str = Field("", max_length=18, description="申请人完整的 18 位证件号码（与查询码二者选一）")


def _lookup(case: str, code: str = "", id_number: str = "") -> pb.LookupProgressRequest:
    return pb.LookupProgressRequest(case_number=case, query_code=code, id_number=id_number)


@router.get("/api/v1/public/progress", tags=["公开查询"], summary="办件进度查询（办件编号 + 查询码）")
def progress(request: Request, case: str = Query(max_length=64, description="办件编号"),
             code: str = Query(max_length=32, description="通知书上的查询码")):
    return to_json(intake.call(request, None, "LookupProgress", _lookup(case, code)))


@router.post("/api/v1/public/progress", tags=["公开查询"],
             summary="办件进度查询（办件编号 + 查询码，或 + 申请人完整证件号码）")
def progress_by_body(body: ProgressIn, request: Request):
    return to_json(intake.call(request, None, "LookupProgress",
                               _lookup(body.case_number, body.query_code, body.id_number)))


FORM_MAX_BYTES = 1024        # three short fields: a bigger body is no lookup


def _page(request: Request, case: str, code: str = "", id_number: str = "", message: str = "",
          status: int = 200) -> HTMLResponse:
    """The page (gateway/templates/progress.html, the workbench's stylesheet): the form, and the case's steps."""
    from gateway.pages_kit import render

    result = None
    if case and (code or id_number) and not message:
        try:
            result = intake.call(request, None, "LookupProgress", _lookup(case, code, id_number))
        except grpc.RpcError as exc:
            message = exc.details() or "查询失败，请稍后重试"
    elif case and not message:
        message = "请输入查询码，或申请人完整的证件号码。"
    return render(request, "progress.html", {"case": case, "result": result, "message": message}, status=status)


@router.get("/progress", include_in_schema=False, response_class=HTMLResponse)
def progress_page(request: Request, case: str = Query("", max_length=64), code: str = Query("", max_length=32)):
    """The page the QR code on every notice opens (with the case number and its query code: no typing)."""
    return _page(request, case, code)


@router.post("/progress", include_in_schema=False, response_class=HTMLResponse)
async def progress_page_post(request: Request):
    """The page's form: the case number with the query code, or with the full ID number (kept out of links)."""
    raw = await request.body()
    if len(raw) > FORM_MAX_BYTES:
        return _page(request, "", message="查询内容过长。", status=413)
    form = parse_qs(raw.decode("utf-8", errors="replace"), max_num_fields=8)
    case, code, id_number = ((form.get(k) or [""])[0].strip() for k in ("case", "code", "id_number"))
    if len(case) > 64 or len(code) > 32 or len(id_number) > 18 or "\x00" in case + code + id_number:
        return _page(request, "", message="查询内容格式不正确。", status=422)
    return await run_in_threadpool(_page, request, case, code, id_number)
