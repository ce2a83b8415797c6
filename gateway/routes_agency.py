"""REST edge of the agency (帮办代办): the village agent records and follows proxy requests, the
receiving units confirm the originals they receive, every unit on the path reads the custody chain.

Types are checked here (422 naming the field); the rules are the agency service's (also 422 naming
the field). The caller's token travels with each call, so the service checks the same person again.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sanji.agency.v1 import agency_pb2 as pb
from sanji.agency.v1 import agency_pb2_grpc
from sanji.intake.v1 import intake_pb2

from gateway.edge import User
from gateway.rest import Backend, Strict, status_number, status_query, to_json

router = APIRouter(prefix="/api/v1/agency", tags=["帮办代办"])
agency = Backend("agency", agency_pb2_grpc.AgencyServiceStub)


class ResidentIn(Strict):
    name: str = Field(max_length=50, description="委托人（居民）姓名或企业名称")
    id_number: str = Field(max_length=32, description="居民身份证号码或企业统一社会信用代码（18 位）")
    phone: str = Field("", max_length=20)
    address: str = Field("", max_length=200)
    kind: Literal["natural_person", "legal_person"] = Field("natural_person",
                                                           description="群众（自然人）或企业（法人）")


class AuthorisationIn(Strict):
    """委托书."""

    signed_on: str = Field("", description="签署日期 YYYY-MM-DD", json_schema_extra={"format": "date"})
    scope: str = Field("", max_length=500, description="委托事项范围")
    document_ref: str = Field("", max_length=200, description="委托书扫描件或存档编号")
    valid_until: str = Field("", description="有效期至 YYYY-MM-DD（可空）")


class MaterialIn(Strict):
    code: str = Field(max_length=64, description="办理情形的材料编码")
    note: str = Field("", max_length=500)


class RequestProxyIn(Strict):
    resident: ResidentIn
    special_group: Literal["elderly", "disabled", "youfu", "dibao", "none"] = Field(
        "none", description="特殊群体：elderly、disabled、youfu、dibao、none")
    door_to_door: bool = Field(False, description="预约上门服务（任何人可预约；特殊群体、重点项目免费）")
    item_id: str
    scenario_code: str = ""
    authorisation: AuthorisationIn | None = None
    key_project: bool = Field(False, description="重大投资、重点工程项目（县级）")
    project_name: str = Field("", max_length=200)
    idempotency_key: str = Field(max_length=128, description="幂等键：重复提交同一键返回同一代办申请")


class AssignAgentIn(Strict):
    agent: str = Field("", max_length=100, description="代办员账号；代办员可留空指派自己")
    agent_name: str = Field("", max_length=50)


class ScheduleVisitIn(Strict):
    scheduled_for: str = Field(description="预约上门时间（ISO 8601，未注明时区按北京时间）",
                               json_schema_extra={"format": "date-time"})
    address: str = Field("", max_length=200)
    purpose: str = Field("", max_length=200)


class RecordVisitIn(Strict):
    outcome: str = Field(max_length=500, description="上门服务情况")
    materials: list[MaterialIn] = Field(default_factory=list, description="上门收取的材料")


class SubmitUpwardIn(Strict):
    materials: list[MaterialIn] = Field(default_factory=list, description="代办点另行收取的材料")
    form: dict[str, str] = Field(default_factory=dict)


class HandOverItemIn(Strict):
    description: str = Field(max_length=200, description="原件名称")
    copies: int = Field(1, ge=1, le=1000)
    material_code: str = Field("", max_length=64)


class HandOverIn(Strict):
    request_id: str = ""
    application_id: str = ""
    to_tenant: str = Field(description="接收单位区划代码（上一级单位）")
    items: list[HandOverItemIn] = Field(default_factory=list)


class ConfirmReceiptIn(Strict):
    note: str = Field("", max_length=500, description="签收备注")


def _materials(items: list[MaterialIn]) -> list[intake_pb2.MaterialSubmission]:
    return [intake_pb2.MaterialSubmission(code=m.code, supplied=True, note=m.note) for m in items]


@router.post("/requests", status_code=201, summary="登记代办申请（村级代办点；县级重点项目）")
def request_proxy(body: RequestProxyIn, request: Request, p: User):
    auth = body.authorisation or AuthorisationIn()
    r = pb.RequestProxyRequest(
        resident=pb.Resident(**body.resident.model_dump()), special_group=body.special_group,
        door_to_door=body.door_to_door, item_id=body.item_id, scenario_code=body.scenario_code,
        authorisation=pb.Authorisation(**auth.model_dump()), key_project=body.key_project,
        project_name=body.project_name, idempotency_key=body.idempotency_key)
    return to_json(agency.call(request, p, "RequestProxy", r))


@router.get("/requests", summary="本单位的代办申请")
def list_requests(request: Request, p: User, status: str = status_query(pb.ProxyRequestStatus, "代办状态"),
                  limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)):
    return to_json(agency.call(request, p, "ListProxyRequests", pb.ListProxyRequestsRequest(
        status=status_number(pb.ProxyRequestStatus, status), limit=limit, offset=offset)))


@router.get("/requests/{request_id}", summary="代办申请详情（含办理进度告知）")
def get_request(request_id: str, request: Request, p: User):
    return to_json(agency.call(request, p, "GetProxyRequest", pb.GetProxyRequestRequest(request_id=request_id)))


@router.post("/requests/{request_id}/assign", summary="指派代办员")
def assign_agent(request_id: str, body: AssignAgentIn, request: Request, p: User):
    return to_json(agency.call(request, p, "AssignAgent",
                               pb.AssignAgentRequest(request_id=request_id, **body.model_dump())))


@router.post("/requests/{request_id}/visits", summary="预约上门服务")
def schedule_visit(request_id: str, body: ScheduleVisitIn, request: Request, p: User):
    return to_json(agency.call(request, p, "ScheduleVisit",
                               pb.ScheduleVisitRequest(request_id=request_id, **body.model_dump())))


@router.post("/requests/{request_id}/visits/{visit_id}/record", summary="记录上门服务及收取的材料")
def record_visit(request_id: str, visit_id: str, body: RecordVisitIn, request: Request, p: User):
    return to_json(agency.call(request, p, "RecordVisit", pb.RecordVisitRequest(
        request_id=request_id, visit_id=visit_id, outcome=body.outcome, materials=_materials(body.materials))))


@router.post("/requests/{request_id}/submit", summary="代为提交至受理单位")
def submit_upward(request_id: str, body: SubmitUpwardIn, request: Request, p: User):
    return to_json(agency.call(request, p, "SubmitUpward", pb.SubmitUpwardRequest(
        request_id=request_id, materials=_materials(body.materials), form=body.form)))


@router.post("/handovers", status_code=201, summary="移交原件给上一级单位")
def hand_over(body: HandOverIn, request: Request, p: User):
    return to_json(agency.call(request, p, "HandOver", pb.HandOverRequest(
        request_id=body.request_id, application_id=body.application_id, to_tenant=body.to_tenant,
        items=[pb.HandOverItem(**i.model_dump()) for i in body.items])))


@router.post("/handovers/{handover_id}/confirm", summary="接收单位确认接收原件")
def confirm_receipt(handover_id: str, body: ConfirmReceiptIn, request: Request, p: User):
    return to_json(agency.call(request, p, "ConfirmReceipt",
                               pb.ConfirmReceiptRequest(handover_id=handover_id, note=body.note)))


@router.get("/handovers", summary="原件移交记录（移入 incoming / 移出 outgoing）")
def list_handovers(request: Request, p: User, direction: str = "", pending_only: bool = False):
    return to_json(agency.call(request, p, "ListHandOvers",
                               pb.ListHandOversRequest(direction=direction, pending_only=pending_only)))


@router.get("/custody-chain", summary="办件原件保管链（逐级交接记录）")
def custody_chain(request: Request, p: User, application_id: str = "", request_id: str = ""):
    return to_json(agency.call(request, p, "CustodyChain",
                               pb.CustodyChainRequest(application_id=application_id, request_id=request_id)))
