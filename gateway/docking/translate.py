"""Translation between the docking gateway's proto messages and its domain results; platform events read as
plain dicts for the reports (each event's proto3 JSON is what the province receives in `detail`)."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.message import Message
from sanji.docking.v1 import docking_pb2 as pb
from sanji.docking.v1 import events_pb2 as ev

from gateway.docking import domain
from gateway.docking.handlers import Received
from shared import hashchain
from shared.protojson import message_to_json


def event_body(message: Message) -> dict[str, Any]:
    return json.loads(message_to_json(message))


def received(r: Received) -> pb.ReceiveResult:
    return pb.ReceiveResult(message_id=r.message_id, duplicate=r.duplicate, reference=r.reference,
                            receipt_json=json.dumps(r.receipt, ensure_ascii=False))


def backlog(pending: int, oldest: int, rows: list[dict[str, Any]]) -> pb.Backlog:
    return pb.Backlog(pending=pending, oldest_age_seconds=oldest, tenants=[
        pb.TenantBacklog(tenant=r["tenant"], pending=int(r["pending"]),
                         oldest_age_seconds=int(r["oldest_age_seconds"] or 0), failing=int(r["failing"]))
        for r in rows])


def verdict(v: hashchain.Verdict) -> pb.MessageLogVerification:
    return pb.MessageLogVerification(intact=v.ok, entries=v.records_checked, head_hash=v.last_hash,
                                     first_bad_seq=v.finding.seq if v.finding else 0,
                                     problem=v.finding.text if v.finding else "")


def comparison(province: str, items: list[domain.ItemComparison]) -> pb.CatalogueComparison:
    return pb.CatalogueComparison(
        province=province, same_elements=list(domain.same_elements(province)),
        differing=sum(1 for i in items if i.differences), missing=sum(1 for i in items if not i.county_item_id),
        items=[pb.ItemComparison(standard_code=i.standard_code, name=i.name, county_item_id=i.county_item_id,
                                 draft_item_id=i.draft_item_id,
                                 differences=[pb.ElementDifference(element=d.element, label=d.label,
                                                                   standard=d.standard, county=d.county)
                                              for d in i.differences])
               for i in items])


def reconciliation(r: domain.Reconciliation, csv: str, pdf: bytes = b"") -> pb.ReconciliationReport:
    return pb.ReconciliationReport(
        day=r.day, tenant=r.tenant, missing_at_province=r.missing_at_province, unknown_to_us=r.unknown_to_us,
        resent=r.resent, csv=csv, pdf=pdf,
        types=[pb.TypeReconciliation(message_type=t.message_type, ours=t.ours, theirs=t.theirs, our_hash=t.our_hash,
                                     their_hash=t.their_hash, matches=t.matches) for t in r.types])


class EventsOut:
    """The messages of the events the docking gateway records, from plain values (the handlers get an instance
    from the composition root and emit what it builds in their unit of work)."""

    def case_reported(self, tenant: str, row: dict[str, Any], at: str) -> ev.CaseReported:
        body = row["body"] if isinstance(row["body"], dict) else json.loads(row["body"])
        return ev.CaseReported(message_id=row["message_id"], tenant=tenant, case_key=row["case_key"],
                               event=row["type"], progress_code=str(body.get("progress_code", "")),
                               provincial_serial=str(body.get("provincial_serial", "")), at=at,
                               attempts=int(row["attempts"]) + 1)
