"""gRPC servicer and event consumer of the agency: translate, call a handler, translate back."""

from __future__ import annotations

from sanji.agency.v1 import agency_pb2 as pb
from sanji.agency.v1 import agency_pb2_grpc
from sanji.intake.v1 import events_pb2 as intake_ev

from services.agency.handlers import AgencyHandlers
from services.agency.translate import (
    handover_items_in,
    handover_to_pb,
    materials_in,
    proxy_status_filter,
    proxy_to_pb,
    record_progress,
    request_proxy_command,
)
from shared.db import Database
from shared.grpc.server import Registration
from shared.messaging import EventConsumer, On, consumer_for
from shared.tenancy import current_principal


class AgencyServicer(agency_pb2_grpc.AgencyServiceServicer):
    def __init__(self, handlers: AgencyHandlers):
        self.h = handlers

    def RequestProxy(self, request, context):
        return proxy_to_pb(self.h.request_proxy(current_principal(), request_proxy_command(request)))

    def AssignAgent(self, request, context):
        return proxy_to_pb(self.h.assign_agent(current_principal(), request.request_id, request.agent,
                                               request.agent_name))

    def ScheduleVisit(self, request, context):
        return proxy_to_pb(self.h.schedule_visit(current_principal(), request.request_id, request.scheduled_for,
                                                 request.address, request.purpose))

    def RecordVisit(self, request, context):
        return proxy_to_pb(self.h.record_visit(current_principal(), request.request_id, request.visit_id,
                                               request.outcome, materials_in(request.materials)))

    def SubmitUpward(self, request, context):
        return proxy_to_pb(self.h.submit_upward(current_principal(), request.request_id,
                                                materials_in(request.materials), dict(request.form)))

    def HandOver(self, request, context):
        return handover_to_pb(self.h.hand_over(current_principal(), request.request_id, request.application_id,
                                               request.to_tenant, handover_items_in(request.items)))

    def ConfirmReceipt(self, request, context):
        return handover_to_pb(self.h.confirm_receipt(current_principal(), request.handover_id, request.note))

    def GetProxyRequest(self, request, context):
        return proxy_to_pb(self.h.get(current_principal(), request.request_id))

    def ListProxyRequests(self, request, context):
        rows, total = self.h.list(current_principal(), proxy_status_filter(request.status) or "", request.limit,
                                  request.offset)
        return pb.ListProxyRequestsResponse(requests=[proxy_to_pb(r) for r in rows], total=total)

    def ListHandOvers(self, request, context):
        rows = self.h.list_handovers(current_principal(), request.direction, request.pending_only)
        return pb.ListHandOversResponse(handovers=[handover_to_pb(h) for h in rows])

    def CustodyChain(self, request, context):
        rows = self.h.custody_chain(current_principal(), request.application_id, request.request_id)
        return pb.ListHandOversResponse(handovers=[handover_to_pb(h) for h in rows])


def registration(handlers: AgencyHandlers) -> Registration:
    return Registration(servicer=AgencyServicer(handlers),
                        add_to_server=agency_pb2_grpc.add_AgencyServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["AgencyService"].full_name)


# intake's progress of proxy applications (shared/registry.py: agency's one subscription; the handler name
# names the queue, evt-intake-proxy_application_progressed--agency.on_progress)
SUBSCRIPTIONS = (
    On("on_progress", intake_ev.ProxyApplicationProgressed,
       lambda h, m, env, uow: h.on_progress(record_progress(m), env, uow)),
)


def event_consumer(handlers: AgencyHandlers, db: Database, amqp_url: str, **options) -> EventConsumer:
    """intake's progress of proxy applications → the village's proxy record and the resident's notes."""
    return consumer_for("agency", SUBSCRIPTIONS, handlers, db, amqp_url, **options)
