"""All translation between the fees service's proto messages and its domain: requests → commands, rows and
views → responses, approval's case_decided → a `CaseDecision`, and the events it publishes (`EventsOut`, the
`events_out` its handlers are given)."""

from __future__ import annotations

import datetime as dt

from google.protobuf import json_format
from sanji.approval.v1 import events_pb2 as approval_events
from sanji.fees.v1 import events_pb2 as ev
from sanji.fees.v1 import fees_pb2 as pb

from services.fees.assessment import FeeLine, LineInput, LineStatus
from services.fees.catalogue import FeeItem, FeeVersion, StandardKind, WaiverReason
from services.fees.documents import NOTICE_STATUS_LABELS
from services.fees.domain import CASE_STATUS_LABELS, CaseDecision, CaseFees, CaseStatus, NoticeStatus
from services.fees.payments import MATCH_LABELS, Callback, EntryStatus, MatchKind, RefundStatus
from services.fees.repository import FeeItemRow
from shared.errors import InvalidArgument

STATUS = {"draft": pb.FEE_ITEM_STATUS_DRAFT, "published": pb.FEE_ITEM_STATUS_PUBLISHED,
          "superseded": pb.FEE_ITEM_STATUS_SUPERSEDED, "cancelled": pb.FEE_ITEM_STATUS_CANCELLED}
KIND = {StandardKind.FIXED: pb.STANDARD_KIND_FIXED, StandardKind.RANGE: pb.STANDARD_KIND_RANGE,
        StandardKind.FORMULA: pb.STANDARD_KIND_FORMULA}
KIND_NAME = {v: str(k) for k, v in KIND.items()}

# statuses: domain StrEnum ↔ proto enum, one table each (the REST token of each proto value is the domain's value:
# CASE_STATUS_AWAITING_ASSESSMENT ↔ "awaiting_assessment"; tests/test_proto_style.py holds every table to it)
CASE_STATUS = {CaseStatus.AWAITING: pb.CASE_STATUS_AWAITING_ASSESSMENT, CaseStatus.ASSESSED: pb.CASE_STATUS_ASSESSED,
               CaseStatus.NOTICED: pb.CASE_STATUS_NOTICED, CaseStatus.SETTLED: pb.CASE_STATUS_SETTLED,
               CaseStatus.CLOSED: pb.CASE_STATUS_CLOSED}
LINE_STATUS = {LineStatus.UNPAID: pb.FEE_LINE_STATUS_UNPAID, LineStatus.PAID: pb.FEE_LINE_STATUS_PAID,
               LineStatus.WAIVED: pb.FEE_LINE_STATUS_WAIVED}
NOTICE_STATUS = {NoticeStatus.ISSUED: pb.NOTICE_STATUS_ISSUED, NoticeStatus.PAID: pb.NOTICE_STATUS_PAID,
                 NoticeStatus.VOID: pb.NOTICE_STATUS_VOID}
ENTRY_STATUS = {EntryStatus.OPEN: pb.RECONCILIATION_ENTRY_STATUS_OPEN,
                EntryStatus.MATCHED: pb.RECONCILIATION_ENTRY_STATUS_MATCHED,
                EntryStatus.RESOLVED: pb.RECONCILIATION_ENTRY_STATUS_RESOLVED}
REFUND_STATUS = {RefundStatus.PENDING: pb.REFUND_STATUS_PENDING, RefundStatus.APPROVED: pb.REFUND_STATUS_APPROVED,
                 RefundStatus.REJECTED: pb.REFUND_STATUS_REJECTED}
CASE_STATUS_FROM_PB = {v: k for k, v in CASE_STATUS.items()}
REFUND_STATUS_FROM_PB = {v: k for k, v in REFUND_STATUS.items()}


def _iso(ts: dt.datetime | None) -> str:
    return ts.isoformat() if ts else ""


