"""How the approval schema's rows become the domain's objects and back, for `repository.py`.

A case is read in one statement: its own columns (`CASE_COLUMNS`, in that order) and its parts as JSON
(steps, ledger, inspections, decision, certificate), whose timestamps and dates arrive as ISO text. Its
changes are written as JSON records (`STEP_TYPES`, `INSPECTION_TYPES` give their columns' types). Stored
codes come back as the domain's StrEnum members, looked up in a dict: calling the enum costs microseconds
per value, and a case read reads dozens of them.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any, TypeVar

from services.approval.case import Case
from services.approval.deadlines import Projection
from services.approval.domain import (
    CaseStatus,
    CertificateRecord,
    DecisionRecord,
    Inspection,
    InspectionStatus,
    LedgerEntry,
    LedgerKind,
    Outcome,
    Step,
    StepKind,
    StepStatus,
)

E = TypeVar("E", bound=enum.Enum)

CASE_COLUMNS = (
    "id", "tenant_code", "case_number", "application_id", "item_id", "item_version", "item_name", "item_type",
    "department", "category", "immediate", "joint", "joint_departments", "has_fees", "fee_codes", "site_inspection",
    "government_invested", "key_project", "applicant_name", "scenario_code", "scenario_name", "materials",
    "accepted_at", "accepted_on", "accepted_by", "proxy_tenant", "promised_days", "statutory_days", "status",
    "opened_at", "fees_settled_at", "completed_at", "delivered_at", "delivery_method", "delivered_by",
    "delivery_recipient", "delivery_tracking", "version", "collect_tenant")
STEP_TYPES = ("id uuid, kind text, desk text, seq int, status text, share_days int, opened_at timestamptz,"
              " claimed_by text, claimed_by_name text, claimed_at timestamptz, done_by text, done_by_name text,"
              " done_at timestamptz, done_on date, opinion text, conclusion text")
INSPECTION_TYPES = ("id uuid, mode text, departments text[], scheduled_on date, suspends boolean, status text,"
                    " inspectors text, note text, findings text, conclusion text, requested_by text,"
                    " requested_at timestamptz, recorded_by text, recorded_at timestamptz, suspension_id uuid")


def _members(cls: type[E]) -> dict[str, E]:
    return {m.value: m for m in cls}


_CASE_STATUS = _members(CaseStatus)
_STEP_KIND = _members(StepKind)
_STEP_STATUS = _members(StepStatus)
_LEDGER_KIND = _members(LedgerKind)
_INSPECTION_STATUS = _members(InspectionStatus)
_OUTCOME = _members(Outcome)


def timestamp_of(v: Any) -> dt.datetime | None:
    if v is None or v == "":
        return None
    return v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(v)


def date_of(v: Any) -> dt.date | None:
    if v is None or v == "":
        return None
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(v)


# -- reading ---------------------------------------------------------------------------------------

def case_from_row(r: Sequence[Any]) -> Case:
    """The case's own columns, in `CASE_COLUMNS` order; its parts are set by the caller."""
    c = dict(zip(CASE_COLUMNS, r, strict=True))
    return Case(
        id=str(c["id"]), tenant=c["tenant_code"], case_number=c["case_number"], application_id=c["application_id"],
        item_id=c["item_id"], item_version=c["item_version"], item_name=c["item_name"], item_type=c["item_type"],
        department=c["department"], category=c["category"], immediate=c["immediate"], joint=c["joint"],
        joint_departments=tuple(c["joint_departments"] or ()), has_fees=c["has_fees"],
        fee_codes=tuple(c["fee_codes"] or ()), site_inspection=c["site_inspection"],
        government_invested=c["government_invested"], key_project=c["key_project"],
        applicant_name=c["applicant_name"], scenario_code=c["scenario_code"], scenario_name=c["scenario_name"],
        materials=list(c["materials"] or []), accepted_at=c["accepted_at"], accepted_on=c["accepted_on"],
        accepted_by=c["accepted_by"], proxy_tenant=c["proxy_tenant"], promised_days=c["promised_days"],
        statutory_days=c["statutory_days"], status=_CASE_STATUS[c["status"]], opened_at=c["opened_at"],
        fees_settled_at=c["fees_settled_at"], completed_at=c["completed_at"], delivered_at=c["delivered_at"],
        delivery_method=c["delivery_method"], delivered_by=c["delivered_by"],
        delivery_recipient=c["delivery_recipient"], delivery_tracking=c["delivery_tracking"], version=c["version"],
        collect_tenant=c["collect_tenant"])


