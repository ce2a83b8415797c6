"""gRPC servicer and event subscriptions of the approval service: translate, call a handler, translate back."""

from __future__ import annotations

from sanji.approval.v1 import approval_pb2 as pb
from sanji.approval.v1 import approval_pb2_grpc
from sanji.fees.v1 import events_pb2 as fees_ev
from sanji.intake.v1 import events_pb2 as intake_ev

from services.approval.administration import AdministrationHandlers
from services.approval.handlers import ApprovalHandlers, CaseView
from services.approval.project_handlers import ProjectHandlers
from services.approval.translate import (
    calendar_change_to_pb,
    calendar_changes_to_pb,
    case_status_filter,
    case_to_pb,
    categories_to_pb,
    desks_to_pb,
    open_case_command,
    pick_up_command,
    project_to_pb,
    queue_to_pb,
    report_to_pb,
    seal_to_pb,
    settle_fees_command,
    task_from_case,
    terminate_command,
)
from shared.db import Database
from shared.grpc.server import Registration
from shared.messaging import EventConsumer, On, consumer_for
from shared.tenancy import current_principal

# the onboarding service's day-one set-up of a new unit and its readiness check, on its own credential only: a job
# runs for no person, so they are public and internal at once, as intake's SubmitOnlineApplication
INTERNAL_METHODS = {"SetUpUnitBackOffice": ("onboarding",), "GetBackOfficeReadiness": ("onboarding",)}
PUBLIC_METHODS = ("ListCategories", *INTERNAL_METHODS)


class ApprovalServicer(approval_pb2_grpc.ApprovalServiceServicer):
    def __init__(self, handlers: ApprovalHandlers, admin: AdministrationHandlers, projects: ProjectHandlers):
        self.h = handlers
        self.admin = admin
        self.projects = projects
        self.desk_name = handlers.categories.desk_name

    def _case(self, view: CaseView) -> pb.Case:
        return case_to_pb(view, self.desk_name)

    def ListQueue(self, request, context):
        return queue_to_pb(*self.h.list_queue(current_principal(), request.desk, request.kind, request.mine,
                                              request.limit, request.offset), self.desk_name)

    def ClaimTask(self, request, context):
        return task_from_case(*self.h.claim(current_principal(), request.step_id, request.desk, request.kind),
                              self.desk_name)

    def ReleaseTask(self, request, context):
        return task_from_case(*self.h.release(current_principal(), request.step_id), self.desk_name)

    def GetCase(self, request, context):
        return self._case(self.h.get_case(current_principal(), request.case_id, request.case_number))

    def ListCases(self, request, context):
        views, total, capped = self.h.list_cases(current_principal(), case_status_filter(request.status) or "",
                                                 request.overdue_only, request.limit, request.offset)
        return pb.ListCasesResponse(cases=[self._case(v) for v in views], total=total, total_capped=capped)

    def CompleteReview(self, request, context):
        return self._case(self.h.complete_review(current_principal(), request.step_id, request.opinion,
                                                 request.conclusion))

    def Decide(self, request, context):
        return self._case(self.h.decide(current_principal(), request.case_id, request.outcome, request.opinion,
                                        list(request.reasons), request.reconsideration_body, request.court))

    def DecideImmediately(self, request, context):
        return self._case(self.h.decide(current_principal(), request.case_id, request.outcome, request.opinion,
                                        list(request.reasons), request.reconsideration_body, request.court,
                                        immediate=True))

    def SuspendClock(self, request, context):
        return self._case(self.h.suspend(current_principal(), request.case_id, request.procedure, request.reason,
                                         request.days))

    def ResumeClock(self, request, context):
        return self._case(self.h.resume(current_principal(), request.case_id, request.reason))

    def ExtendDeadline(self, request, context):
        return self._case(self.h.extend(current_principal(), request.case_id, request.days, request.reason))

    def RequestInspection(self, request, context):
        return self._case(self.h.request_inspection(current_principal(), request.case_id, request.mode,
                                                    list(request.departments), request.scheduled_on,
                                                    request.inspectors, request.note))

    def RecordInspection(self, request, context):
        return self._case(self.h.record_inspection(current_principal(), request.case_id, request.inspection_id,
                                                   request.findings, request.conclusion))

    def RecordDelivery(self, request, context):
        return self._case(self.h.deliver(current_principal(), request.case_id, request.method, request.recipient,
                                         request.tracking_number))

    def GetDocument(self, request, context):
        content, filename, title = self.h.document(current_principal(), request.case_id, request.kind,
                                                   request.ledger_id)
        return pb.Document(content=content, content_type="application/pdf", filename=filename, title=title)

    def AssignDesks(self, request, context):
        desks = self.admin.assign_desks(current_principal(), request.username, list(request.desks),
                                        request.display_name)
        return pb.DeskAssignment(username=request.username.strip(), desks=desks, display_name=request.display_name)

    def ListDesks(self, request, context):
        return desks_to_pb(*self.admin.list_desks(current_principal()))

    def RegisterSeal(self, request, context):
        p = current_principal()
        return seal_to_pb(self.admin.register_seal(p, request.name, request.code), str(p.tenant))

    def GetSeal(self, request, context):
        p = current_principal()
        return seal_to_pb(self.admin.get_seal(p), str(p.tenant))

    def SetUpUnitBackOffice(self, request, context):
        desks, sealed = self.admin.set_up_unit_back_office(
            current_principal(), request.unit, request.unit_name,
            [(s.username, s.name, s.decider) for s in request.staff])
        return pb.SetUpUnitBackOfficeResponse(desks=[pb.StaffDesks(username=u, desks=d) for u, d in desks.items()],
                                              placeholder_seal_registered=sealed)

    def GetBackOfficeReadiness(self, request, context):
        seal, placeholder = self.admin.back_office_readiness(current_principal(), request.unit)
        return pb.BackOfficeReadiness(seal=seal, placeholder_seal=placeholder)

    def PublishCalendarYear(self, request, context):
        return report_to_pb(self.admin.publish_calendar_year(current_principal(), request.year, dict(request.holidays),
                                                             dict(request.makeup_workdays), request.region,
                                                             request.reason))

    def ReprojectDeadlines(self, request, context):
        return report_to_pb(self.admin.reproject_mine(current_principal(), request.cause))

    def ProposeLocalHoliday(self, request, context):
        return calendar_change_to_pb(self.admin.propose_local_holiday(current_principal(), request.day, request.name,
                                                                      request.reason))

    def ApproveLocalHoliday(self, request, context):
        return calendar_change_to_pb(self.admin.approve_local_holiday(current_principal(), request.change_id))

    def ListCalendarChanges(self, request, context):
        return calendar_changes_to_pb(self.admin.list_calendar_changes(current_principal(), request.limit,
                                                                       request.offset))

    def ListCategories(self, request, context):
        return categories_to_pb(self.admin.list_categories())

    def CreateProject(self, request, context):
        return project_to_pb(self.projects.create(current_principal(), request.name, request.kind, request.limit_days,
                                                  request.started_on))

    def AddCaseToProject(self, request, context):
        return project_to_pb(self.projects.add_case(current_principal(), request.project_id, request.case_number))

    def SuspendProject(self, request, context):
        return project_to_pb(self.projects.suspend(current_principal(), request.project_id, request.reason))

    def ResumeProject(self, request, context):
        return project_to_pb(self.projects.resume(current_principal(), request.project_id))

    def GetProject(self, request, context):
        return project_to_pb(self.projects.get(current_principal(), request.project_id))


