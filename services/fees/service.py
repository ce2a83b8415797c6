"""gRPC servicer of the fees service: translate, call a handler, translate back. Nothing else. Beside it the
subscription table: approval's case_decided, read as its message and translated into a `CaseDecision`."""

from __future__ import annotations

from typing import Any

from sanji.approval.v1 import events_pb2 as approval_events
from sanji.fees.v1 import fees_pb2 as pb
from sanji.fees.v1 import fees_pb2_grpc

from services.fees import translate as t
from services.fees.handlers import FeesHandlers
from shared.db import Database
from shared.grpc.server import Registration
from shared.messaging import EventConsumer, On, consumer_for
from shared.tenancy import current_principal

# The payment callback is authenticated by the provincial platform's SM2 signature, not by a user.
# what a county onboarded still lacks here, for the onboarding service's own credential only: a job runs for no
# person, so it is public and internal at once, as intake's SubmitOnlineApplication
INTERNAL_METHODS = {"GetFeesReadiness": ("onboarding",)}
PUBLIC_METHODS = ("ListPublicFeeItems", "RecordPaymentCallback", "GetPaymentStatus", *INTERNAL_METHODS)

SUBSCRIPTIONS = (
    # queue evt-approval-case_decided--fees.on_case_decided
    On("on_case_decided", approval_events.CaseDecided,
       lambda h, m, env, uow: h.cases.on_case_decided(t.case_decision(m), env, uow)),
)


def event_consumer(handlers: FeesHandlers, db: Database, amqp_url: str, **options: Any) -> EventConsumer:
    return consumer_for("fees", SUBSCRIPTIONS, handlers, db, amqp_url, **options)


class FeesServicer(fees_pb2_grpc.FeesServiceServicer):
    def __init__(self, handlers: FeesHandlers):
        self.catalogue = handlers.catalogue
        self.cases = handlers.cases
        self.payments = handlers.payments
        self.refunds = handlers.refunds

    # -- fee catalogue -------------------------------------------------------------------------
    def CreateFeeItem(self, request, context):
        return t.fee_item(self.catalogue.create_fee_item(current_principal(), t.definition_to_dict(request.definition)))

    def UpdateFeeDraft(self, request, context):
        return t.fee_item(self.catalogue.update_fee_draft(current_principal(), request.fee_item_id,
                                                          t.definition_to_dict(request.definition)))

    def PublishFeeItem(self, request, context):
        return t.fee_item(self.catalogue.publish_fee_item(current_principal(), request.fee_item_id))

    def AdjustFeeItem(self, request, context):
        return t.fee_item(self.catalogue.adjust_fee_item(current_principal(), request.fee_item_id,
                                                         t.definition_to_dict(request.definition), request.reason))

    def CancelFeeItem(self, request, context):
        return t.fee_item(self.catalogue.cancel_fee_item(current_principal(), request.fee_item_id, request.reason))

    def GetFeeItem(self, request, context):
        return t.fee_item(self.catalogue.get_fee_item(current_principal(), request.fee_item_id, request.fee_code,
                                                      request.version))

    def ListFeeItems(self, request, context):
        return pb.ListFeeItemsResponse(items=[t.fee_item(r) for r in self.catalogue.list_fee_items(
            current_principal(), request.include_drafts)])

    def ListPublicFeeItems(self, request, context):
        return pb.ListFeeItemsResponse(items=[t.fee_item(r) for r in self.catalogue.list_public_fee_items(
            request.region)])

    # -- assessment and notices ----------------------------------------------------------------
    def AssessFees(self, request, context):
        return t.case_fees(self.cases.assess(current_principal(), request.case_number, t.line_inputs(request.lines),
                                             government_invested=request.government_invested,
                                             key_project=request.key_project, applicant_name=request.applicant_name,
                                             item_name=request.item_name))

    def WaiveFee(self, request, context):
        return t.case_fees(self.cases.waive(current_principal(), request.case_number, request.line_no,
                                            request.reason_code, request.amount_fen, request.note))

    def IssueNotice(self, request, context):
        return t.case_fees(self.cases.issue_notice(current_principal(), request.case_number))

    def GetCaseFees(self, request, context):
        return t.case_fees(self.cases.get_case(current_principal(), request.case_number))

    def ListCases(self, request, context):
        views, total, capped = self.cases.list_cases(current_principal(), t.case_status_filter(request.status) or "",
                                                     request.limit, request.offset, basic=t.basic_view(request.view))
        return pb.ListCasesResponse(cases=[t.case_fees(v) for v in views], total=total, total_capped=capped)

    def RenderNotice(self, request, context):
        content, ctype, filename = self.cases.render_notice(current_principal(), request.case_number)
        return pb.Document(content=content, content_type=ctype, filename=filename)

    # -- payment -------------------------------------------------------------------------------
    def RecordPaymentCallback(self, request, context):
        return pb.PaymentCallbackResult(**self.payments.record_callback(dict(request.fields), request.signature))

    def GetPaymentStatus(self, request, context):
        return t.payment_status(self.payments.payment_status(request.notice_number, request.code))

    # -- reconciliation ------------------------------------------------------------------------
    def ListReconciliation(self, request, context):
        entries, total = self.payments.list_reconciliation(current_principal(), request.include_resolved,
                                                           request.limit, request.offset)
        return pb.ListReconciliationResponse(entries=[t.entry(e) for e in entries], total=total)

    def ResolveReconciliation(self, request, context):
        return t.entry(self.payments.resolve_reconciliation(current_principal(), request.id, request.action,
                                                            request.notice_number, request.note))

    def DailyReconciliation(self, request, context):
        return t.daily_report(self.payments.daily(current_principal(), request.day, request.tenant))

    def RenderDailyReconciliation(self, request, context):
        content, ctype, filename = self.payments.render_daily(current_principal(), request.day, request.tenant,
                                                              request.format)
        return pb.Document(content=content, content_type=ctype, filename=filename)

    # -- refunds -------------------------------------------------------------------------------
    def RequestRefund(self, request, context):
        return t.refund(self.refunds.request_refund(current_principal(), request.notice_number,
                                                    request.reconciliation_id, request.amount_fen, request.reason))

    def DecideRefund(self, request, context):
        return t.refund(self.refunds.decide_refund(current_principal(), request.refund_id, request.approve,
                                                   request.note))

    def ListRefunds(self, request, context):
        refunds = self.refunds.list_refunds(current_principal(), t.refund_status_filter(request.status) or "")
        return pb.ListRefundsResponse(refunds=[t.refund(r) for r in refunds])

    def GetFeesReadiness(self, request, context):
        items, treasury = self.catalogue.readiness(current_principal(), request.unit)
        return pb.FeesReadiness(published_fee_items=items, treasury_account=treasury)


def registration(handlers: FeesHandlers) -> Registration:
    return Registration(servicer=FeesServicer(handlers), add_to_server=fees_pb2_grpc.add_FeesServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["FeesService"].full_name,
                        public_methods=PUBLIC_METHODS, internal_methods=INTERNAL_METHODS)
