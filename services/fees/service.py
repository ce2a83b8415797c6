"""gRPC servicer of the fees service: translate, call a handler, translate back. Nothing else."""

from __future__ import annotations

from sanji.fees.v1 import fees_pb2 as pb
from sanji.fees.v1 import fees_pb2_grpc

from services.fees import translate as t
from services.fees.handlers import FeesHandlers
from shared.grpc.server import Registration
from shared.tenancy import current_principal

# The payment callback is authenticated by the provincial platform's SM2 signature, not by a user.
PUBLIC_METHODS = ("ListPublicFeeItems", "RecordPaymentCallback", "GetPaymentStatus")


class FeesServicer(fees_pb2_grpc.FeesServiceServicer):
    def __init__(self, handlers: FeesHandlers):
        self.h = handlers

    # -- fee catalogue -------------------------------------------------------------------------
    def CreateFeeItem(self, request, context):
        return t.fee_item(self.h.create_fee_item(current_principal(), t.definition_to_dict(request.definition)))

    def UpdateFeeDraft(self, request, context):
        return t.fee_item(self.h.update_fee_draft(current_principal(), request.fee_item_id,
                                                  t.definition_to_dict(request.definition)))

    def PublishFeeItem(self, request, context):
        return t.fee_item(self.h.publish_fee_item(current_principal(), request.fee_item_id))

    def AdjustFeeItem(self, request, context):
        return t.fee_item(self.h.adjust_fee_item(current_principal(), request.fee_item_id,
                                                 t.definition_to_dict(request.definition), request.reason))

    def CancelFeeItem(self, request, context):
        return t.fee_item(self.h.cancel_fee_item(current_principal(), request.fee_item_id, request.reason))

    def GetFeeItem(self, request, context):
        return t.fee_item(self.h.get_fee_item(current_principal(), request.fee_item_id, request.fee_code,
                                              request.version))

    def ListFeeItems(self, request, context):
        return pb.ListFeeItemsResponse(items=[t.fee_item(r) for r in self.h.list_fee_items(
            current_principal(), request.include_drafts)])

    def ListPublicFeeItems(self, request, context):
        return pb.ListFeeItemsResponse(items=[t.fee_item(r) for r in self.h.list_public_fee_items(request.region)])

    # -- assessment and notices ----------------------------------------------------------------
    def AssessFees(self, request, context):
        return t.case_fees(self.h.assess(current_principal(), request.case_number, t.line_inputs(request.lines),
                                         government_invested=request.government_invested,
                                         key_project=request.key_project, applicant_name=request.applicant_name,
                                         item_name=request.item_name))

    def WaiveFee(self, request, context):
        return t.case_fees(self.h.waive(current_principal(), request.case_number, request.line_no,
                                        request.reason_code, request.amount_fen, request.note))

    def IssueNotice(self, request, context):
        return t.case_fees(self.h.issue_notice(current_principal(), request.case_number))

    def GetCaseFees(self, request, context):
        return t.case_fees(self.h.get_case(current_principal(), request.case_number))

    def ListCases(self, request, context):
        views, total = self.h.list_cases(current_principal(), request.status, request.limit, request.offset)
        return pb.ListCasesResponse(cases=[t.case_fees(v) for v in views], total=total)

    def RenderNotice(self, request, context):
        content, ctype, filename = self.h.render_notice(current_principal(), request.case_number)
        return pb.Document(content=content, content_type=ctype, filename=filename)

    # -- payment -------------------------------------------------------------------------------
    def RecordPaymentCallback(self, request, context):
        return pb.PaymentCallbackResult(**self.h.record_callback(dict(request.fields), request.signature))

    def GetPaymentStatus(self, request, context):
        return t.payment_status(self.h.payment_status(request.notice_number))

    # -- reconciliation ------------------------------------------------------------------------
    def ListReconciliation(self, request, context):
        entries, total = self.h.list_reconciliation(current_principal(), request.include_resolved, request.limit,
                                                    request.offset)
        return pb.ListReconciliationResponse(entries=[t.entry(e) for e in entries], total=total)

    def ResolveReconciliation(self, request, context):
        return t.entry(self.h.resolve_reconciliation(current_principal(), request.id, request.action,
                                                     request.notice_number, request.note))

    def DailyReconciliation(self, request, context):
        return t.daily_report(self.h.daily(current_principal(), request.day, request.tenant))

    def RenderDailyReconciliation(self, request, context):
        content, ctype, filename = self.h.render_daily(current_principal(), request.day, request.tenant,
                                                       request.format)
        return pb.Document(content=content, content_type=ctype, filename=filename)

    # -- refunds -------------------------------------------------------------------------------
    def RequestRefund(self, request, context):
        return t.refund(self.h.request_refund(current_principal(), request.notice_number, request.reconciliation_id,
                                              request.amount_fen, request.reason))

    def DecideRefund(self, request, context):
        return t.refund(self.h.decide_refund(current_principal(), request.refund_id, request.approve, request.note))

    def ListRefunds(self, request, context):
        return pb.ListRefundsResponse(refunds=[t.refund(r) for r in self.h.list_refunds(current_principal(),
                                                                                         request.status)])


def registration(handlers: FeesHandlers) -> Registration:
    return Registration(servicer=FeesServicer(handlers), add_to_server=fees_pb2_grpc.add_FeesServiceServicer_to_server,
                        full_name=pb.DESCRIPTOR.services_by_name["FeesService"].full_name,
                        public_methods=PUBLIC_METHODS)