# -- requests and events in -----------------------------------------------------------------------
def case_status_filter(value: int) -> CaseStatus | None:
    """ListCasesRequest.status: UNSPECIFIED is no filter; a number the API does not know is refused."""
    if value == pb.CASE_STATUS_UNSPECIFIED:
        return None
    if value not in CASE_STATUS_FROM_PB:
        raise InvalidArgument("status", "状态应为 " + "、".join(str(s) for s in CaseStatus))
    return CASE_STATUS_FROM_PB[value]


def basic_view(value: int) -> bool:
    """ListCasesRequest.view: BASIC is the cashier's list view; UNSPECIFIED and FULL are every line and the whole
    notice (what the list gave before the field existed); a number the API does not know is refused."""
    if value not in (pb.CASE_FEES_VIEW_UNSPECIFIED, pb.CASE_FEES_VIEW_BASIC, pb.CASE_FEES_VIEW_FULL):
        raise InvalidArgument("view", "视图应为 basic（列表所示）或 full（含收费明细与缴款书）")
    return value == pb.CASE_FEES_VIEW_BASIC


def refund_status_filter(value: int) -> RefundStatus | None:
    """ListRefundsRequest.status: UNSPECIFIED is no filter; a number the API does not know is refused."""
    if value == pb.REFUND_STATUS_UNSPECIFIED:
        return None
    if value not in REFUND_STATUS_FROM_PB:
        raise InvalidArgument("status", "状态应为 " + "、".join(str(s) for s in RefundStatus))
    return REFUND_STATUS_FROM_PB[value]


def definition_to_dict(d: pb.FeeDefinition) -> dict:
    out = json_format.MessageToDict(d, preserving_proto_field_name=True)
    std = out.get("standard", {})
    std["kind"] = KIND_NAME.get(d.standard.kind, "")
    out["standard"] = std
    return out


def line_inputs(lines) -> list[LineInput]:
    return [LineInput(x.fee_code, dict(x.quantities), x.standard_fen if x.HasField("standard_fen") else None)
            for x in lines]


def case_decision(m: approval_events.CaseDecided) -> CaseDecision:
    return CaseDecision(case_number=m.case_number, outcome=m.outcome, has_fees=m.has_fees,
                        government_invested=m.government_invested, key_project=m.key_project,
                        applicant_name=m.applicant_name, item_id=m.item_id, item_version=m.item_version,
                        fee_codes=tuple(m.fee_codes), at=m.at)


# -- results --------------------------------------------------------------------------------------
def fee_item(row: FeeItemRow) -> pb.FeeItem:
    item = pb.FeeItem(id=row.id, tenant=row.tenant, version=row.version, status=STATUS[row.status],
                      published_at=_iso(row.published_at), change_reason=row.change_reason)
    d = dict(row.definition)
    std = dict(d.get("standard", {}))
    std["kind"] = KIND[StandardKind(std["kind"])]
    d["standard"] = std
    json_format.ParseDict(d, item.definition, ignore_unknown_fields=True)
    return item


def notice(n: dict | None) -> pb.Notice | None:
    if n is None:
        return None
    return pb.Notice(notice_number=n["notice_number"], case_number=n["case_number"], tenant=n["tenant"],
                     total_fen=n["total_fen"], payee_name=n["payee_name"], payee_account=n["payee_account"],
                     payee_bank=n["payee_bank"], issued_by=n["issued_by"], issued_at=_iso(n["issued_at"]),
                     status=NOTICE_STATUS[n["status"]], paid_at=_iso(n["paid_at"]),
                     payment_id=n["payment_id"] or "",
                     receipt_digest=n["receipt_digest"] or "", receipt_signature=n["receipt_signature"] or "",
                     receipt_signer=n["receipt_signer"] or "", receipt_text=n["receipt_text"] or "",
                     verification_code=n["verification_code"] or "", serial=n["serial"] or 0)


