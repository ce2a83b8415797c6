"""gRPC servicer of the docking gateway: translate, call a handler, translate back. Beside it the subscription
table: the platform's case events, each read as its message and queued as a report for the province."""

from __future__ import annotations

from typing import Any

from sanji.approval.v1 import events_pb2 as approval_ev
from sanji.catalogue.v1 import events_pb2 as catalogue_ev
from sanji.complaints.v1 import events_pb2 as complaints_ev
from sanji.docking.v1 import docking_pb2 as pb
from sanji.docking.v1 import docking_pb2_grpc
from sanji.fees.v1 import events_pb2 as fees_ev
from sanji.intake.v1 import events_pb2 as intake_ev

from gateway.docking import translate as t
from gateway.docking.handlers import DockingHandlers
from shared.db import Database
from shared.grpc.server import Registration
from shared.messaging import EventConsumer, On, consumer_for
from shared.tenancy import current_principal

# A message from the province is authenticated by its SM2 signature (and timestamp and nonce), not by a login.
PUBLIC_METHODS = ("ReceiveProvinceMessage",)


def _report(handler: str, message) -> On:
    return On(handler, message, lambda h, m, env, uow: h.enqueue(env, uow, t.event_body(m)))


# queue evt-<source>-<event>--docking.report_<event>: every acceptance, correction, rejection, decision,
# suspension, resumption, fee settlement, completion and hand-out goes up to the province (办件信息汇聚), and so
# do ratings and complaint outcomes
SUBSCRIPTIONS = (
    _report("report_application_accepted", intake_ev.ApplicationAccepted),
    _report("report_correction_requested", intake_ev.CorrectionRequested),
    _report("report_application_rejected", intake_ev.ApplicationRejected),
    _report("report_result_picked_up", intake_ev.ResultPickedUp),
    _report("report_case_decided", approval_ev.CaseDecided),
    _report("report_clock_suspended", approval_ev.ClockSuspended),
    _report("report_clock_resumed", approval_ev.ClockResumed),
    _report("report_case_completed", approval_ev.CaseCompleted),
    _report("report_fees_settled", fees_ev.FeesSettled),
    _report("report_rating_submitted", complaints_ev.RatingSubmitted),        # 好差评
    _report("report_complaint_resolved", complaints_ev.ComplaintResolved),    # 投诉办理结果
    # guides up: a published or adjusted item's guide and 容缺 list go to the provincial portal
    On("guide_item_published", catalogue_ev.ItemPublished,
       lambda h, m, env, uow: h.enqueue_guide(env, uow, t.event_body(m))),
    On("guide_item_adjusted", catalogue_ev.ItemAdjusted,
       lambda h, m, env, uow: h.enqueue_guide(env, uow, t.event_body(m))),
)


def event_consumer(handlers: DockingHandlers, db: Database, amqp_url: str, **options: Any) -> EventConsumer:
    return consumer_for("docking", SUBSCRIPTIONS, handlers, db, amqp_url, **options)


class DockingServicer(docking_pb2_grpc.DockingServiceServicer):
    def __init__(self, handlers: DockingHandlers):
        self.h = handlers

    def ReceiveProvinceMessage(self, request, context):
        return t.received(self.h.receive(request.envelope_json))

    def GetBacklog(self, request, context):
        return t.backlog(*self.h.backlog(current_principal()))

    def VerifyMessageLog(self, request, context):
        return t.verdict(self.h.verify_log(current_principal()))

    def CompareCatalogue(self, request, context):
        return t.comparison(*self.h.compare_catalogue(current_principal(), request.import_new_as_drafts))

    def Reconcile(self, request, context):
        result = self.h.reconcile(current_principal(), request.day)
        return t.reconciliation(result, self.h.csv(result), result.pdf)


def registration(handlers: DockingHandlers) -> Registration:
    return Registration(servicer=DockingServicer(handlers),
                        add_to_server=docking_pb2_grpc.add_DockingServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["DockingService"].full_name,
                        public_methods=PUBLIC_METHODS)
