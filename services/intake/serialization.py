"""The application as its row keeps it: the JSON document beside the columns, plain Python (no I/O).

`IntakeRepository` writes the columns the service queries by (tenant, status, case number, due dates,
the ID suffix) and this document with the rest of the aggregate; `to_doc` and `from_doc` are the one
conversion both ways, pure so that a round trip can be tested without a database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from services.intake.applicants import Applicant
from services.intake.domain import (
    Application,
    CorrectionItem,
    CorrectionRound,
    HistoryEntry,
    MaterialState,
    Promise,
    Status,
    iso,
)
from services.intake.items import ItemSnapshot


def _dt(value: str) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _d(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def to_doc(a: Application) -> dict[str, Any]:
    return {
        "item": a.item.to_dict(), "applicant": a.applicant.to_dict(), "created_by": a.created_by,
        "handling_unit_name": a.handling_unit_name, "accepted_at": iso(a.accepted_at), "accepted_by": a.accepted_by,
        "accept_key": a.accept_key,
        "deemed": a.deemed, "immediate": a.immediate, "form": a.form, "query_code": a.query_code,
        "materials": [vars(s) for s in a.materials.values()],
        "corrections": [{"number": r.number, "requested_at": r.requested_at, "requested_on": iso(r.requested_on),
                         "requested_by": r.requested_by, "items": [vars(i) for i in r.items],
                         "revisions": r.revisions, "closed_on": iso(r.closed_on)} for r in a.corrections],
        "promises": [{"material_code": p.material_code, "promised_by": iso(p.promised_by), "limit": iso(p.limit),
                      "closed_at": p.closed_at} for p in a.promises],
        "history": [vars(h) for h in a.history], "picked_up_at": iso(a.picked_up_at), "pickup": a.pickup,
        "rejection": a.rejection, "termination": a.termination,
        "government_invested": a.government_invested, "key_construction": a.key_construction,
        "collect_tenant": a.collect_tenant,
        "back_office": a.back_office, "extensions": a.extensions,
    }


def from_doc(*, id: str, tenant: str, origin_tenant: str, idempotency_key: str, scenario_code: str,  # noqa: A002
             channel: int, status: str, case_number: str | None, received_at: dt.datetime, received_on: dt.date,
             decision_due: dt.date | None, accepted_on: dt.date | None, proxy_tenant: str | None,
             proxy_request_id: str | None, doc: Mapping[str, Any]) -> Application:
    return Application(
        id=id, tenant=tenant, origin_tenant=origin_tenant, idempotency_key=idempotency_key,
        item=ItemSnapshot.from_dict(doc["item"]), scenario_code=scenario_code, channel=channel,
        applicant=Applicant.from_dict(doc.get("applicant")),
        materials={m["code"]: MaterialState(**m) for m in doc.get("materials", [])},
        status=Status(status), received_at=received_at, received_on=received_on, created_by=doc.get("created_by", ""),
        handling_unit_name=doc.get("handling_unit_name", ""), decision_due=decision_due,
        case_number=case_number or "", query_code=doc.get("query_code", ""),
        accepted_at=_dt(doc.get("accepted_at", "")), accepted_on=accepted_on,
        accepted_by=doc.get("accepted_by", ""), accept_key=doc.get("accept_key", ""),
        deemed=bool(doc.get("deemed")), immediate=bool(doc.get("immediate")),
        corrections=[CorrectionRound(number=r["number"], requested_at=r["requested_at"],
                                     requested_on=dt.date.fromisoformat(r["requested_on"]),
                                     requested_by=r.get("requested_by", ""),
                                     items=[CorrectionItem(**i) for i in r["items"]], revisions=dict(r["revisions"]),
                                     closed_on=_d(r.get("closed_on"))) for r in doc.get("corrections", [])],
        promises=[Promise(p["material_code"], dt.date.fromisoformat(p["promised_by"]),
                          dt.date.fromisoformat(p["limit"]), p.get("closed_at", "")) for p in doc.get("promises", [])],
        proxy_tenant=proxy_tenant or "", proxy_request_id=proxy_request_id or "", form=dict(doc.get("form", {})),
        history=[HistoryEntry(**h) for h in doc.get("history", [])], picked_up_at=_dt(doc.get("picked_up_at", "")),
        pickup=dict(doc.get("pickup", {})), rejection=dict(doc.get("rejection", {})),
        termination=dict(doc.get("termination", {})),
        government_invested=bool(doc.get("government_invested")), key_construction=bool(doc.get("key_construction")),
        collect_tenant=str(doc.get("collect_tenant", "")),
        back_office=dict(doc.get("back_office", {})), extensions=[dict(e) for e in doc.get("extensions", [])],
    )
