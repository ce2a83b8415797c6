"""REST edge of the complaints service (投诉 · 吐槽找茬, 好差评).

Staff (token): the hall's window records a complaint (吐槽找茬窗口), a village agent files for a resident; the
handling unit's complaint handlers assign, report progress (3日报动态), investigate, ask for the one extension
(the head approves), reply (7日报结果) and record return visits; the unit rectifies its 差评 and appeals a rating
it believes mistaken; supervision rates units (监督查评) and decides appeals; the window's screen opens a rating
for the applicant in front of it (一次一评).

The public (no login, rate-limited like every public route; the look-ups on the `lookup` budget): file a
complaint or an anonymous report, follow it with its number and the phone's last four digits, rate the
handling; rate a case (一事一评) with its case number and the applicant's ID-number suffix — the link the QR code
on the case's notices opens — and rate the rectification of a 差评; comment on a unit (综合点评); read the
satisfaction figures of an item or a unit (no personal data).

The 12345 hotline hands complaints over at POST /api/v1/hotline/complaints, without a token: the body is one
flat JSON object of the fields as strings plus `signature` (SM2 over their canonical form, services/complaints/
signing.py), refused with 401 when it does not verify.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import Field
from sanji.complaints.v1 import complaints_pb2 as pb
from sanji.complaints.v1 import complaints_pb2_grpc

from gateway.edge import User
from gateway.rest import Backend, Strict, status_number, status_query, to_json
from shared.errors import InvalidArgument

router = APIRouter(tags=["投诉与评价"])
complaints = Backend("complaints", complaints_pb2_grpc.ComplaintsServiceStub)
P = "/api/v1/complaints"
PUBLIC = "公开：投诉与评价"


class SubjectIn(Strict):
    tenant: str = Field(max_length=12, description="被投诉单位的区划代码（村、乡镇/街道、县）")
    department: str = Field("", max_length=100, description="被投诉部门（如 县住建局）")
    case_number: str = Field("", max_length=64, description="相关办件编号")
    item_id: str = Field("", max_length=64, description="相关事项")
    window: str = Field("", max_length=100, description="相关窗口")
    staff: str = Field("", max_length=100, description="被投诉的工作人员（账号或姓名）")


class ComplainantIn(Strict):
    name: str = Field("", max_length=50, description="投诉人姓名（匿名举报不填）")
    phone: str = Field("", max_length=20, description="联系电话（用于答复，凭后四位查询）")
    id_number: str = Field("", max_length=18, description="身份证号码（可不填）")
    anonymous: bool = Field(False, description="匿名举报（仅举报可匿名，不保留任何身份信息）")


class FileIn(Strict):
    channel: Literal["hall", "agent"] = Field(
        "hall", description="hall（吐槽找茬窗口登记）或 agent（村代办员代为登记）")
    kind: Literal["complaint", "report"] = Field("complaint", description="complaint（投诉）或 report（举报）")
    category: str = Field(max_length=40, description="投诉类别（见 /api/v1/public/complaint-categories）")
    content: str = Field(max_length=2000, description="投诉内容（最多 2000 字）")
    subject: SubjectIn
    complainant: ComplainantIn
    lead_department: str = Field("", max_length=100, description="牵头部门（涉及多个部门时）")
    co_departments: list[str] = Field(default_factory=list, max_length=20, description="协办部门")


class PublicFileIn(Strict):
    kind: Literal["complaint", "report"] = Field("complaint", description="complaint（投诉）或 report（举报，可匿名）")
    category: str = Field(max_length=40)
    content: str = Field(max_length=2000)
    subject: SubjectIn
    complainant: ComplainantIn


class FollowIn(Strict):
    number: str = Field(max_length=40, description="投诉编号")
    phone_last4: str = Field(max_length=4, description="联系电话后四位（匿名举报：回执上的查询码）")


class RateHandlingIn(FollowIn):
    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"] = Field(
        description="satisfied（满意）、basically_satisfied（基本满意）、dissatisfied（不满意）")
    comment: str = Field("", max_length=1000)


class AssignIn(Strict):
    handler: str = Field("", max_length=100, description="处理人员账号；投诉处理人员留空指派自己")
    handler_name: str = Field("", max_length=50)


class TextIn(Strict):
    text: str = Field(max_length=1000)


class InvestigationIn(Strict):
    method: Literal["visit", "site", "other"] = Field(description="visit（走访群众）、site（现场查看）、other")
    on: str = Field(description="调查日期 YYYY-MM-DD")
    by_name: str = Field("", max_length=100, description="调查人员")
    text: str = Field(max_length=2000)


class DepartmentPartIn(Strict):
    department: str = Field(max_length=100)
    report: str = Field(max_length=2000)


class ExtensionIn(Strict):
    reason: str = Field(max_length=1000, description="延期原因（将告知投诉人）")
    days: int = Field(description="延期工作日数（原则上不超过 10 个工作日）")


class PromiseIn(Strict):
    promise: str = Field(max_length=1000, description="承诺事项")
    due_on: str = Field(description="承诺完成日期 YYYY-MM-DD", json_schema_extra={"format": "date"})


class ReplyIn(Strict):
    outcome: Literal["", "solved", "plan", "policy"] = Field(
        "", description="solved（合理诉求已解决）、plan（暂不具备条件，说明并计划解决）、"
                        "policy（不符合政策，解答政策）")
    channel: Literal["in_person", "phone", "email", "sms"] = Field(
        description="in_person（当面）、phone（电话）、email（电子邮件）、sms（短信）")
    text: str = Field(max_length=2000)
    promises: list[PromiseIn] = Field(default_factory=list, max_length=20)


class ReturnVisitIn(Strict):
    method: Literal["phone", "on_site", "undercover"] = Field(
        description="phone（电话回访）、on_site（实地督查）、undercover（暗访）")
    result: str = Field(max_length=1000)


class SatisfactionIn(Strict):
    satisfaction: str
    comment: str = Field("", max_length=1000)


class IndicatorIn(Strict):
    code: str = Field(max_length=40)
    level: int = Field(description="1 非常满意 … 5 非常不满意")


class RateCaseIn(Strict):
    case_number: str = Field(max_length=64, description="办件编号")
    id_suffix: str = Field(max_length=6, description="申请人身份证号码后 6 位")
    level: int = Field(description="1 非常满意、2 满意、3 基本满意、4 不满意、5 非常不满意（4、5 为差评）")
    indicators: list[IndicatorIn] = Field(default_factory=list, max_length=10)
    text: str = Field("", max_length=1000)
    rater_name: str = Field("", max_length=50, description="实名评价可填姓名（差评将回访）")
    phone: str = Field("", max_length=20)


class RatingIn(Strict):
    channel: Literal["window", "unit_comment", "supervision"] = Field(
        description="window（一次一评，窗口评价器）、unit_comment（综合点评）、"
                                     "supervision（监督查评）")
    tenant: str = Field("", max_length=12, description="被评价单位（综合点评、监督查评）")
    case_number: str = Field("", max_length=64)
    item_id: str = Field("", max_length=64)
    staff: str = Field("", max_length=100)
    department: str = Field("", max_length=100)
    level: int
    indicators: list[IndicatorIn] = Field(default_factory=list, max_length=10)
    text: str = Field("", max_length=1000)
    rater_name: str = Field("", max_length=50)
    phone: str = Field("", max_length=20)


class RectifyIn(Strict):
    verification: str = Field(max_length=2000, description="核实情况")
    measures: str = Field(max_length=2000, description="整改措施")
    answer: str = Field(max_length=2000, description="反馈评价人的答复")


class RateRectificationIn(Strict):
    case_number: str = Field(max_length=64)
    id_suffix: str = Field(max_length=6)
    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"] = Field(
        description="satisfied、basically_satisfied、dissatisfied")
    comment: str = Field("", max_length=1000)


class AppealIn(Strict):
    reason: str = Field(max_length=2000)
    evidence: str = Field(max_length=2000)


class DecideAppealIn(Strict):
    upheld: bool
    note: str = Field(max_length=2000)


def _file_request(b: FileIn) -> pb.FileComplaintRequest:
    return pb.FileComplaintRequest(channel=b.channel, kind=b.kind, category=b.category, content=b.content,
                                   subject=pb.Subject(**b.subject.model_dump()),
                                   complainant=pb.Complainant(**b.complainant.model_dump()),
                                   lead_department=b.lead_department, co_departments=b.co_departments)


def _indicators(items: list[IndicatorIn]) -> list[pb.Indicator]:
    return [pb.Indicator(code=i.code, level=i.level) for i in items]


# -- staff: complaints -----------------------------------------------------------------------------------
@router.post(P, status_code=201, summary="登记投诉（吐槽找茬窗口；村代办员代为登记）")
def file_complaint(body: FileIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "FileComplaint", _file_request(body)))


@router.get(P, summary="本单位的投诉（监察：含下级）")
def list_complaints(request: Request, p: User, status: str = status_query(pb.ComplaintStatus, "投诉状态"),
                    unassigned_only: bool = Query(False, description="只看尚未指派专人的"),
                    limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)):
    return to_json(complaints.call(request, p, "ListComplaints", pb.ListComplaintsRequest(
        status=status_number(pb.ComplaintStatus, status), unassigned_only=unassigned_only, limit=limit,
        offset=offset)))


@router.get(P + "/{complaint_id}", summary="投诉详情（投诉人身份仅对办理人员和监察可见）")
def get_complaint(complaint_id: str, request: Request, p: User):
    return to_json(complaints.call(request, p, "GetComplaint", pb.GetComplaintRequest(complaint_id=complaint_id)))


@router.post(P + "/{complaint_id}/assign", summary="安排专人办理")
def assign(complaint_id: str, body: AssignIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "AssignHandler",
                                   pb.AssignHandlerRequest(complaint_id=complaint_id, **body.model_dump())))


@router.post(P + "/{complaint_id}/progress", summary="报告办理动态（3日报动态）")
def report_progress(complaint_id: str, body: TextIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "ReportProgress",
                                   pb.ReportProgressRequest(complaint_id=complaint_id, text=body.text)))


@router.post(P + "/{complaint_id}/investigations", summary="记录调查核实（走访群众、现场查看）")
def record_investigation(complaint_id: str, body: InvestigationIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "RecordInvestigation",
                                   pb.RecordInvestigationRequest(complaint_id=complaint_id, **body.model_dump())))


@router.post(P + "/{complaint_id}/departments", summary="牵头/协办部门报告办理情况")
def report_department(complaint_id: str, body: DepartmentPartIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "ReportDepartmentPart",
                                   pb.ReportDepartmentPartRequest(complaint_id=complaint_id, **body.model_dump())))


@router.post(P + "/{complaint_id}/extension", summary="申请延期办理（办理时限内，原因告知投诉人）")
def request_extension(complaint_id: str, body: ExtensionIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "RequestExtension",
                                   pb.RequestExtensionRequest(complaint_id=complaint_id, **body.model_dump())))


@router.post(P + "/{complaint_id}/extension/approve", summary="单位负责人批准延期")
def approve_extension(complaint_id: str, request: Request, p: User):
    return to_json(complaints.call(request, p, "ApproveExtension",
                                   pb.ApproveExtensionRequest(complaint_id=complaint_id)))


@router.post(P + "/{complaint_id}/reply", summary="答复办理结果（7日报结果）")
def reply(complaint_id: str, body: ReplyIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "Reply", pb.ReplyRequest(
        complaint_id=complaint_id, outcome=body.outcome, channel=body.channel, text=body.text,
        promises=[pb.Promise(**x.model_dump()) for x in body.promises])))


@router.post(P + "/{complaint_id}/follow-ups/{follow_up_id}/visit", summary="回访承诺事项（电话回访、实地督查、暗访）")
def return_visit(complaint_id: str, follow_up_id: str, body: ReturnVisitIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "RecordReturnVisit", pb.RecordReturnVisitRequest(
        complaint_id=complaint_id, follow_up_id=follow_up_id, **body.model_dump())))


@router.post(P + "/{complaint_id}/satisfaction", summary="记录投诉人对办理的评价（回访时）")
def record_satisfaction(complaint_id: str, body: SatisfactionIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "RecordSatisfaction",
                                   pb.RecordSatisfactionRequest(complaint_id=complaint_id, **body.model_dump())))


# -- staff: ratings, rectification, appeals -------------------------------------------------------------------
R = "/api/v1/ratings"


@router.post(R, status_code=201, summary="一次一评（窗口评价器）、监督查评")
def submit_rating(body: RatingIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "SubmitRating", _rating_request(body)))


def _rating_request(b: RatingIn) -> pb.SubmitRatingRequest:
    return pb.SubmitRatingRequest(channel=b.channel, tenant=b.tenant, case_number=b.case_number, item_id=b.item_id,
                                  staff=b.staff, department=b.department, level=b.level,
                                  indicators=_indicators(b.indicators), text=b.text, rater_name=b.rater_name,
                                  phone=b.phone)


@router.get(R, summary="本单位收到的评价")
def list_ratings(request: Request, p: User, bad_only: bool = False, limit: int = Query(50, ge=1, le=200),
                 offset: int = Query(0, ge=0)):
    return to_json(complaints.call(request, p, "ListRatings",
                                   pb.ListRatingsRequest(bad_only=bad_only, limit=limit, offset=offset)))


@router.get(R + "/{rating_id}", summary="评价详情")
def get_rating(rating_id: str, request: Request, p: User):
    return to_json(complaints.call(request, p, "GetRating", pb.GetRatingRequest(rating_id=rating_id)))


@router.post(R + "/{rating_id}/appeal", status_code=201, summary="对评价申诉复核（附证据）")
def appeal(rating_id: str, body: AppealIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "AppealRating",
                                   pb.AppealRatingRequest(rating_id=rating_id, **body.model_dump())))


@router.get("/api/v1/appeals", summary="申诉（本单位提出的；监察：下级提出的）")
def list_appeals(request: Request, p: User, pending_only: bool = False):
    return to_json(complaints.call(request, p, "ListAppeals", pb.ListAppealsRequest(pending_only=pending_only)))


@router.post("/api/v1/appeals/{appeal_id}/decide", summary="上一级监察复核申诉")
def decide_appeal(appeal_id: str, body: DecideAppealIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "DecideAppeal",
                                   pb.DecideAppealRequest(appeal_id=appeal_id, **body.model_dump())))


X = "/api/v1/rectifications"


@router.get(X, summary="差评整改单")
def list_rectifications(request: Request, p: User, status: str = status_query(pb.RectificationStatus, "整改状态")):
    return to_json(complaints.call(request, p, "ListRectifications", pb.ListRectificationsRequest(
        status=status_number(pb.RectificationStatus, status))))


@router.get(X + "/{rectification_id}", summary="整改单详情")
def get_rectification(rectification_id: str, request: Request, p: User):
    return to_json(complaints.call(request, p, "GetRectification",
                                   pb.GetRectificationRequest(rectification_id=rectification_id)))


@router.post(X + "/{rectification_id}/rectify", summary="核实、整改并反馈评价人")
def rectify(rectification_id: str, body: RectifyIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "Rectify",
                                   pb.RectifyRequest(rectification_id=rectification_id, **body.model_dump())))


@router.post(X + "/{rectification_id}/visit", summary="差评回访（实名差评 100% 回访）")
def rectification_visit(rectification_id: str, body: ReturnVisitIn, request: Request, p: User):
    return to_json(complaints.call(request, p, "RecordRectificationVisit",
                                   pb.RectificationVisitRequest(rectification_id=rectification_id,
                                                                **body.model_dump())))


# -- the public ------------------------------------------------------------------------------------------
@router.get("/api/v1/public/complaint-categories", tags=[PUBLIC], summary="投诉类别")
def categories(request: Request):
    return to_json(complaints.call(request, None, "ListCategories", pb.ListCategoriesRequest()))


@router.post("/api/v1/public/complaints", status_code=201, tags=[PUBLIC],
             summary="网上投诉、举报（无需登录；举报可匿名）：回执含投诉编号和答复期限")
def file_public(body: PublicFileIn, request: Request):
    return to_json(complaints.call(request, None, "FilePublicComplaint", pb.FilePublicComplaintRequest(
        kind=body.kind, category=body.category, content=body.content, subject=pb.Subject(**body.subject.model_dump()),
        complainant=pb.Complainant(**body.complainant.model_dump()))))


@router.post("/api/v1/public/complaints/follow", tags=[PUBLIC], summary="查询投诉办理情况（投诉编号 + 电话后四位）")
def follow(body: FollowIn, request: Request):
    return to_json(complaints.call(request, None, "FollowComplaint",
                                   pb.FollowComplaintRequest(**body.model_dump())))


@router.post("/api/v1/public/complaints/satisfaction", tags=[PUBLIC],
             summary="评价投诉办理（满意 / 基本满意 / 不满意）")
def rate_handling(body: RateHandlingIn, request: Request):
    return to_json(complaints.call(request, None, "RateComplaintHandling",
                                   pb.RateComplaintHandlingRequest(**body.model_dump())))


@router.post("/api/v1/public/ratings", status_code=201, tags=[PUBLIC],
             summary="一事一评（办件编号 + 身份证号码后 6 位；受理通知单等上的二维码打开此评价）")
def rate_case(body: RateCaseIn, request: Request):
    return to_json(complaints.call(request, None, "RateCase", pb.RateCaseRequest(
        case_number=body.case_number, id_suffix=body.id_suffix, level=body.level,
        indicators=_indicators(body.indicators), text=body.text, rater_name=body.rater_name, phone=body.phone)))


@router.post("/api/v1/public/unit-comments", status_code=201, tags=[PUBLIC], summary="综合点评（对单位的评价）")
def unit_comment(body: RatingIn, request: Request):
    if body.channel != "unit_comment":
        raise InvalidArgument("channel", "公众点评的渠道应为 unit_comment")
    return to_json(complaints.call(request, None, "SubmitRating", _rating_request(body)))


@router.post("/api/v1/public/rectifications/rate", tags=[PUBLIC],
             summary="评价差评的整改（办件编号 + 身份证号码后 6 位）")
def rate_rectification(body: RateRectificationIn, request: Request):
    return to_json(complaints.call(request, None, "RateRectification",
                                   pb.RateRectificationRequest(**body.model_dump())))


@router.get("/api/v1/public/ratings/figures", tags=[PUBLIC],
            summary="满意度（非常满意 + 满意的占比）和评价数：按事项或单位，不含个人信息")
def figures(request: Request, item_id: str = Query("", max_length=64), unit: str = Query("", max_length=12)):
    return to_json(complaints.call(request, None, "PublicFigures",
                                   pb.PublicFiguresRequest(item_id=item_id, unit=unit)))


# -- the 12345 hotline ---------------------------------------------------------------------------------------
@router.post("/api/v1/hotline/complaints", tags=["12345 热线"], summary="12345 热线转办投诉（SM2 验签，无需登录）")
def hotline(request: Request, body: dict = Body(...)):
    signature = body.get("signature")
    if not isinstance(signature, str):
        raise InvalidArgument("signature", "缺少签名")
    fields: dict[str, str] = {}
    for key, value in body.items():
        if key == "signature":
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str | int):
            raise InvalidArgument(str(key)[:64], "字段值应为文本")
        fields[str(key)] = str(value)
    return to_json(complaints.call(request, None, "HotlineHandOver",
                                   pb.HotlineHandOverRequest(fields=fields, signature=signature)))