def step_from_json(d: dict) -> Step:
    return Step(id=str(d["id"]), kind=_STEP_KIND[d["kind"]], desk=d["desk"], seq=d["seq"],
                status=_STEP_STATUS[d["status"]], share_days=d["share_days"], opened_at=timestamp_of(d["opened_at"]),
                claimed_by=d["claimed_by"], claimed_by_name=d["claimed_by_name"],
                claimed_at=timestamp_of(d["claimed_at"]), done_by=d["done_by"], done_by_name=d["done_by_name"],
                done_at=timestamp_of(d["done_at"]), done_on=date_of(d["done_on"]), opinion=d["opinion"],
                conclusion=d["conclusion"])


def ledger_from_json(d: dict) -> LedgerEntry:
    return LedgerEntry(id=str(d["id"]), kind=_LEDGER_KIND[d["kind"]], at=timestamp_of(d["at"]),
                       on_date=date_of(d["on_date"]), procedure=d["procedure"], reason=d["reason"], days=d["days"],
                       by=d["by_user"], by_name=d["by_name"], approved_by=d["approved_by"],
                       approved_by_name=d["approved_by_name"], ref=str(d["ref"] or ""),
                       notice_number=d["notice_number"])


def inspection_from_json(d: dict) -> Inspection:
    return Inspection(id=str(d["id"]), mode=d["mode"], departments=tuple(d["departments"] or ()),
                      scheduled_on=date_of(d["scheduled_on"]), suspends=d["suspends"],
                      requested_by=d["requested_by"], requested_at=timestamp_of(d["requested_at"]),
                      inspectors=d["inspectors"], note=d["note"], status=_INSPECTION_STATUS[d["status"]],
                      findings=d["findings"], conclusion=d["conclusion"], recorded_by=d["recorded_by"],
                      recorded_at=timestamp_of(d["recorded_at"]), suspension_id=str(d["suspension_id"] or ""))


def decision_from_json(d: dict | None) -> DecisionRecord | None:
    if not d:
        return None
    return DecisionRecord(outcome=_OUTCOME[d["outcome"]], decider=d["decider"], decider_name=d["decider_name"],
                          at=timestamp_of(d["at"]), decided_on=date_of(d["decided_on"]), opinion=d["opinion"],
                          reasons=tuple(d["reasons"] or ()), remedies=d["remedies"],
                          document_number=d["document_number"], immediate=d["immediate"])


def certificate_from_json(d: dict | None) -> CertificateRecord | None:
    if not d:
        return None
    return CertificateRecord(number=d["number"], title=d["title"], holder=d["holder"], seal_name=d["seal_name"],
                             seal_code=d["seal_code"], issued_at=timestamp_of(d["issued_at"]))


# -- writing ---------------------------------------------------------------------------------------

def projection_params(p: Projection) -> dict:
    return {"p_due": p.promised_due, "s_due": p.statutory_due, "d_due": p.delivery_due, "prov": p.provisional,
            "susp": p.suspended}


def json_default(v: Any) -> str:
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def step_row(s: Step) -> dict:
    return {"id": s.id, "kind": s.kind, "desk": s.desk, "seq": s.seq, "status": s.status, "share_days": s.share_days,
            "opened_at": s.opened_at, "claimed_by": s.claimed_by, "claimed_by_name": s.claimed_by_name,
            "claimed_at": s.claimed_at, "done_by": s.done_by, "done_by_name": s.done_by_name, "done_at": s.done_at,
            "done_on": s.done_on, "opinion": s.opinion, "conclusion": s.conclusion}


def inspection_row(i: Inspection) -> dict:
    return {"id": i.id, "mode": i.mode, "departments": list(i.departments), "scheduled_on": i.scheduled_on,
            "suspends": i.suspends, "status": i.status, "inspectors": i.inspectors, "note": i.note,
            "findings": i.findings, "conclusion": i.conclusion, "requested_by": i.requested_by,
            "requested_at": i.requested_at, "recorded_by": i.recorded_by, "recorded_at": i.recorded_at,
            "suspension_id": i.suspension_id or None}
