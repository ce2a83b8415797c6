"""gRPC servicer and event consumer of the intake: translate, call a handler, translate back. Nothing else."""

from __future__ import annotations

from sanji.approval.v1 import events_pb2 as approval_ev
from sanji.intake.v1 import intake_pb2 as pb
from sanji.intake.v1 import intake_pb2_grpc

from services.intake.handlers import IntakeHandlers
from services.intake.translate import (
    STATUS,
    applicant_to_pb,
    application_to_pb,
    calendar_year,
    listing_to_pb,
    materials_from_pb,
    notice_to_pb,
    progress_to_pb,
    proxy_command,
    record_completion,
    record_decision,
    record_extension,
    record_reprojection,
    record_resumption,
    record_suspension,
    status_filter,
    status_value,
    submit_command,
)
from shared.db import Database
from shared.grpc.server import Registration
from shared.messaging import EventConsumer, On, consumer_for
from shared.tenancy import current_principal

PUBLIC_METHODS = ("LookupProgress", "SubmitOnlineApplication")
# method → the services that may call it, each with its own credential beside the person's: a proxy
# submission comes only through agency, which recorded the request and the resident's signed authorisation
INTERNAL_METHODS = {"SubmitProxyApplication": ("agency",), "SubmitOnlineApplication": ("docking",)}
# An online application has no person of this platform behind it: the docking gateway's own credential is the
# only one it carries (the province's signature was checked there), so it is public and internal at once.


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, handlers: IntakeHandlers):
        self.h = handlers

    def SubmitApplication(self, request, context):
        return application_to_pb(self.h.submit(current_principal(), submit_command(request)))

    def SubmitProxyApplication(self, request, context):
        return application_to_pb(self.h.submit_proxy(current_principal(), proxy_command(request)))

    def SubmitOnlineApplication(self, request, context):
        return application_to_pb(self.h.submit_online(current_principal(), request.handling_unit,
                                                      submit_command(request.application)))

    def AcceptApplication(self, request, context):
        waived = [(w.material_code.strip(), w.promised_by.strip()) for w in request.waived]
        return application_to_pb(self.h.accept(current_principal(), request.application_id, waived, request.note,
                                               government_invested=request.government_invested,
                                               key_construction=request.key_construction_project,
                                               key=request.idempotency_key))

    def RequestCorrection(self, request, context):
        items = [(i.material_code.strip(), i.problem.strip()) for i in request.items]
        return application_to_pb(self.h.request_correction(current_principal(), request.application_id, items))

    def SupplyMaterials(self, request, context):
        return application_to_pb(self.h.supply(current_principal(), request.application_id,
                                               materials_from_pb(request.materials)))

    def RejectApplication(self, request, context):
        return application_to_pb(self.h.reject(current_principal(), request.application_id, request.reason,
                                               request.legal_basis))

    def ConfirmRejection(self, request, context):
        return application_to_pb(self.h.confirm_rejection(current_principal(), request.application_id,
                                                          confirm=request.confirm, note=request.note))

    def RecordPickup(self, request, context):
        return application_to_pb(self.h.record_pickup(
            current_principal(), request.application_id, picked_up_by=request.picked_up_by,
            id_number=request.id_number, channel=request.channel, what=request.what,
            tracking_number=request.tracking_number))

    def GetApplication(self, request, context):
        return application_to_pb(self.h.get(current_principal(), request.application_id))

    def ListApplications(self, request, context):
        listed, total, capped = self.h.list(current_principal(), status=status_filter(request.status),
                                            subtree=request.subtree, limit=request.limit, offset=request.offset)
        return pb.ListApplicationsResponse(applications=[listing_to_pb(x) for x in listed], total=total,
                                           total_capped=capped)

    def CountApplications(self, request, context):
        counted = self.h.count(current_principal(), statuses=[status_value(v) for v in request.statuses],
                               subtree=request.subtree)
        return pb.CountApplicationsResponse(counts=[pb.StatusCount(status=STATUS[s], count=n, capped=capped)
                                                    for s, n, capped in counted])

    def GetApplicantProfile(self, request, context):
        return applicant_to_pb(self.h.applicant_profile(current_principal(), request.id_number))

    def GetNotice(self, request, context):
        data, pdf = self.h.notice(current_principal(), request.application_id, request.notice_id)
        return notice_to_pb({**data, "id": request.notice_id}, pdf)

    def LookupProgress(self, request, context):
        app = self.h.lookup_progress(request.case_number, query_code=request.query_code, id_number=request.id_number)
        return progress_to_pb(app, self.h.calendars.get(app.tenant))


def registration(handlers: IntakeHandlers) -> Registration:
    return Registration(servicer=IntakeServicer(handlers),
                        add_to_server=intake_pb2_grpc.add_IntakeServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["IntakeService"].full_name,
                        public_methods=PUBLIC_METHODS, internal_methods=INTERNAL_METHODS)


# The back office reports back (shared/registry.py: intake's subscriptions): the decision, the completion
# (办结), the clock's suspensions and resumptions of each accepted case and its due dates (延期, re-projection);
# and the province's calendar year, published once at approval, which intake applies to its own copy and its
# decision dates (issue 23).
SUBSCRIPTIONS = (
    On("record_decision", approval_ev.CaseDecided,
       lambda h, m, env, uow: h.on_case_decided(record_decision(m), env, uow)),
    On("record_completion", approval_ev.CaseCompleted,
       lambda h, m, env, uow: h.on_case_completed(record_completion(m), env, uow)),
    On("record_suspension", approval_ev.ClockSuspended,
       lambda h, m, env, uow: h.on_clock_suspended(record_suspension(m), env, uow)),
    On("record_resumption", approval_ev.ClockResumed,
       lambda h, m, env, uow: h.on_clock_resumed(record_resumption(m), env, uow)),
    # approval's own due dates (an extension, a re-projection): the public progress page shows them
    On("record_extension", approval_ev.DeadlineExtended,
       lambda h, m, env, uow: h.on_due_dates(record_extension(m), env, uow)),
    On("record_reprojection", approval_ev.DueDateReprojected,
       lambda h, m, env, uow: h.on_due_dates(record_reprojection(m), env, uow)),
    On("apply_calendar_year", approval_ev.CalendarYearPublished,
       lambda h, m, env, uow: h.apply_calendar_year(*calendar_year(m))),
)


def event_consumer(handlers: IntakeHandlers, db: Database, amqp_url: str, **options) -> EventConsumer:
    """approval.events (decided, completed, clock suspended / resumed) → the application's history,
    its status, the public progress lookup and the word to the village point."""
    return consumer_for("intake", SUBSCRIPTIONS, handlers, db, amqp_url, **options)