def case_fees(view) -> pb.CaseFees:
    """A case's fees: in full, or as a basic list shows it (view.totals set: no lines, its notice in brief)."""
    c = view.case
    basic = view.totals is not None
    total, waived, due = view.totals if basic else c.totals
    out = pb.CaseFees(
        case_number=c.case_number, tenant=c.tenant, status=CASE_STATUS[c.status],
        status_label=CASE_STATUS_LABELS[c.status],
        government_invested=c.government_invested, key_project=c.key_project, applicant_name=c.applicant_name,
        item_name=c.item_name, total_fen=total, waived_fen=waived, due_fen=due, paid_fen=c.paid_fen,
        refunded_fen=c.refunded_fen, assessed_by=c.assessed_by, assessed_at=_iso(c.assessed_at),
        settled_at=_iso(c.settled_at), expected_fee_codes=list(c.expected_fee_codes), source=c.source)
    if basic:
        if view.notice is not None:
            _notice_in_brief(out.notice, view.notice, c)
        return out
    out.lines.extend(pb.FeeLine(
        line_no=x.line_no, fee_code=x.fee_code, name=x.name, collecting_unit=x.collecting_unit, basis=x.basis,
        fee_item_id=x.fee_item_id, fee_version=x.fee_version, kind=KIND[x.standard.kind], quantities=x.quantities,
        unit_price_fen=x.unit_price_fen, amount_fen=x.amount_fen, waived_fen=x.waived_fen,
        waiver_reason=x.waiver_reason, waiver_reason_code=x.waiver_reason_code, waived_by=x.waived_by,
        lower_bound_applied=x.lower_bound_applied, calculation=x.calculation, status=LINE_STATUS[x.status],
        due_fen=x.due_fen) for x in c.lines)
    n = notice(view.notice)
    if n is not None:
        out.notice.CopyFrom(n)
    return out


def _notice_in_brief(out: pb.Notice, n: dict, case: CaseFees) -> None:
    """The fields of a notice a basic list shows (FeesRepository._NOTICE_BASIC_NAMES), written into `out`."""
    out.notice_number, out.case_number, out.tenant = n["notice_number"], case.case_number, case.tenant
    out.status, out.total_fen, out.serial = NOTICE_STATUS[n["status"]], n["total_fen"], n["serial"] or 0
    out.issued_at, out.paid_at = _iso(n["issued_at"]), _iso(n["paid_at"])


def payment_status(n: dict) -> pb.PaymentStatus:
    return pb.PaymentStatus(notice_number=n["notice_number"], status=NOTICE_STATUS[n["status"]],
                            status_label=NOTICE_STATUS_LABELS.get(n["status"], n["status"]), total_fen=n["total_fen"],
                            paid_fen=n["total_fen"] if n["status"] == "paid" else 0, paid_at=_iso(n["paid_at"]),
                            payee_name=n["payee_name"], issued_at=_iso(n["issued_at"]),
                            receipt_digest=n["receipt_digest"] or "")


def entry(e: dict) -> pb.ReconciliationEntry:
    return pb.ReconciliationEntry(
        id=str(e["id"]), tenant=e["tenant"], kind=e["kind"], kind_label=MATCH_LABELS[MatchKind(e["kind"])],
        status=ENTRY_STATUS[e["status"]], payment_id=e["payment_id"], notice_number=e["notice_number"],
        amount_fen=e["amount_fen"],
        expected_fen=e["expected_fen"], paid_at=_iso(e["paid_at"]), payer_name=e["payer_name"] or "",
        created_at=_iso(e["created_at"]), resolution=e["resolution"], resolved_by=e["resolved_by"],
        resolved_at=_iso(e["resolved_at"]), case_number=e["case_number"])


def refund(r: dict) -> pb.Refund:
    return pb.Refund(id=str(r["id"]), tenant=r["tenant"], notice_number=r["notice_number"],
                     case_number=r["case_number"], payment_id=r["payment_id"], amount_fen=r["amount_fen"],
                     reason=r["reason"], status=REFUND_STATUS[r["status"]], requested_by=r["requested_by"],
                     requested_at=_iso(r["requested_at"]), decided_by=r["decided_by"],
                     decided_at=_iso(r["decided_at"]), note=r["note"],
                     reconciliation_id=str(r["reconciliation_id"] or ""))


