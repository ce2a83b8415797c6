"""gRPC servicer and event consumers of the complaints service: translate, call a handler, translate back."""

from __future__ import annotations

from typing import Any

from sanji.approval.v1 import events_pb2 as approval_ev
from sanji.complaints.v1 import complaints_pb2 as pb
from sanji.complaints.v1 import complaints_pb2_grpc
from sanji.complaints.v1 import events_pb2 as ev
from sanji.intake.v1 import events_pb2 as intake_ev

from services.complaints import translate as t
from services.complaints.handlers import ComplaintHandlers
from services.complaints.rating_handlers import RatingHandlers
from shared.db import Database
from shared.grpc.server import Registration
from shared.messaging import EventConsumer, On, consumer_for
from shared.tenancy import current_principal, current_principal_or_none

# without a login: the public page (file, follow, rate the handling, rate a case, comment on a unit, figures),
# and the hotline's hand-over, authenticated by its SM2 signature
PUBLIC_METHODS = ("FilePublicComplaint", "HotlineHandOver", "FollowComplaint", "RateComplaintHandling", "RateCase",
                  "SubmitRating", "RateRectification", "PublicFigures", "ListCategories")


class ComplaintsServicer(complaints_pb2_grpc.ComplaintsServiceServicer):
    def __init__(self, complaints: ComplaintHandlers, ratings: RatingHandlers):
        self.c = complaints
        self.r = ratings

    def _complaint(self, row):
        return t.complaint_to_pb(row, current_principal_or_none(), self.c.clock.today())

    def _rectification(self, row):
        return t.rectification_to_pb(row, self.c.clock.today())

    # -- complaints -------------------------------------------------------------------------------------
    def FileComplaint(self, request, context):
        return self._complaint(self.c.file(current_principal(), t.file_command(request)))

    def FilePublicComplaint(self, request, context):
        row = self.c.file_public(t.public_file_command(request))
        return t.receipt(row, self.c.receipt_url(row))

    def HotlineHandOver(self, request, context):
        row = self.c.hand_over_from_hotline(dict(request.fields), request.signature)
        return t.receipt(row, self.c.receipt_url(row))

    def FollowComplaint(self, request, context):
        return t.public_view(self.c.follow(request.number, request.phone_last4))

    def RateComplaintHandling(self, request, context):
        return t.public_view(self.c.rate_handling(request.number, request.phone_last4, request.satisfaction,
                                                  request.comment))

    def GetComplaint(self, request, context):
        return self._complaint(self.c.get(current_principal(), request.complaint_id))

    def ListComplaints(self, request, context):
        p = current_principal()
        rows, total = self.c.list(p, t.complaint_status_filter(request.status), request.unassigned_only,
                                  request.limit, request.offset)
        today = self.c.clock.today()
        return pb.ListComplaintsResponse(complaints=[t.complaint_to_pb(r, p, today) for r in rows], total=total)

    def AssignHandler(self, request, context):
        return self._complaint(self.c.assign(current_principal(), request.complaint_id, request.handler,
                                             request.handler_name))

    def ReportProgress(self, request, context):
        return self._complaint(self.c.report_progress(current_principal(), request.complaint_id, request.text))

    def RecordInvestigation(self, request, context):
        return self._complaint(self.c.record_investigation(current_principal(), request.complaint_id, request.method,
                                                           request.on, request.by_name, request.text))

    def ReportDepartmentPart(self, request, context):
        return self._complaint(self.c.report_department_part(current_principal(), request.complaint_id,
                                                             request.department, request.report))

    def RequestExtension(self, request, context):
        return self._complaint(self.c.request_extension(current_principal(), request.complaint_id, request.reason,
                                                        request.days))

    def ApproveExtension(self, request, context):
        return self._complaint(self.c.approve_extension(current_principal(), request.complaint_id))

    def Reply(self, request, context):
        return self._complaint(self.c.reply(current_principal(), request.complaint_id, request.outcome,
                                            request.channel, request.text, t.promises_in(request.promises)))

    def RecordReturnVisit(self, request, context):
        return self._complaint(self.c.record_return_visit(current_principal(), request.complaint_id,
                                                          request.follow_up_id, request.method, request.result))

    def RecordSatisfaction(self, request, context):
        return self._complaint(self.c.record_satisfaction(current_principal(), request.complaint_id,
                                                          request.satisfaction, request.comment))

    # -- ratings ----------------------------------------------------------------------------------------
    def RateCase(self, request, context):
        return t.rating_to_pb(self.r.rate_case(request.case_number, request.id_suffix, t.rating_input(request)),
                              show_rater=False)

    def SubmitRating(self, request, context):
        p = current_principal_or_none()
        row = self.r.submit(p, t.submit_rating_command(request))
        return t.rating_to_pb(row, show_rater=p is not None and self.r.rater_visible(p, row))

    def GetRating(self, request, context):
        p = current_principal()
        row = self.r.get(p, request.rating_id)
        return t.rating_to_pb(row, self.r.rater_visible(p, row))

    def ListRatings(self, request, context):
        p = current_principal()
        rows, total = self.r.list(p, request.bad_only, request.limit, request.offset)
        return pb.ListRatingsResponse(ratings=[t.rating_to_pb(r, self.r.rater_visible(p, r)) for r in rows],
                                      total=total)

    def ListRectifications(self, request, context):
        rows = self.r.list_rectifications(current_principal(), t.rectification_status_filter(request.status))
        return pb.ListRectificationsResponse(rectifications=[self._rectification(x) for x in rows])

    def GetRectification(self, request, context):
        return self._rectification(self.r.get_rectification(current_principal(), request.rectification_id))

    def Rectify(self, request, context):
        return self._rectification(self.r.rectify(current_principal(), request.rectification_id,
                                                    request.verification, request.measures, request.answer))

    def RecordRectificationVisit(self, request, context):
        return self._rectification(self.r.record_visit(current_principal(), request.rectification_id,
                                                         request.method, request.result))

    def RateRectification(self, request, context):
        return self._rectification(self.r.rate_rectification(request.case_number, request.id_suffix,
                                                                request.satisfaction, request.comment))

    def AppealRating(self, request, context):
        return t.appeal_to_pb(self.r.appeal(current_principal(), request.rating_id, request.reason, request.evidence))

    def DecideAppeal(self, request, context):
        return t.appeal_to_pb(self.r.decide_appeal(current_principal(), request.appeal_id, request.upheld,
                                                   request.note))

    def ListAppeals(self, request, context):
        return pb.ListAppealsResponse(appeals=[t.appeal_to_pb(a) for a in self.r.list_appeals(
            current_principal(), request.pending_only)])

    def PublicFigures(self, request, context):
        return t.figures_to_pb(*self.r.public_figures(request.item_id, request.unit))

    def ListCategories(self, request, context):
        return t.categories()


