"""REST edge of supervision (电子监察): cards per case, step and post, supervision orders (督办函) and their replies,
accountability records, statistics with CSV/PDF export, the audit chain's verification — for supervisors of a unit
and its subtree; the public scorecard (晒成绩单) and the monthly ranking, without a login and without personal data.

Types are checked here (422 naming the field); the rules and the walls are the supervision service's. The caller's
token travels with each call, so the service checks the same person again.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sanji.supervision.v1 import supervision_pb2 as pb
from sanji.supervision.v1 import supervision_pb2_grpc

from gateway.edge import User
from gateway.rest import Backend, Strict, file_response, status_number, status_query, to_json

router = APIRouter(tags=["电子监察"])
supervision = Backend("supervision", supervision_pb2_grpc.SupervisionServiceStub)
P = "/api/v1/supervision"
MONTH = Query("", max_length=7, description="月份 YYYY-MM（留空为本月；格式由监察服务校验）")


class IssueOrderIn(Strict):
    request: str = Field("", max_length=2000, description="督办要求（默认：请说明原因并进行整改）")
    reply_days: int = Field(0, ge=0, le=30, description="回复期限（工作日，0 = 默认 3 个工作日）")
    idempotency_key: str = Field("", max_length=128, description="幂等键：同一键只发一份督办函")


class AnswerOrderIn(Strict):
    reason: str = Field(max_length=4000, description="原因说明")
    rectification: str = Field(max_length=4000, description="整改措施")


class AccountabilityIn(Strict):
    person: str = Field(max_length=100, description="被追责人员账号")
    person_name: str = Field("", max_length=50)
    person_unit: str = Field(max_length=12, description="其所在单位区划代码（本单位或下级）")
    grade: str = Field(description="情节：minor 较轻 / major 较重 / severe 严重")
    measure: str = Field(description="处理：written_self_criticism、circulated_criticism、no_awards、reassignment、"
                                     "referred_to_discipline")
    rule_id: str = Field("", max_length=64)
    card_ids: list[str] = Field(default_factory=list, max_length=100)
    order_id: str = Field("", max_length=64)
    rectify_by: str = Field("", description="限期整改日期 YYYY-MM-DD（较轻必填）", json_schema_extra={"format": "date"})
    note: str = Field("", max_length=2000)


@router.get(f"{P}/cards", summary="监察亮牌（本单位及下级）")
def list_cards(request: Request, p: User, status: str = status_query(pb.CardStatus, "亮牌状态"),
               severity: str = Query("", pattern="^(yellow|red)?$"), rule_id: str = Query("", max_length=64),
               unit: str = Query("", max_length=12), case_number: str = Query("", max_length=64),
               post_holder: str = Query("", max_length=100), limit: int = Query(50, ge=1, le=200),
               offset: int = Query(0, ge=0)):
    return to_json(supervision.call(request, p, "ListCards", pb.ListCardsRequest(
        status=status_number(pb.CardStatus, status), severity=severity, rule_id=rule_id, unit=unit,
        case_number=case_number, post_holder=post_holder, limit=limit, offset=offset)))


@router.get(f"{P}/cards/{{card_id}}", summary="亮牌详情（规则、办件、岗位人员、期限计算）")
def get_card(card_id: str, request: Request, p: User):
    return to_json(supervision.call(request, p, "GetCard", pb.GetCardRequest(card_id=card_id)))


@router.get(f"{P}/rules", summary="监察规则（本省阈值）")
def list_rules(request: Request, p: User):
    return to_json(supervision.call(request, p, "ListRules", pb.ListRulesRequest()))


@router.post(f"{P}/cards/{{card_id}}/orders", status_code=201, summary="就红牌发出督办函")
def issue_order(card_id: str, body: IssueOrderIn, request: Request, p: User):
    return to_json(supervision.call(request, p, "IssueOrder", pb.IssueOrderRequest(card_id=card_id,
                                                                                  **body.model_dump())))


@router.get(f"{P}/orders", summary="督办函（本单位发出的及发给本单位的）")
def list_orders(request: Request, p: User, status: str = status_query(pb.OrderStatus, "督办状态"),
                limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)):
    return to_json(supervision.call(request, p, "ListOrders", pb.ListOrdersRequest(
        status=status_number(pb.OrderStatus, status), limit=limit, offset=offset)))


@router.get(f"{P}/orders/{{order_id}}", summary="督办函详情")
def get_order(order_id: str, request: Request, p: User):
    return to_json(supervision.call(request, p, "GetOrder", pb.GetOrderRequest(order_id=order_id)))


@router.post(f"{P}/orders/{{order_id}}/answer", summary="被督办单位回复（说明原因并进行整改）")
def answer_order(order_id: str, body: AnswerOrderIn, request: Request, p: User):
    return to_json(supervision.call(request, p, "AnswerOrder", pb.AnswerOrderRequest(order_id=order_id,
                                                                                    **body.model_dump())))


@router.get(f"{P}/orders/{{order_id}}/document", summary="督办函（PDF，加盖电子监察专用章）")
def order_document(order_id: str, request: Request, p: User, download: bool = False):
    doc = supervision.call(request, p, "GetOrderDocument", pb.GetOrderRequest(order_id=order_id))
    return file_response(doc.content, doc.media_type, doc.filename, inline=not download)


@router.post(f"{P}/accountability", status_code=201, summary="记录责任追究")
def record_accountability(body: AccountabilityIn, request: Request, p: User):
    return to_json(supervision.call(request, p, "RecordAccountability",
                                    pb.RecordAccountabilityRequest(**body.model_dump())))


@router.get(f"{P}/accountability", summary="责任追究记录（本级及下级人员）")
def list_accountability(request: Request, p: User, person: str = Query("", max_length=100),
                        limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)):
    return to_json(supervision.call(request, p, "ListAccountability", pb.ListAccountabilityRequest(
        person=person, limit=limit, offset=offset)))


@router.get(f"{P}/stats", summary="效能统计（按单位、部门、事项、人员、月份）")
def stats(request: Request, p: User, by: str = Query("unit", pattern="^(unit|department|item|staff|month)$"),
          month: str = MONTH, unit: str = Query("", max_length=12)):
    return to_json(supervision.call(request, p, "GetStats", pb.GetStatsRequest(by=by, month=month, unit=unit)))


@router.get(f"{P}/stats/export", summary="效能统计导出（CSV 或 PDF）")
def export_stats(request: Request, p: User, by: str = Query("unit", pattern="^(unit|department|item|staff|month)$"),
                 month: str = MONTH, unit: str = Query("", max_length=12),
                 format: str = Query("csv", pattern="^(csv|pdf)$")):
    doc = supervision.call(request, p, "ExportStats", pb.ExportStatsRequest(by=by, month=month, unit=unit,
                                                                            format=format))
    return file_response(doc.content, doc.media_type, doc.filename)


@router.get(f"{P}/chain/verify", summary="核验防篡改留痕链（本单位或下级单位）")
def verify_chain(request: Request, p: User, unit: str = Query("", max_length=12)):
    return to_json(supervision.call(request, p, "VerifyChain", pb.VerifyChainRequest(unit=unit), at_least=60))


@router.get("/api/v1/public/scorecards/{unit}", tags=["公开查询"], summary="单位成绩单（晒成绩单，公开，不含个人信息）")
def scorecard(unit: str, request: Request, month: str = MONTH):
    return to_json(supervision.call(request, None, "GetScorecard", pb.GetScorecardRequest(unit=unit, month=month)))


@router.get("/api/v1/public/rankings", tags=["公开查询"], summary="月度排名（县后2名、部门后5名约谈，公开）")
def ranking(request: Request, region: str = Query(pattern=r"^(\d{2}|\d{4}|\d{6})$"),
            month: str = MONTH):
    return to_json(supervision.call(request, None, "GetRanking", pb.GetRankingRequest(month=month, region=region)))
