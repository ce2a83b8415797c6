"""REST edge of the back office (后台分类审批) for reviewers, deciders, the head, the window's chief
representative and the unit's administrator: the queue of a desk, a case with its materials, history and
deadline trace, and the actions on it.

Types are checked here (422 naming the field); the rules are the approval service's (also 422 naming the
field, 403 for a role, 409 for a state that does not allow the action). The caller's token travels with
each call, so the service checks the same person again.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field
from sanji.approval.v1 import approval_pb2 as pb
from sanji.approval.v1 import approval_pb2_grpc

from gateway.edge import User
from gateway.rest import Backend, Strict, file_response, status_number, status_query, to_json

router = APIRouter(prefix="/api/v1/approval", tags=["后台审批"])
approval = Backend("approval", approval_pb2_grpc.ApprovalServiceStub)


class ClaimNextIn(Strict):
    desk: str = Field("", max_length=100, description="岗位：后台分类（如 market_access）或联办部门；空为本人全部岗位")
    kind: Literal["", "review", "department_review", "decision"] = Field(
        "", description="环节：review、department_review、decision；空为本人角色可办的环节")


class ReviewIn(Strict):
    opinion: str = Field(max_length=2000, description="审查意见")
    conclusion: Literal["agree", "disagree"] = Field("agree", description="agree（同意）或 disagree（不同意）")


class DecideIn(Strict):
    outcome: str = Field(description="approve（准予）或 deny（不予）")
    opinion: str = Field("", max_length=2000, description="决定意见")
    reasons: list[str] = Field(default_factory=list, description="不予许可的理由（逐条）")
    reconsideration_body: str = Field("", max_length=100, description="行政复议机关（默认：本级人民政府）")
    court: str = Field("", max_length=100, description="管辖人民法院（默认：有管辖权的人民法院）")


class SuspendIn(Strict):
    procedure: str = Field(description="听证、招标、拍卖、检验、检测、检疫、鉴定、专家评审、现场踏勘"
                                       "或申请人补正（代码或中文）")
    reason: str = Field(max_length=1000)
    days: int = Field(description="告知申请人的暂停时长（工作日）")


class ResumeIn(Strict):
    reason: str = Field("", max_length=1000)


class ExtendIn(Strict):
    days: int = Field(description="延长的工作日数（法定期限，累计不超过 10 日；联办 15 日）")
    reason: str = Field(max_length=1000)


class InspectionIn(Strict):
    mode: Literal["independent", "joint", "delegated"] = Field(
        description="independent（独立踏勘）、joint（联合踏勘）或 delegated（委托原职能部门）")
    departments: list[str] = Field(default_factory=list)
    scheduled_on: str = Field(description="踏勘日期 YYYY-MM-DD", json_schema_extra={"format": "date"})
    inspectors: str = Field("", max_length=200)
    note: str = Field("", max_length=1000)


class FindingsIn(Strict):
    findings: str = Field(max_length=4000)
    conclusion: Literal["pass", "fail"] = Field(description="pass（符合要求）或 fail（不符合要求）")


class DeliveryIn(Strict):
    method: Literal["window", "post", "village"] = Field(
        description="window（综合窗口领取）、post（邮寄送达）或 village（代办点转交）")
    recipient: str = Field("", max_length=100)
    tracking_number: str = Field("", max_length=64)


class DesksIn(Strict):
    desks: list[str] = Field(default_factory=list, description="岗位：后台分类代码或联办部门名称")
    display_name: str = Field("", max_length=50)


class SealIn(Strict):
    name: str = Field(max_length=100, description="如：××县行政审批局行政审批专用章")
    code: str = Field(max_length=64)


class CalendarYearIn(Strict):
    holidays: dict[str, str] = Field(description="YYYY-MM-DD → 节日名称")
    makeup_workdays: dict[str, str] = Field(default_factory=dict, description="调休上班的周六、周日 → 节日名称")
    region: str = Field("", description="空为本单位；或下级单位的区划代码")
    reason: str = Field("", max_length=500, description="依据，如国务院办公厅通知")


class ReprojectIn(Strict):
    cause: str = Field("", max_length=500)


class LocalHolidayIn(Strict):
    day: str = Field(max_length=10, description="YYYY-MM-DD：今后的一个工作日")
    name: str = Field(max_length=50, description="地方节假日名称")
    reason: str = Field("", max_length=500, description="依据，如省政府批复")


class ProjectIn(Strict):
    name: str = Field(max_length=200, description="建设项目名称")
    kind: Literal["real_estate", "construction"] = Field(
        description="real_estate 房地产建设项目（≤70 个工作日）；construction 工程建设项目（≤100 个工作日）")
    limit_days: int = Field(0, ge=0, le=100, description="全流程时限（工作日），0 为该类项目的上限")
    started_on: str = Field("", max_length=10, description="起算日期 YYYY-MM-DD，空为今天")


class ProjectCaseIn(Strict):
    case_number: str = Field(max_length=64, description="本单位的办件编号")


class ProjectSuspendIn(Strict):
    reason: str = Field(max_length=500, description="项目暂停计时的事由")


# -- queue and cases ---------------------------------------------------------------------------------

@router.get("/queue", summary="待办队列（按岗位，最紧急的在前）")
def queue(request: Request, p: User, desk: str = "", kind: str = "", mine: bool = False,
          limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)):
    return to_json(approval.call(request, p, "ListQueue",
                                 pb.ListQueueRequest(desk=desk, kind=kind, mine=mine, limit=limit, offset=offset)))


@router.post("/queue/claim", summary="从队列认领下一件")
def claim_next(request: Request, body: ClaimNextIn, p: User):
    return to_json(approval.call(request, p, "ClaimTask", pb.ClaimTaskRequest(desk=body.desk, kind=body.kind)))


@router.post("/tasks/{step_id}/claim", summary="认领指定环节")
def claim(request: Request, step_id: str, p: User):
    return to_json(approval.call(request, p, "ClaimTask", pb.ClaimTaskRequest(step_id=step_id)))


@router.post("/tasks/{step_id}/release", summary="放弃认领，退回队列")
def release(request: Request, step_id: str, p: User):
    return to_json(approval.call(request, p, "ReleaseTask", pb.ReleaseTaskRequest(step_id=step_id)))


@router.post("/tasks/{step_id}/review", summary="提交审查意见（含联办部门审查）")
def review(request: Request, step_id: str, body: ReviewIn, p: User):
    return to_json(approval.call(request, p, "CompleteReview", pb.CompleteReviewRequest(
        step_id=step_id, opinion=body.opinion, conclusion=body.conclusion)))


@router.get("/cases", summary="本单位办件（可按状态、超期筛选）")
def cases(request: Request, p: User, status: str = status_query(pb.CaseStatus, "办件状态"), overdue_only: bool = False,
          limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0)):
    return to_json(approval.call(request, p, "ListCases", pb.ListCasesRequest(
        status=status_number(pb.CaseStatus, status), overdue_only=overdue_only, limit=limit, offset=offset)))


@router.get("/cases/by-number/{case_number}", summary="按办件编号查看办件")
def case_by_number(request: Request, case_number: str, p: User):
    return to_json(approval.call(request, p, "GetCase", pb.GetCaseRequest(case_number=case_number)))


@router.get("/cases/{case_id}", summary="办件详情：材料、环节、时限台账、期限计算过程、办理记录")
def case(request: Request, case_id: str, p: User):
    return to_json(approval.call(request, p, "GetCase", pb.GetCaseRequest(case_id=case_id)))


# -- actions -----------------------------------------------------------------------------------------
def _in_full(request: Request, p, case: pb.Case) -> pb.Case:
    """A decision's answer as the case reads afterwards: with the deadlines' working-day traces and the
    history (an action's own answer carries the due dates only, and a newcomer took the empty trace for a bug)."""
    return approval.call(request, p, "GetCase", pb.GetCaseRequest(case_id=case.id))


@router.post("/cases/{case_id}/decide", summary="作出决定（准予／不予许可）")
def decide(request: Request, case_id: str, body: DecideIn, p: User):
    decided = approval.call(request, p, "Decide", pb.DecideRequest(case_id=case_id, **body.model_dump()))
    return to_json(_in_full(request, p, decided))


@router.post("/cases/{case_id}/decide-immediately", summary="即办件：窗口首席代表当场决定")
def decide_immediately(request: Request, case_id: str, body: DecideIn, p: User):
    decided = approval.call(request, p, "DecideImmediately",
                            pb.DecideImmediatelyRequest(case_id=case_id, **body.model_dump()))
    return to_json(_in_full(request, p, decided))


@router.post("/cases/{case_id}/suspend", summary="暂停计时（特别程序或申请人补正）")
def suspend(request: Request, case_id: str, body: SuspendIn, p: User):
    return to_json(approval.call(request, p, "SuspendClock", pb.SuspendClockRequest(
        case_id=case_id, procedure=body.procedure, reason=body.reason, days=body.days)))


@router.post("/cases/{case_id}/resume", summary="恢复计时")
def resume(request: Request, case_id: str, body: ResumeIn, p: User):
    return to_json(approval.call(request, p, "ResumeClock", pb.ResumeClockRequest(case_id=case_id, reason=body.reason)))


@router.post("/cases/{case_id}/extend", summary="延长法定期限（机关负责人批准）")
def extend(request: Request, case_id: str, body: ExtendIn, p: User):
    return to_json(approval.call(request, p, "ExtendDeadline",
                                 pb.ExtendDeadlineRequest(case_id=case_id, days=body.days, reason=body.reason)))


@router.post("/cases/{case_id}/inspections", summary="安排现场踏勘（独立／联合／委托原职能部门）")
def request_inspection(request: Request, case_id: str, body: InspectionIn, p: User):
    return to_json(approval.call(request, p, "RequestInspection", pb.RequestInspectionRequest(
        case_id=case_id, mode=body.mode, departments=body.departments, scheduled_on=body.scheduled_on,
        inspectors=body.inspectors, note=body.note)))


@router.post("/cases/{case_id}/inspections/{inspection_id}/findings", summary="记录踏勘结果")
def record_inspection(request: Request, case_id: str, inspection_id: str, body: FindingsIn, p: User):
    return to_json(approval.call(request, p, "RecordInspection", pb.RecordInspectionRequest(
        case_id=case_id, inspection_id=inspection_id, findings=body.findings, conclusion=body.conclusion)))


@router.post("/cases/{case_id}/delivery", summary="送达（窗口领取或邮寄）")
def deliver(request: Request, case_id: str, body: DeliveryIn, p: User):
    return to_json(approval.call(request, p, "RecordDelivery", pb.RecordDeliveryRequest(
        case_id=case_id, method=body.method, recipient=body.recipient, tracking_number=body.tracking_number)))


@router.get("/cases/{case_id}/documents/{kind}.pdf", summary="文书：certificate、decision、suspension_notice")
def document(request: Request, case_id: str, kind: str, p: User, ledger_id: str = ""):
    r = approval.call(request, p, "GetDocument", pb.GetDocumentRequest(case_id=case_id, kind=kind, ledger_id=ledger_id))
    return file_response(r.content, r.content_type, r.filename)


# -- administration ----------------------------------------------------------------------------------

@router.get("/desks", summary="岗位分配（管理员看全部，其他人看本人）")
def desks(request: Request, p: User):
    return to_json(approval.call(request, p, "ListDesks", pb.ListDesksRequest()))


@router.put("/desks/{username}", summary="分配工作人员的岗位（单位管理员）")
def assign_desks(request: Request, username: str, body: DesksIn, p: User):
    return to_json(approval.call(request, p, "AssignDesks", pb.AssignDesksRequest(
        username=username, desks=body.desks, display_name=body.display_name)))


@router.get("/seal", summary="本单位行政审批专用章")
def seal(request: Request, p: User):
    return to_json(approval.call(request, p, "GetSeal", pb.GetSealRequest()))


@router.post("/seal", summary="登记行政审批专用章（一枚印章管审批）", status_code=201)
def register_seal(request: Request, body: SealIn, p: User):
    return to_json(approval.call(request, p, "RegisterSeal", pb.RegisterSealRequest(name=body.name, code=body.code)))


@router.post("/calendar/{year}", summary="发布（更正）某年节假日安排，并重新计算在办件期限")
def publish_calendar_year(request: Request, year: int, body: CalendarYearIn, p: User):
    return to_json(approval.call(request, p, "PublishCalendarYear", pb.PublishCalendarYearRequest(
        year=year, holidays=body.holidays, makeup_workdays=body.makeup_workdays, region=body.region,
        reason=body.reason), at_least=120.0))


@router.post("/calendar/reproject", summary="按现行工作日历重新计算在办件期限")
def reproject(request: Request, body: ReprojectIn, p: User):
    return to_json(approval.call(request, p, "ReprojectDeadlines",
                                 pb.ReprojectDeadlinesRequest(cause=body.cause), at_least=120.0))


@router.post("/local-holidays", summary="申请增设地方节假日（市县单位管理员；须本单位另一人批准）", status_code=201)
def propose_local_holiday(request: Request, body: LocalHolidayIn, p: User):
    return to_json(approval.call(request, p, "ProposeLocalHoliday", pb.ProposeLocalHolidayRequest(
        day=body.day, name=body.name, reason=body.reason)))


@router.post("/local-holidays/{change_id}/approve", summary="批准地方节假日（本单位另一人），并重新计算在办件期限")
def approve_local_holiday(request: Request, change_id: str, p: User):
    return to_json(approval.call(request, p, "ApproveLocalHoliday",
                                 pb.ApproveLocalHolidayRequest(change_id=change_id), at_least=120.0))


@router.get("/calendar-changes", summary="地方节假日变更记录及其顺延的办件（本单位与上级监察）")
def calendar_changes(request: Request, p: User, limit: int = Query(50, ge=1, le=200),
                     offset: int = Query(0, ge=0, le=2_147_483_647)):
    return to_json(approval.call(request, p, "ListCalendarChanges",
                                 pb.ListCalendarChangesRequest(limit=limit, offset=offset)))


@router.get("/categories", summary="后台分类")
def categories(request: Request):
    return to_json(approval.call(request, None, "ListCategories", pb.ListCategoriesRequest()))


# -- whole-project limits (全流程审批时限) ------------------------------------------------------------------

@router.post("/projects", summary="建立建设项目（房地产≤70、工程建设≤100个工作日）", status_code=201)
def create_project(request: Request, body: ProjectIn, p: User):
    return to_json(approval.call(request, p, "CreateProject", pb.CreateProjectRequest(
        name=body.name, kind=body.kind, limit_days=body.limit_days, started_on=body.started_on)))


@router.get("/projects/{project_id}", summary="建设项目：全流程时限、暂停台账、各办件及卡在哪个部门")
def get_project(request: Request, project_id: str, p: User):
    return to_json(approval.call(request, p, "GetProject", pb.GetProjectRequest(project_id=project_id)))


@router.post("/projects/{project_id}/cases", summary="将本单位办件纳入建设项目")
def add_project_case(request: Request, project_id: str, body: ProjectCaseIn, p: User):
    return to_json(approval.call(request, p, "AddCaseToProject", pb.AddCaseToProjectRequest(
        project_id=project_id, case_number=body.case_number)))


@router.post("/projects/{project_id}/suspend", summary="项目暂停计时（写明事由）")
def suspend_project(request: Request, project_id: str, body: ProjectSuspendIn, p: User):
    return to_json(approval.call(request, p, "SuspendProject", pb.SuspendProjectRequest(
        project_id=project_id, reason=body.reason)))


@router.post("/projects/{project_id}/resume", summary="项目恢复计时")
def resume_project(request: Request, project_id: str, p: User):
    return to_json(approval.call(request, p, "ResumeProject", pb.ResumeProjectRequest(project_id=project_id)))