def registration(complaints: ComplaintHandlers, ratings: RatingHandlers) -> Registration:
    return Registration(servicer=ComplaintsServicer(complaints, ratings),
                        add_to_server=complaints_pb2_grpc.add_ComplaintsServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["ComplaintsService"].full_name,
                        public_methods=PUBLIC_METHODS)


# shared/registry.py: the handler name names the queue (evt-intake-application_accepted--complaints.record_case_…)
SUBSCRIPTIONS = (
    On("record_case_accepted", intake_ev.ApplicationAccepted,
       lambda h, m, env, uow: h.ratings.record_case_accepted(t.case_accepted(m), env, uow)),
    On("record_case_decided", approval_ev.CaseDecided,
       lambda h, m, env, uow: h.ratings.record_case_decided(*t.case_decided(m), env, uow)),
    On("record_case_completed", approval_ev.CaseCompleted,
       lambda h, m, env, uow: h.ratings.record_case_completed(*t.case_completed(m), env, uow)),
    On("open_escalated", ev.ComplaintEscalated,
       lambda h, m, env, uow: h.complaints.open_escalated(t.escalation(m), env, uow)),
    On("apply_calendar_year", approval_ev.CalendarYearPublished,
       lambda h, m, env, uow: h.complaints.apply_calendar_year(*t.calendar_year(m))),
)


class Handlers:
    """Both halves, as the subscription table reaches them."""

    def __init__(self, complaints: ComplaintHandlers, ratings: RatingHandlers):
        self.complaints = complaints
        self.ratings = ratings


def event_consumer(handlers: Handlers, db: Database, amqp_url: str, **options: Any) -> EventConsumer:
    return consumer_for("complaints", SUBSCRIPTIONS, handlers, db, amqp_url, **options)
