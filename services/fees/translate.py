"""Translation between the fees service's proto messages and its rows, views and dicts."""

from __future__ import annotations

from google.protobuf import json_format
from sanji.fees.v1 import fees_pb2 as pb

from services.fees.documents import NOTICE_STATUS_LABELS
from services.fees.domain import CASE_STATUS_LABELS, MATCH_LABELS, LineInput, MatchKind, StandardKind
from services.fees.repository import FeeItemRow

STATUS = {"draft": pb.FEE_ITEM_STATUS_DRAFT, "published": pb.FEE_ITEM_STATUS_PUBLISHED,
          "superseded": pb.FEE_ITEM_STATUS_SUPERSEDED, "cancelled": pb.FEE_ITEM_STATUS_CANCELLED}
KIND = {StandardKind.FIXED: pb.STANDARD_KIND_FIXED, StandardKind.RANGE: pb.STANDARD_KIND_RANGE,
        StandardKind.FORMULA: pb.STANDARD_KIND_FORMULA}
KIND_NAME = {v: str(k) for k, v in KIND.items()}


def _iso(ts) -> str:
    return ts.isoformat() if ts else ""


def definition_to_dict(d: pb.FeeDefinition) -> dict:
    out = json_format.MessageToDict(d, preserving_proto_field_name=True)
    std = out.get("standard", {})
    std["kind"] = KIND_NAME.get(d.standard.kind, "")
    out["standard"] = std
    return out


def fee_item(row: FeeItemRow) -> pb.FeeItem:
    item = pb.FeeItem(id=row.id, tenant=row.tenant, version=row.version, status=STATUS[row.status],
                      published_at=_iso(row.published_at), change_reason=row.change_reason)
    d = dict(row.definition)
    std = dict(d.get("standard", {}))
    std["kind"] = KIND[StandardKind(std["kind"])]
    d["standard"] = std
    json_format.ParseDict(d, item.definition, ignore_unknown_fields=True)
    return item


def line_inputs(lines) -> list[LineInput]:
    return [LineInput(x.fee_code, dict(x.quantities), x.standard_fen if x.HasField("standard_fen") else None)
            for x in lines]


def notice(n: dict | None) -> pb.Notice | None:
    if n is None:
        return None
    return pb.Notice(notice_number=n["notice_number"], case_number=n["case_number"], tenant=n["tenant"],
                     total_fen=n["total_fen"], payee_name=n["payee_name"], payee_account=n["payee_account"],
                     payee_bank=n["payee_bank"], issued_by=n["issued_by"], issued_at=_iso(n["issued_at"]),
                     status=n["status"], paid_at=_iso(n["paid_at"]), payment_id=n["payment_id"] or "",
                     receipt_digest=n["receipt_digest"] or "", receipt_signature=n["receipt_signature"] or "",
                     receipt_signer=n["receipt_signer"] or "", receipt_text=n["receipt_text"] or "")


def case_fees(view) -> pb.CaseFees:
    c = view.case
    total, waived, due = c.totals
    out = pb.CaseFees(
        case_number=c.case_number, tenant=c.tenant, status=str(c.status), status_label=CASE_STATUS_LABELS[c.status],
        government_invested=c.government_invested, key_project=c.key_project, applicant_name=c.applicant_name,
        item_name=c.item_name, total_fen=total, waived_fen=waived, due_fen=due, paid_fen=c.paid_fen,
        refunded_fen=c.refunded_fen, assessed_by=c.assessed_by, assessed_at=_iso(c.assessed_at),
        settled_at=_iso(c.settled_at), expected_fee_codes=list(c.expected_fee_codes), source=c.source,
        lines=[pb.FeeLine(line_no=x.line_no, fee_code=x.fee_code, name=x.name, collecting_unit=x.collecting_unit,
                          basis=x.basis, fee_item_id=x.fee_item_id, fee_version=x.fee_version,
                          kind=KIND[x.standard.kind], quantities=x.quantities, unit_price_fen=x.unit_price_fen,
                          amount_fen=x.amount_fen, waived_fen=x.waived_fen, waiver_reason=x.waiver_reason,
                          waiver_reason_code=x.waiver_reason_code, waived_by=x.waived_by,
                          lower_bound_applied=x.lower_bound_applied, calculation=x.calculation, status=x.status,
                          due_fen=x.due_fen) for x in c.lines])
    n = notice(view.notice)
    if n is not None:
        out.notice.CopyFrom(n)
    return out


def payment_status(n: dict) -> pb.PaymentStatus:
    return pb.PaymentStatus(notice_number=n["notice_number"], status=n["status"],
                            status_label=NOTICE_STATUS_LABELS.get(n["status"], n["status"]), total_fen=n["total_fen"],
                            paid_fen=n["total_fen"] if n["status"] == "paid" else 0, paid_at=_iso(n["paid_at"]),
                            payee_name=n["payee_name"], issued_at=_iso(n["issued_at"]),
                            receipt_digest=n["receipt_digest"] or "")


def entry(e: dict) -> pb.ReconciliationEntry:
    return pb.ReconciliationEntry(
        id=str(e["id"]), tenant=e["tenant"], kind=e["kind"], kind_label=MATCH_LABELS[MatchKind(e["kind"])],
        status=e["status"], payment_id=e["payment_id"], notice_number=e["notice_number"], amount_fen=e["amount_fen"],
        expected_fen=e["expected_fen"], paid_at=_iso(e["paid_at"]), payer_name=e["payer_name"] or "",
        created_at=_iso(e["created_at"]), resolution=e["resolution"], resolved_by=e["resolved_by"],
        resolved_at=_iso(e["resolved_at"]), case_number=e["case_number"])


def refund(r: dict) -> pb.Refund:
    return pb.Refund(id=str(r["id"]), tenant=r["tenant"], notice_number=r["notice_number"],
                     case_number=r["case_number"], payment_id=r["payment_id"], amount_fen=r["amount_fen"],
                     reason=r["reason"], status=r["status"], requested_by=r["requested_by"],
                     requested_at=_iso(r["requested_at"]), decided_by=r["decided_by"],
                     decided_at=_iso(r["decided_at"]), note=r["note"],
                     reconciliation_id=str(r["reconciliation_id"] or ""))


def daily_report(report: dict) -> pb.DailyReport:
    return json_format.ParseDict(report, pb.DailyReport(), ignore_unknown_fields=True)
