"""REST edge of the provincial docking gateway (省平台对接, gateway/docking).

POST /api/v1/province/messages is the province's one way in: no user token; the body is the province's
signed envelope, passed through unchanged to the docking process, which checks the SM2 signature, the
timestamp (±5 minutes) and the nonce, and answers with its own signed receipt. Only the message types meant
for the province are taken (online applications, payment callbacks); anything else is refused there.

Supervision staff see the backlog of reports waiting for the province and check the message log's SM3 chain;
the county's admin compares the province's standard catalogue with the county's items and runs the daily
reconciliation (the report as CSV or PDF).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sanji.docking.v1 import docking_pb2 as pb
from sanji.docking.v1 import docking_pb2_grpc

from gateway.edge import User
from gateway.rest import Backend, file_response, to_json
from shared.errors import InvalidArgument

router = APIRouter(tags=["省平台对接"])
docking = Backend("docking", docking_pb2_grpc.DockingServiceStub)
DAY = r"^\d{4}-\d{2}-\d{2}$"
MAX_MESSAGE_BYTES = 1024 * 1024     # a default: an online application's envelope carries material references only


class ProvinceMessageResult(BaseModel):
    message_id: str = Field(description="报文编号")
    duplicate: bool = Field(description="该报文编号此前已收到，未重复处理")
    reference: str = Field(description="处理结果（如网上申请转入一窗受理后的申请编号）")
    receipt: dict = Field(description="本县对该报文的 SM2 签名回执（信封格式）")


@router.post("/api/v1/province/messages", tags=["省级平台"], summary="省级平台报文（SM2 验签、防重放，无需登录）",
             response_model=ProvinceMessageResult,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "description": "省级平台签名的报文信封：message_id、type、sender、receiver、tenant、"
                                                  "case_ref、timestamp、nonce、body、key_id、signature"}}}}})
async def province_message(request: Request):
    raw = await request.body()
    if len(raw) > MAX_MESSAGE_BYTES:
        raise InvalidArgument("envelope_json", "报文过大")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("envelope_json", "报文须为 UTF-8 编码的 JSON") from None
    r = docking.call(request, None, "ReceiveProvinceMessage", pb.ProvinceMessage(envelope_json=text))
    return ProvinceMessageResult(message_id=r.message_id, duplicate=r.duplicate, reference=r.reference,
                                 receipt=json.loads(r.receipt_json or "{}"))


@router.get("/api/v1/docking/backlog", summary="待上报省级平台的办件信息（条数、最久等待）")
def backlog(request: Request, p: User):
    return to_json(docking.call(request, p, "GetBacklog", pb.GetBacklogRequest()))


@router.get("/api/v1/docking/log/verify", summary="核验省平台报文日志的 SM3 链")
def verify_log(request: Request, p: User):
    return to_json(docking.call(request, p, "VerifyMessageLog", pb.VerifyMessageLogRequest()))


@router.post("/api/v1/docking/catalogue/compare", summary="省级标准事项与本县实施清单比对（同要素差异）")
def compare_catalogue(request: Request, p: User, import_new_as_drafts: bool = False):
    return to_json(docking.call(request, p, "CompareCatalogue",
                                pb.CompareCatalogueRequest(import_new_as_drafts=import_new_as_drafts), at_least=60))


@router.post("/api/v1/docking/reconciliation", summary="与省级平台每日对账（按日、按报文类型的条数与摘要）")
def reconcile(request: Request, p: User, day: str = Query("", pattern=DAY + "|^$"),
              format: str = Query("json", pattern="^(json|csv|pdf)$")):
    r = docking.call(request, p, "Reconcile", pb.ReconcileRequest(day=day), at_least=60)
    if format == "csv":
        return file_response(r.csv.encode("utf-8-sig"), "text/csv; charset=utf-8", f"省平台对账-{r.tenant}-{r.day}.csv")
    if format == "pdf":
        return file_response(r.pdf, "application/pdf", f"省平台对账-{r.tenant}-{r.day}.pdf")
    r.ClearField("pdf")            # the JSON answer carries the CSV; the PDF is its own download
    return to_json(r)