def registration(handlers: ApprovalHandlers, admin: AdministrationHandlers,
                 projects: ProjectHandlers | None = None) -> Registration:
    """`projects`: by default built on the case handlers' own database, clock, calendars and categories."""
    projects = projects or ProjectHandlers(handlers.db, handlers.clock, handlers.events_out,
                                           calendars=handlers.calendars, categories=handlers.categories)
    return Registration(servicer=ApprovalServicer(handlers, admin, projects),
                        add_to_server=approval_pb2_grpc.add_ApprovalServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["ApprovalService"].full_name,
                        public_methods=PUBLIC_METHODS, internal_methods=INTERNAL_METHODS)


# Cases open on intake's `application_accepted`; fees settle on `fees_settled`; intake's hand-out
# (`result_picked_up`) is the delivery; `application_terminated` ends an undecided case. One row per
# subscription of shared/registry.py, whose handler names name the queues
# (evt-<source>-<type>--approval.<handler>).
SUBSCRIPTIONS = (
    On("open_case", intake_ev.ApplicationAccepted,
       lambda h, m, env, uow: h.on_application_accepted(open_case_command(m, env), env, uow)),
    On("settle_fees", fees_ev.FeesSettled,
       lambda h, m, env, uow: h.on_fees_settled(settle_fees_command(m, env), env, uow)),
    On("record_delivery", intake_ev.ResultPickedUp,
       lambda h, m, env, uow: h.on_result_picked_up(pick_up_command(m, env), env, uow)),
    On("terminate_case", intake_ev.ApplicationTerminated,
       lambda h, m, env, uow: h.on_application_terminated(terminate_command(m, env), env, uow)),
)


def event_consumer(handlers: ApprovalHandlers, db: Database, amqp_url: str, **options) -> EventConsumer:
    """The approval service's consumer: one queue per row of SUBSCRIPTIONS, each delivery in a unit of work
    bound to the envelope's tenant."""
    return consumer_for("approval", SUBSCRIPTIONS, handlers, db, amqp_url, **options)
