"""Translation between the approval service's proto messages and its domain objects."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from google.protobuf import json_format
from google.protobuf.message import Error as ProtoError
from sanji.approval.v1 import approval_pb2 as pb
from sanji.common.v1 import common_pb2
from sanji.intake.v1 import events_pb2 as intake_ev

from services.approval import domain
from services.approval.domain import Case, OpenCase, Projection
from shared.calendar import DeadlineResult
from shared.clock import CHINA_TZ
from shared.errors import InvalidArgument

if TYPE_CHECKING:
    from services.approval.handlers import CaseView
    from services.approval.repository import QueueRow


def _iso(v) -> str:
    return v.isoformat() if v else ""


def parse_instant(value: str, field_name: str) -> dt.datetime:
    """An ISO 8601 instant; without an offset it is Beijing time."""
    try:
        t = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(field_name, f"时间格式不正确：{value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=CHINA_TZ)


def parse_settled_at(value: str) -> dt.datetime | None:
    return parse_instant(value, "at") if value else None


def accepted_event(body: dict) -> intake_ev.ApplicationAccepted:
    """`application_accepted` as proto3 JSON → the message.

    Intake writes proto field names and plain values, which the message's own constructor (protobuf's C
    code) takes about 25 times faster than `json_format` (8 against 200 µs here). Whatever the constructor
    refuses (a JSON camelCase name, an unknown field, an integer written as a string, a float for an int,
    a wrong type) goes to `json_format.ParseDict`, the authority on proto3 JSON, and is parsed or refused
    there. The one leniency of the fast path: a bool field given 0 or 1 is taken as false or true."""
    if not isinstance(body, dict):
        raise InvalidArgument("body", "事件内容应为 JSON 对象")
    try:
        return intake_ev.ApplicationAccepted(**body)
    except (TypeError, ValueError):
        pass
    msg = intake_ev.ApplicationAccepted()
    try:
        json_format.ParseDict(body, msg, ignore_unknown_fields=True)
    except (json_format.ParseError, ProtoError) as exc:   # json_format's own errors are not message.Error
        raise InvalidArgument("body", f"事件内容无法解析：{exc}") from None
    return msg


def open_command_from_event(body: dict, correlation_id: str | None = None) -> OpenCase:
    """`application_accepted` (proto3 JSON) → the command that opens the case."""
    msg = accepted_event(body)
    if not msg.accepted_at:
        raise InvalidArgument("accepted_at", "缺少受理时间")
    accepted_at = parse_instant(msg.accepted_at, "accepted_at")
    materials = tuple({"code": m.code, "name": m.name, "supplied": m.supplied, "waived": m.waived or
                       m.code in msg.waived_materials, "note": m.note, "core": m.core} for m in msg.materials)
    return OpenCase(
        application_id=msg.application_id, case_number=msg.case_number or (correlation_id or ""), item_id=msg.item_id,
        item_version=msg.item_version, item_name=msg.item_name or msg.item_id, accepted_at=accepted_at,
        accepted_on=accepted_at.astimezone(CHINA_TZ).date(), promised_days=msg.promised_limit_days,
        statutory_days=msg.statutory_limit_days, item_type=msg.item_type, department=msg.department,
        immediate=msg.immediate or msg.case_kind == "1", joint=msg.joint,
        joint_departments=tuple(msg.joint_departments),
        has_fees=msg.has_fees, fee_codes=tuple(msg.fee_codes),
        site_inspection=msg.site_inspection, government_invested=msg.government_invested,
        key_project=msg.key_project, applicant_name=msg.applicant_name, scenario_code=msg.scenario_code,
        scenario_name=msg.scenario_name, accepted_by=msg.accepted_by, proxy_tenant=msg.proxy_tenant,
        materials=materials)


def deadline_pb(result: DeadlineResult | None, *, trace: bool = True) -> common_pb2.Deadline | None:
    if result is None:
        return None
    out = common_pb2.Deadline(start=result.start.isoformat(), working_days=result.working_days,
                              due=_iso(result.due), provisional=result.provisional,
                              unpublished_years=[str(y) for y in result.unpublished_years])
    if trace:
        out.trace.extend(common_pb2.DeadlineTraceDay(date=d.date.isoformat(), counted=d.counted, reason=d.reason)
                         for d in result.trace)
    return out


def case_to_pb(view: CaseView, desk_name) -> pb.Case:
    c = view.case
    full = view.full
    out = pb.Case(
        id=c.id, case_number=c.case_number, tenant=c.tenant, application_id=c.application_id, item_id=c.item_id,
        item_version=c.item_version, item_name=c.item_name, item_type=c.item_type, department=c.department,
        category=c.category, category_name=view.category_name, immediate=c.immediate, joint=c.joint,
        joint_departments=list(c.joint_departments), has_fees=c.has_fees, applicant_name=c.applicant_name,
        scenario_code=c.scenario_code, scenario_name=c.scenario_name, accepted_at=_iso(c.accepted_at),
        accepted_on=_iso(c.accepted_on), accepted_by=c.accepted_by, status=c.status,
        status_name=domain.STATUS_NAMES[c.status], promised_days=c.promised_days, statutory_days=c.statutory_days,
        extension_days=c.extension_days(), max_extension_days=c.max_extension_days,
        promised=deadline_pb(view.promised, trace=full), statutory=deadline_pb(view.statutory, trace=full),
        clock_suspended=c.open_suspension() is not None, late=view.late, late_departments=view.late_departments,
        fees_settled=c.fees_settled_at is not None, fees_settled_at=_iso(c.fees_settled_at),
        completed_at=_iso(c.completed_at), site_inspection=c.site_inspection,
        government_invested=c.government_invested, key_project=c.key_project, opened_at=_iso(c.opened_at),
    )
    if full:
        out.promised_explain = view.promised.explain()
        out.statutory_explain = view.statutory.explain()
    out.materials.extend(pb.CaseMaterial(code=m.get("code", ""), name=m.get("name", ""),
                                         supplied=bool(m.get("supplied")), waived=bool(m.get("waived")),
                                         note=m.get("note", ""), core=bool(m.get("core"))) for m in c.materials)
    for s in c.steps:
        share_due, late = view.share_dues.get(s.id, (None, False))
        out.steps.append(pb.Step(
            id=s.id, kind=s.kind, kind_name=domain.STEP_NAMES[s.kind], desk=s.desk, desk_name=desk_name(s.desk),
            status=s.status, claimed_by=s.claimed_by, claimed_by_name=s.claimed_by_name, claimed_at=_iso(s.claimed_at),
            done_by=s.done_by, done_by_name=s.done_by_name, done_at=_iso(s.done_at), opinion=s.opinion,
            conclusion=s.conclusion, share_days=s.share_days, share_due=_iso(share_due), late=late))
    for e in c.ledger:
        out.ledger.append(pb.LedgerEntry(
            id=e.id, kind=e.kind, procedure=e.procedure, procedure_name=domain.PROCEDURES.get(e.procedure, ""),
            reason=e.reason, days=e.days, on_date=_iso(e.on_date), at=_iso(e.at), by=e.by, by_name=e.by_name,
            approved_by=e.approved_by, approved_by_name=e.approved_by_name, notice_number=e.notice_number))
    for i in c.inspections:
        out.inspections.append(pb.Inspection(
            id=i.id, mode=i.mode, mode_name=domain.INSPECTION_MODES[i.mode], departments=list(i.departments),
            scheduled_on=_iso(i.scheduled_on), suspends_clock=bool(i.suspension_id), status=i.status,
            findings=i.findings, conclusion=i.conclusion, requested_by=i.requested_by,
            requested_at=_iso(i.requested_at), recorded_by=i.recorded_by, recorded_at=_iso(i.recorded_at),
            inspectors=i.inspectors))
    if c.decision is not None:
        d = c.decision
        out.decision.CopyFrom(pb.Decision(outcome=d.outcome, decider=d.decider, decider_name=d.decider_name,
                                          at=_iso(d.at), decided_on=_iso(d.decided_on), opinion=d.opinion,
                                          reasons=list(d.reasons), remedies=d.remedies,
                                          document_number=d.document_number))
    if c.certificate is not None:
        x = c.certificate
        out.certificate.CopyFrom(pb.Certificate(number=x.number, title=x.title, holder=x.holder,
                                                seal_name=x.seal_name, seal_code=x.seal_code,
                                                issued_at=_iso(x.issued_at)))
    if view.delivery is not None:
        due = view.delivery.due
        delivered_on = c.delivered_at.astimezone(CHINA_TZ).date() if c.delivered_at else None
        out.delivery.CopyFrom(pb.Delivery(
            due=deadline_pb(view.delivery, trace=full), method=c.delivery_method, delivered_at=_iso(c.delivered_at),
            by=c.delivered_by, recipient=c.delivery_recipient, tracking_number=c.delivery_tracking,
            late=bool(due and delivered_on and delivered_on > due)))
    for h in view.history:
        out.history.append(pb.HistoryEntry(at=_iso(h.at), actor=h.actor, actor_name=h.actor_name, action=h.action,
                                           detail=h.detail, opinion=h.opinion))
    for r in view.changes:
        out.deadline_changes.append(pb.DeadlineChange(
            at=_iso(r.at), cause=r.cause, previous_promised_due=_iso(r.previous_promised_due),
            promised_due=_iso(r.promised_due), previous_statutory_due=_iso(r.previous_statutory_due),
            statutory_due=_iso(r.statutory_due), provisional=r.provisional,
            previous_delivery_due=_iso(r.previous_delivery_due), delivery_due=_iso(r.delivery_due)))
    return out


def task_from_case(c: Case, step_id: str, proj: Projection, desk_name) -> pb.Task:
    """A claimed (or released) step as a task."""
    s = c.step(step_id)
    return pb.Task(step_id=s.id, case_id=c.id, case_number=c.case_number, kind=s.kind,
                   kind_name=domain.STEP_NAMES[s.kind], desk=s.desk, desk_name=desk_name(s.desk), status=s.status,
                   claimed_by=s.claimed_by, claimed_at=_iso(s.claimed_at), item_name=c.item_name,
                   applicant_name=c.applicant_name, clock_suspended=proj.suspended,
                   promised_due=_iso(proj.promised_due), statutory_due=_iso(proj.statutory_due),
                   provisional=proj.provisional, opened_at=_iso(s.opened_at))


def task_from_row(r: QueueRow, desk_name) -> pb.Task:
    return pb.Task(step_id=r.step_id, case_id=r.case_id, case_number=r.case_number, kind=r.kind,
                   kind_name=domain.STEP_NAMES[r.kind], desk=r.desk, desk_name=desk_name(r.desk), status=r.status,
                   claimed_by=r.claimed_by, claimed_at=_iso(r.claimed_at), item_name=r.item_name,
                   applicant_name=r.applicant_name, promised_due=_iso(r.promised_due),
                   statutory_due=_iso(r.statutory_due), provisional=r.provisional, clock_suspended=r.suspended,
                   opened_at=_iso(r.opened_at))
