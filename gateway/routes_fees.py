"""REST edge of the fees (一个窗口收费): the cashier assesses, issues the one notice, reconciles and
asks for refunds; the head waives and approves refunds; the cashier and the supervisor download the
daily reconciliation; the fee catalogue is public; anyone holding a notice (its number and the
verification code printed on it and in its QR code) sees its payment status without logging in.

POST /api/v1/payments/callback is the provincial public payment platform's callback. It carries no
user token: it is authenticated by the platform's SM2 signature over the canonical form of its
fields (services/fees/payments.py: percent-encoded values in a fixed order), which the fees service
verifies (a tampered callback is refused with 401 and logged there, bounded).
The body is one flat JSON object: the fields as strings (integers are accepted and read as their
decimal text) plus `signature`.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response
from google.protobuf import json_format
from pydantic import Field
from sanji.fees.v1 import fees_pb2 as pb
from sanji.fees.v1 import fees_pb2_grpc

from gateway.edge import User
from gateway.rest import Backend, Strict, file_response, status_number, status_query, to_json
from shared.errors import InvalidArgument

router = APIRouter(tags=["一个窗口收费"])
fees = Backend("fees", fees_pb2_grpc.FeesServiceStub)
DAY = r"^\d{4}-\d{2}-\d{2}$"


class LineIn(Strict):
    fee_code: str = Field(max_length=64, description="收费目录中的收费项目编码")
    quantities: dict[str, str] = Field(default_factory=dict, description="申报数量（文本形式的数字，如 \"1234.56\"）")
    standard_fen: int | None = Field(None, description="幅度标准：核定的金额或单价（分）；"
                                                       "政府投资、重点项目可不填（按下限）")


class AssessIn(Strict):
    lines: list[LineIn] = Field(max_length=50)
    government_invested: bool = False
    key_project: bool = False
    applicant_name: str = Field("", max_length=200)
    item_name: str = Field("", max_length=200)


class WaiveIn(Strict):
    line_no: int = Field(ge=1)
    reason_code: str = Field(max_length=64)
    amount_fen: int = Field(0, description="减收金额（分）；免收时不填")
    note: str = Field("", max_length=2000)


class ResolveIn(Strict):
    action: Literal["match", "refund", "close"]
    notice_number: str = Field("", max_length=64)
    note: str = Field(max_length=2000)


class RefundIn(Strict):
    notice_number: str = Field("", max_length=64)
    reconciliation_id: str = Field("", max_length=64)
    amount_fen: int
    reason: str = Field(max_length=2000)


class DecideRefundIn(Strict):
    approve: bool
    note: str = Field("", max_length=2000)


class FeeItemIn(Strict):
    definition: dict


class AdjustFeeItemIn(Strict):
    definition: dict
    reason: str = Field(max_length=2000)


class CancelFeeItemIn(Strict):
    reason: str = Field(max_length=2000)


def _definition(d: dict) -> pb.FeeDefinition:
    d = dict(d)
    std = dict(d.get("standard") or {})
    kind = str(std.get("kind", "")).upper()
    std["kind"] = kind if kind.startswith("STANDARD_KIND_") else f"STANDARD_KIND_{kind}"
    d["standard"] = std
    try:
        return json_format.ParseDict(d, pb.FeeDefinition())
    except json_format.ParseError as exc:
        raise InvalidArgument("definition", f"收费项目定义格式不正确：{exc}") from None


def _document(doc: pb.Document, download: bool = True) -> Response:
    return file_response(doc.content, doc.content_type, doc.filename, inline=not download)


# -- the fee catalogue -----------------------------------------------------------------------------
@router.get("/api/v1/public/fees", tags=["公开查询"], summary="收费目录清单（公开）")
def public_fee_catalogue(request: Request, region: str = Query("", max_length=12)):
    return to_json(fees.call(request, None, "ListPublicFeeItems", pb.ListPublicFeeItemsRequest(region=region)))


@router.get("/api/v1/fees/items", summary="本单位适用的收费目录")
def fee_items(request: Request, p: User, include_drafts: bool = False):
    return to_json(fees.call(request, p, "ListFeeItems", pb.ListFeeItemsRequest(include_drafts=include_drafts)))


@router.post("/api/v1/fees/items", summary="新建收费项目（草稿）", status_code=201)
def create_fee_item(body: FeeItemIn, request: Request, p: User):
    return to_json(fees.call(request, p, "CreateFeeItem",
                             pb.CreateFeeItemRequest(definition=_definition(body.definition))))


@router.post("/api/v1/fees/items/{fee_item_id}/publish", summary="发布收费项目")
def publish_fee_item(fee_item_id: str, request: Request, p: User):
    return to_json(fees.call(request, p, "PublishFeeItem", pb.PublishFeeItemRequest(fee_item_id=fee_item_id)))


@router.post("/api/v1/fees/items/{fee_item_id}/adjust", summary="调整收费项目（发布新版本）")
def adjust_fee_item(fee_item_id: str, body: AdjustFeeItemIn, request: Request, p: User):
    return to_json(fees.call(request, p, "AdjustFeeItem", pb.AdjustFeeItemRequest(
        fee_item_id=fee_item_id, definition=_definition(body.definition), reason=body.reason)))


@router.post("/api/v1/fees/items/{fee_item_id}/cancel", summary="取消收费项目")
def cancel_fee_item(fee_item_id: str, body: CancelFeeItemIn, request: Request, p: User):
    return to_json(fees.call(request, p, "CancelFeeItem",
                             pb.CancelFeeItemRequest(fee_item_id=fee_item_id, reason=body.reason)))


# -- the fee window ----------------------------------------------------------------------------------
CASE_VIEWS = {"basic": pb.CASE_FEES_VIEW_BASIC, "full": pb.CASE_FEES_VIEW_FULL}


@router.get("/api/v1/fees/cases", summary="收费窗口队列（待核定、待缴款、已结清）")
def cases(request: Request, p: User, status: str = status_query(pb.CaseStatus, "收费状态"),
          limit: int = Query(50, ge=1, le=200),
          offset: int = Query(0, ge=0),
          view: str = Query("full", pattern="^(basic|full)$",
                            description="full：含每项收费明细与缴款书全文；basic：列表所示（合计、应缴与缴款书编号、状态）")):
    return to_json(fees.call(request, p, "ListCases", pb.ListCasesRequest(
        status=status_number(pb.CaseStatus, status), limit=limit, offset=offset, view=CASE_VIEWS[view])))


@router.get("/api/v1/fees/cases/{case_number}", summary="办件的收费")
def case_fees(case_number: str, request: Request, p: User):
    return to_json(fees.call(request, p, "GetCaseFees", pb.GetCaseFeesRequest(case_number=case_number)))


@router.post("/api/v1/fees/cases/{case_number}/assess", summary="核定收费")
def assess(case_number: str, body: AssessIn, request: Request, p: User):
    lines = []
    for x in body.lines:
        li = pb.LineInput(fee_code=x.fee_code, quantities=x.quantities)
        if x.standard_fen is not None:
            li.standard_fen = x.standard_fen
        lines.append(li)
    return to_json(fees.call(request, p, "AssessFees", pb.AssessFeesRequest(
        case_number=case_number, lines=lines, government_invested=body.government_invested,
        key_project=body.key_project, applicant_name=body.applicant_name, item_name=body.item_name)))


@router.post("/api/v1/fees/cases/{case_number}/waive", summary="减免（机关负责人）")
def waive(case_number: str, body: WaiveIn, request: Request, p: User):
    return to_json(fees.call(request, p, "WaiveFee", pb.WaiveFeeRequest(case_number=case_number, **body.model_dump())))


@router.post("/api/v1/fees/cases/{case_number}/notice", summary="开具缴款书（一案一书）")
def issue_notice(case_number: str, request: Request, p: User):
    return to_json(fees.call(request, p, "IssueNotice", pb.IssueNoticeRequest(case_number=case_number)))


@router.get("/api/v1/fees/cases/{case_number}/notice.pdf", summary="打印缴款书（缴款后为收据）")
def notice_pdf(case_number: str, request: Request, p: User):
    return _document(fees.call(request, p, "RenderNotice", pb.RenderNoticeRequest(case_number=case_number)), False)


# -- reconciliation and refunds ----------------------------------------------------------------------
@router.get("/api/v1/fees/reconciliation", summary="对账队列")
def reconciliation(request: Request, p: User, include_resolved: bool = False,
                   limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)):
    return to_json(fees.call(request, p, "ListReconciliation", pb.ListReconciliationRequest(
        include_resolved=include_resolved, limit=limit, offset=offset)))


@router.post("/api/v1/fees/reconciliation/{entry_id}/resolve", summary="处理对账异常（匹配、退费、关闭）")
def resolve(entry_id: str, body: ResolveIn, request: Request, p: User):
    return to_json(fees.call(request, p, "ResolveReconciliation", pb.ResolveReconciliationRequest(
        id=entry_id, **body.model_dump())))


@router.get("/api/v1/fees/reports/{day}", summary="收费日对账")
def daily(request: Request, p: User, day: str = Path(pattern=DAY), tenant: str = Query("", max_length=12)):
    return to_json(fees.call(request, p, "DailyReconciliation", pb.DailyReconciliationRequest(day=day, tenant=tenant)))


@router.get("/api/v1/fees/reports/{day}/download", summary="下载收费日对账（CSV 或 PDF）")
def daily_download(request: Request, p: User, day: str = Path(pattern=DAY), format: Literal["csv", "pdf"] = "csv",
                   tenant: str = Query("", max_length=12)):
    return _document(fees.call(request, p, "RenderDailyReconciliation", pb.RenderDailyReconciliationRequest(
        day=day, tenant=tenant, format=format)))


@router.get("/api/v1/fees/refunds", summary="退费申请")
def refunds(request: Request, p: User, status: str = status_query(pb.RefundStatus, "退费状态")):
    return to_json(fees.call(request, p, "ListRefunds",
                             pb.ListRefundsRequest(status=status_number(pb.RefundStatus, status))))


@router.post("/api/v1/fees/refunds", summary="申请退费", status_code=201)
def request_refund(body: RefundIn, request: Request, p: User):
    return to_json(fees.call(request, p, "RequestRefund", pb.RequestRefundRequest(**body.model_dump())))


@router.post("/api/v1/fees/refunds/{refund_id}/decide", summary="审批退费（机关负责人）")
def decide_refund(refund_id: str, body: DecideRefundIn, request: Request, p: User):
    return to_json(fees.call(request, p, "DecideRefund",
                             pb.DecideRefundRequest(refund_id=refund_id, **body.model_dump())))


# -- payment: public status and the province's callback ----------------------------------------------
@router.get("/api/v1/payments/{notice_number}/status", tags=["公开查询"],
            summary="缴款状态查询（凭缴款书编号和查验码）")
def payment_status(notice_number: str, request: Request,
                   code: str = Query("", max_length=40, description="缴款书及其二维码上的查验码")):
    return to_json(fees.call(request, None, "GetPaymentStatus",
                             pb.GetPaymentStatusRequest(notice_number=notice_number, code=code)))


@router.post("/api/v1/payments/callback", tags=["省公共支付平台"], summary="缴款结果通知（SM2 验签，无需登录）")
def payment_callback(request: Request, body: dict = Body(...)):
    fields: dict[str, str] = {}
    signature = body.get("signature")
    if not isinstance(signature, str):
        raise InvalidArgument("signature", "缺少签名")
    for key, value in body.items():
        if key == "signature":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidArgument(str(key), "回调字段应为文本或整数")
        fields[str(key)] = str(value)
    r = fees.call(request, None, "RecordPaymentCallback", pb.PaymentCallback(fields=fields, signature=signature))
    return {"code": "SUCCESS", **to_json(r)}