def daily_report(report: dict) -> pb.DailyReport:
    # a row's "status" is the words people read for its kind (documents.daily_report), hence ReportRow.status_label
    rows = [{**{k: v for k, v in r.items() if k != "status"}, "status_label": r["status"]} for r in report["rows"]]
    return json_format.ParseDict({**report, "rows": rows}, pb.DailyReport(), ignore_unknown_fields=True)


# -- events out -----------------------------------------------------------------------------------
class EventsOut:
    """The events the fees service publishes, built from domain values (the handlers' `events_out`)."""

    def fee_item_published(self, item: FeeItem, version: FeeVersion,
                           at: dt.datetime | None) -> ev.FeeItemPublished:
        d = version.definition
        return ev.FeeItemPublished(fee_item_id=item.id, tenant=str(item.tenant), fee_code=d.fee_code,
                                   version=version.version, name=d.name, at=_iso(at))

    def fee_item_cancelled(self, item: FeeItem, version: FeeVersion) -> ev.FeeItemCancelled:
        return ev.FeeItemCancelled(fee_item_id=item.id, tenant=str(item.tenant), fee_code=version.definition.fee_code,
                                   version=version.version, reason=version.change_reason)

    def fees_assessed(self, case: CaseFees, at: dt.datetime) -> ev.FeesAssessed:
        total, waived, _ = case.totals
        return ev.FeesAssessed(case_number=case.case_number, tenant=case.tenant, total_fen=total,
                               lines=len(case.lines), at=at.isoformat(), waived_fen=waived,
                               lower_bound_applied=any(x.lower_bound_applied for x in case.lines))

    def fee_waived(self, case: CaseFees, line: FeeLine, reason: WaiverReason, approved_by: str,
                   at: dt.datetime) -> ev.FeeWaived:
        return ev.FeeWaived(case_number=case.case_number, tenant=case.tenant, fee_code=line.fee_code,
                            amount_fen=line.waived_fen, reason_code=reason.code, approved_by=approved_by,
                            at=at.isoformat(), full=reason.full)

    def notice_issued(self, case: CaseFees, notice_number: str, total_fen: int, payee_account: str,
                      at: dt.datetime) -> ev.NoticeIssued:
        return ev.NoticeIssued(case_number=case.case_number, tenant=case.tenant, notice_number=notice_number,
                               total_fen=total_fen, at=at.isoformat(), payee_account=payee_account)

    def payment_received(self, case: CaseFees, notice_number: str, payment: Callback,
                         receipt_digest: str) -> ev.PaymentReceived:
        return ev.PaymentReceived(case_number=case.case_number, tenant=case.tenant, notice_number=notice_number,
                                  amount_fen=payment.amount_fen, payment_id=payment.payment_id,
                                  at=payment.paid_at.isoformat(), receipt_digest=receipt_digest)

    def fees_settled(self, case: CaseFees, notice_number: str, at: dt.datetime) -> ev.FeesSettled:
        _, waived, _ = case.totals
        return ev.FeesSettled(case_number=case.case_number, tenant=case.tenant, paid_fen=case.paid_fen,
                              waived_fen=waived, at=at.isoformat(), waived_in_full=case.fully_waived,
                              notice_number=notice_number)

    def payment_queued(self, tenant: str, payment: Callback, kind: MatchKind, expected_fen: int, case_number: str,
                       reconciliation_id: str, at: dt.datetime) -> ev.PaymentQueued:
        return ev.PaymentQueued(tenant=tenant, payment_id=payment.payment_id, notice_number=payment.notice_number,
                                amount_fen=payment.amount_fen, expected_fen=expected_fen, kind=str(kind),
                                at=at.isoformat(), case_number=case_number, reconciliation_id=reconciliation_id)

    def refund_made(self, refund: dict, approved_by: str, at: dt.datetime) -> ev.RefundMade:
        return ev.RefundMade(case_number=refund["case_number"], tenant=refund["tenant"],
                             notice_number=refund["notice_number"], amount_fen=refund["amount_fen"],
                             reason=refund["reason"], at=at.isoformat(), refund_id=str(refund["id"]),
                             approved_by=approved_by, payment_id=refund["payment_id"])
