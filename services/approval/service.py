"""gRPC servicer and event consumer of the approval service: translate, call a handler, translate back."""

from __future__ import annotations

from sanji.approval.v1 import approval_pb2 as pb
from sanji.approval.v1 import approval_pb2_grpc

from services.approval.handlers import ApprovalHandlers, CaseView
from services.approval.translate import case_to_pb, task_from_case, task_from_row
from shared.db import Database
from shared.grpc.server import Registration
from shared.messaging import EventConsumer
from shared.tenancy import current_principal

SERVICE = "approval"
# (source service, event type, handler name): the queues are evt-<source>-<type>--approval.<handler>
SUBSCRIPTIONS = (("intake", "application_accepted", "open_case"), ("fees", "fees_settled", "settle_fees"),
                 ("intake", "result_picked_up", "record_delivery"),
                 ("intake", "application_terminated", "terminate_case"))


class ApprovalServicer(approval_pb2_grpc.ApprovalServiceServicer):
    def __init__(self, handlers: ApprovalHandlers):
        self.h = handlers

    def _case(self, view: CaseView) -> pb.Case:
        return case_to_pb(view, self.h.desk_name)

    def ListQueue(self, request, context):
        rows, total = self.h.list_queue(current_principal(), request.desk, request.kind, request.mine, request.limit,
                                        request.offset)
        return pb.ListQueueResponse(tasks=[task_from_row(r, self.h.desk_name) for r in rows], total=total)

    def ClaimTask(self, request, context):
        case, step_id, proj = self.h.claim(current_principal(), request.step_id, request.desk, request.kind)
        return task_from_case(case, step_id, proj, self.h.desk_name)

    def ReleaseTask(self, request, context):
        case, step_id, proj = self.h.release(current_principal(), request.step_id)
        return task_from_case(case, step_id, proj, self.h.desk_name)

    def GetCase(self, request, context):
        return self._case(self.h.get_case(current_principal(), request.case_id, request.case_number))

    def ListCases(self, request, context):
        views, total = self.h.list_cases(current_principal(), request.status, request.overdue_only, request.limit,
                                         request.offset)
        return pb.ListCasesResponse(cases=[self._case(v) for v in views], total=total)

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
        desks = self.h.assign_desks(current_principal(), request.username, list(request.desks), request.display_name)
        return pb.DeskAssignment(username=request.username.strip(), desks=desks, display_name=request.display_name)

    def ListDesks(self, request, context):
        everyone, mine = self.h.list_desks(current_principal())
        return pb.ListDesksResponse(assignments=[pb.DeskAssignment(username=u, display_name=n, desks=d)
                                                 for u, n, d in everyone], my_desks=mine)

    def RegisterSeal(self, request, context):
        return _seal(self.h.register_seal(current_principal(), request.name, request.code), current_principal())

    def GetSeal(self, request, context):
        return _seal(self.h.get_seal(current_principal()), current_principal())

    def PublishCalendarYear(self, request, context):
        return _report(self.h.publish_calendar_year(current_principal(), request.year, dict(request.holidays),
                                                    dict(request.makeup_workdays), request.region, request.reason))

    def ReprojectDeadlines(self, request, context):
        return _report(self.h.reproject_mine(current_principal(), request.cause))

    def ListCategories(self, request, context):
        return pb.ListCategoriesResponse(categories=[pb.Category(code=c, name=n) for c, n in self.h.categories()])


def _seal(found, p) -> pb.Seal:
    seal, at, by = found
    return pb.Seal(tenant=str(p.tenant), name=seal.name, code=seal.code, registered_at=at.isoformat(),
                   registered_by=by)


def _report(r) -> pb.ReprojectionReport:
    return pb.ReprojectionReport(cause=r.cause, tenants=r.tenants, cases_examined=r.examined, cases_changed=r.changed,
                                 cases_provisional=r.provisional)


def registration(handlers: ApprovalHandlers) -> Registration:
    return Registration(servicer=ApprovalServicer(handlers),
                        add_to_server=approval_pb2_grpc.add_ApprovalServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["ApprovalService"].full_name,
                        public_methods=("ListCategories",))


def event_consumer(handlers: ApprovalHandlers, db: Database, amqp_url: str, **options) -> EventConsumer:
    """Cases open on `intake.events/application_accepted`; fees settle on `fees.events/fees_settled`;
    intake's hand-out (`result_picked_up`) is the delivery."""
    consumer = EventConsumer(amqp_url, service=SERVICE, database=db, **options)
    on = {"open_case": handlers.on_application_accepted, "settle_fees": handlers.on_fees_settled,
          "record_delivery": handlers.on_result_picked_up, "terminate_case": handlers.on_application_terminated}
    for source, event_type, name in SUBSCRIPTIONS:
        consumer.subscribe(source, event_type, name, on[name])
    return consumer
