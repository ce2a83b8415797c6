"""Translation between the approval service's proto messages and its domain: responses of the gRPC API
from cases, tasks and reports; the events it reads (message → command: intake's application accepted,
terminated and handed out, fees settled); and the events it records (domain → message, `EventsOut`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sanji.approval.v1 import approval_pb2 as pb
from sanji.approval.v1 import events_pb2 as ev
from sanji.common.v1 import common_pb2
from sanji.fees.v1 import events_pb2 as fees_ev
from sanji.intake.v1 import events_pb2 as intake_ev

from services.approval.administration import ReprojectionReport
from services.approval.case import Case
from services.approval.deadlines import Projection
from services.approval.domain import (
    INSPECTION_MODES,
    PROCEDURES,
    STATUS_NAMES,
    STEP_NAMES,
    CaseStatus,
    CertificateRecord,
    Inspection,
    InspectionStatus,
    LedgerEntry,
    OpenCase,
    RecordPickUp,
    Seal,
    SettleFees,
    Step,
    StepKind,
    StepStatus,
    TerminateCase,
)
from services.approval.handlers import CaseView
from services.approval.project_handlers import ProjectView
from services.approval.projects import PROJECT_KINDS
from services.approval.repository import CalendarChangeRow, OpenCaseRow, QueueRow
from shared.calendar import CalendarYear, DeadlineResult
from shared.clock import CHINA_TZ
from shared.errors import InvalidArgument
from shared.messaging import Envelope, PoisonMessage

DeskName = Callable[[str], str]

# -- statuses: domain StrEnum ↔ proto enum, one table each (the REST token of each proto value is the domain's
# value: CASE_STATUS_AWAITING_FEES ↔ "awaiting_fees"; tests/test_proto_style.py holds every table to it) ----
CASE_STATUS = {CaseStatus.REVIEW: pb.CASE_STATUS_REVIEW, CaseStatus.DECISION: pb.CASE_STATUS_DECISION,
               CaseStatus.AWAITING_FEES: pb.CASE_STATUS_AWAITING_FEES, CaseStatus.COMPLETED: pb.CASE_STATUS_COMPLETED,
               CaseStatus.DELIVERED: pb.CASE_STATUS_DELIVERED, CaseStatus.TERMINATED: pb.CASE_STATUS_TERMINATED}
STEP_STATUS = {StepStatus.WAITING: pb.STEP_STATUS_WAITING, StepStatus.OPEN: pb.STEP_STATUS_OPEN,
               StepStatus.CLAIMED: pb.STEP_STATUS_CLAIMED, StepStatus.DONE: pb.STEP_STATUS_DONE,
               StepStatus.CANCELLED: pb.STEP_STATUS_CANCELLED}
INSPECTION_STATUS = {InspectionStatus.SCHEDULED: pb.INSPECTION_STATUS_SCHEDULED,
                     InspectionStatus.RECORDED: pb.INSPECTION_STATUS_RECORDED}
CASE_STATUS_FROM_PB = {v: k for k, v in CASE_STATUS.items()}


def case_status_filter(value: int) -> CaseStatus | None:
    """ListCasesRequest.status: UNSPECIFIED is no filter; a number the API does not know is refused."""
    if value == pb.CASE_STATUS_UNSPECIFIED:
        return None
    if value not in CASE_STATUS_FROM_PB:
        raise InvalidArgument("status", f"未知的办件状态（{value}），应为：{'、'.join(STATUS_NAMES.values())}")
    return CASE_STATUS_FROM_PB[value]


def _iso(v) -> str:
    return v.isoformat() if v else ""


def parse_instant(value: str, field_name: str) -> dt.datetime:
    """An ISO 8601 instant; without an offset it is Beijing time."""
    try:
        t = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(field_name, f"时间格式不正确：{value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=CHINA_TZ)


# -- events in: message → command -------------------------------------------------------------------
# The consumer has read the body as the message (`Envelope.message`: proto3 JSON, the body's tenant the
# envelope's). What still cannot become a command can never be handled: PoisonMessage, parked at once.

def open_case_command(msg: intake_ev.ApplicationAccepted, env: Envelope) -> OpenCase:
    """`application_accepted` → the command that opens the case."""
    try:
        if not msg.accepted_at:
            raise InvalidArgument("accepted_at", "缺少受理时间")
        accepted_at = parse_instant(msg.accepted_at, "accepted_at")
    except InvalidArgument as exc:
        raise PoisonMessage(f"application_accepted unusable: {exc}") from None
    materials = tuple({"code": m.code, "name": m.name, "supplied": m.supplied, "waived": m.waived or
                       m.code in msg.waived_materials, "note": m.note, "core": m.core} for m in msg.materials)
    return OpenCase(
        application_id=msg.application_id, case_number=msg.case_number or (env.correlation_id or ""),
        item_id=msg.item_id, item_version=msg.item_version, item_name=msg.item_name or msg.item_id,
        accepted_at=accepted_at, accepted_on=accepted_at.astimezone(CHINA_TZ).date(),
        promised_days=msg.promised_limit_days, statutory_days=msg.statutory_limit_days, item_type=msg.item_type,
        department=msg.department, immediate=msg.immediate or msg.case_kind == "1", joint=msg.joint,
        joint_departments=tuple(msg.joint_departments),
        has_fees=msg.has_fees, fee_codes=tuple(msg.fee_codes),
        site_inspection=msg.site_inspection, government_invested=msg.government_invested,
        key_project=msg.key_project, applicant_name=msg.applicant_name, scenario_code=msg.scenario_code,
        scenario_name=msg.scenario_name, accepted_by=msg.accepted_by, proxy_tenant=msg.proxy_tenant,
        collect_tenant=msg.collect_tenant,
        materials=materials, auto_approval=msg.auto_approval, applicant_birth_date=_birth(msg.applicant_birth_date))


def _birth(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise PoisonMessage(f"applicant_birth_date is not an ISO date: {value!r}") from None


def settle_fees_command(msg: fees_ev.FeesSettled, env: Envelope) -> SettleFees:
    """`fees_settled` → the settlement; the case number may travel only as the correlation id."""
    number = msg.case_number or env.correlation_id or ""
    if not number:
        raise PoisonMessage("fees_settled without a case number")
    try:
        settled_at = parse_instant(msg.at, "at") if msg.at else None
    except InvalidArgument as exc:
        raise PoisonMessage(str(exc)) from None
    return SettleFees(case_number=number, paid_fen=msg.paid_fen, waived_fen=msg.waived_fen,
                      waived_in_full=msg.waived_in_full, settled_at=settled_at)


def pick_up_command(msg: intake_ev.ResultPickedUp, env: Envelope) -> RecordPickUp:
    """`result_picked_up` → the hand-out, which is the case's delivery."""
    if not msg.case_number:
        raise PoisonMessage("result_picked_up without a case number")
    try:
        at = dt.datetime.fromisoformat(msg.picked_up_at) if msg.picked_up_at else None
    except ValueError:
        raise PoisonMessage(f"picked_up_at is not an ISO 8601 time: {msg.picked_up_at!r}") from None
    return RecordPickUp(case_number=msg.case_number, picked_up_at=at, recorded_by=msg.recorded_by or "system",
                        channel=msg.channel or "window", picked_up_by=msg.picked_up_by,
                        tracking_number=msg.tracking_number)


def terminate_command(msg: intake_ev.ApplicationTerminated, env: Envelope) -> TerminateCase:
    """`application_terminated` → the end of the undecided case."""
    if not msg.case_number:
        raise PoisonMessage("application_terminated without a case number")
    return TerminateCase(case_number=msg.case_number, reason=msg.reason)


# -- responses ----------------------------------------------------------------------------------------

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


def case_to_pb(view: CaseView, desk_name: DeskName) -> pb.Case:
    c = view.case
    full = view.full
    out = pb.Case(
        id=c.id, case_number=c.case_number, tenant=c.tenant, application_id=c.application_id, item_id=c.item_id,
        item_version=c.item_version, item_name=c.item_name, item_type=c.item_type, department=c.department,
        category=c.category, category_name=view.category_name, immediate=c.immediate, joint=c.joint,
        joint_departments=list(c.joint_departments), has_fees=c.has_fees, applicant_name=c.applicant_name,
        scenario_code=c.scenario_code, scenario_name=c.scenario_name, accepted_at=_iso(c.accepted_at),
        accepted_on=_iso(c.accepted_on), accepted_by=c.accepted_by, status=CASE_STATUS[c.status],
        status_name=STATUS_NAMES[c.status], promised_days=c.promised_days, statutory_days=c.statutory_days,
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
            id=s.id, kind=s.kind, kind_name=STEP_NAMES[s.kind], desk=s.desk, desk_name=desk_name(s.desk),
            status=STEP_STATUS[s.status], claimed_by=s.claimed_by, claimed_by_name=s.claimed_by_name,
            claimed_at=_iso(s.claimed_at),
            done_by=s.done_by, done_by_name=s.done_by_name, done_at=_iso(s.done_at), opinion=s.opinion,
            conclusion=s.conclusion, share_days=s.share_days, share_due=_iso(share_due), late=late))
    for e in c.ledger:
        out.ledger.append(pb.LedgerEntry(
            id=e.id, kind=e.kind, procedure=e.procedure, procedure_name=PROCEDURES.get(e.procedure, ""),
            reason=e.reason, days=e.days, on_date=_iso(e.on_date), at=_iso(e.at), by=e.by, by_name=e.by_name,
            approved_by=e.approved_by, approved_by_name=e.approved_by_name, notice_number=e.notice_number))
    for i in c.inspections:
        out.inspections.append(pb.Inspection(
            id=i.id, mode=i.mode, mode_name=INSPECTION_MODES[i.mode], departments=list(i.departments),
            scheduled_on=_iso(i.scheduled_on), suspends_clock=bool(i.suspension_id),
            status=INSPECTION_STATUS[i.status],
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


def task_from_case(c: Case, step_id: str, proj: Projection, desk_name: DeskName) -> pb.Task:
    """A claimed (or released) step as a task."""
    s = c.step(step_id)
    return pb.Task(step_id=s.id, case_id=c.id, case_number=c.case_number, kind=s.kind,
                   kind_name=STEP_NAMES[s.kind], desk=s.desk, desk_name=desk_name(s.desk),
                   status=STEP_STATUS[s.status], claimed_by=s.claimed_by, claimed_at=_iso(s.claimed_at),
                   item_name=c.item_name, applicant_name=c.applicant_name, clock_suspended=proj.suspended,
                   promised_due=_iso(proj.promised_due), statutory_due=_iso(proj.statutory_due),
                   provisional=proj.provisional, opened_at=_iso(s.opened_at))


def task_from_row(r: QueueRow, desk_name: DeskName) -> pb.Task:
    return pb.Task(step_id=r.step_id, case_id=r.case_id, case_number=r.case_number, kind=r.kind,
                   kind_name=STEP_NAMES[r.kind], desk=r.desk, desk_name=desk_name(r.desk),
                   status=STEP_STATUS[r.status], claimed_by=r.claimed_by, claimed_at=_iso(r.claimed_at),
                   item_name=r.item_name, applicant_name=r.applicant_name, promised_due=_iso(r.promised_due),
                   statutory_due=_iso(r.statutory_due), provisional=r.provisional, clock_suspended=r.suspended,
                   opened_at=_iso(r.opened_at))


def queue_to_pb(rows: Sequence[QueueRow], total: int, capped: bool, desk_name: DeskName) -> pb.ListQueueResponse:
    return pb.ListQueueResponse(tasks=[task_from_row(r, desk_name) for r in rows], total=total, total_capped=capped)


def seal_to_pb(found: tuple[Seal, dt.datetime, str], tenant: str) -> pb.Seal:
    seal, at, by = found
    return pb.Seal(tenant=tenant, name=seal.name, code=seal.code, registered_at=at.isoformat(), registered_by=by)


def desks_to_pb(everyone: Sequence[tuple[str, str, list[str]]], mine: list[str]) -> pb.ListDesksResponse:
    return pb.ListDesksResponse(assignments=[pb.DeskAssignment(username=u, display_name=n, desks=d)
                                             for u, n, d in everyone], my_desks=mine)


def report_to_pb(r: ReprojectionReport) -> pb.ReprojectionReport:
    return pb.ReprojectionReport(cause=r.cause, tenants=r.tenants, cases_examined=r.examined, cases_changed=r.changed,
                                 cases_provisional=r.provisional)


_CHANGE_STATUS = {"proposed": pb.CALENDAR_CHANGE_STATUS_PROPOSED, "approved": pb.CALENDAR_CHANGE_STATUS_APPROVED}


def calendar_change_to_pb(c: CalendarChangeRow) -> pb.CalendarChange:
    return pb.CalendarChange(
        id=c.id, tenant=c.tenant, day=c.day.isoformat(), name=c.name, reason=c.reason,
        status=_CHANGE_STATUS[c.status], proposed_by=c.proposed_by, proposed_by_name=c.proposed_by_name,
        proposed_at=_iso(c.proposed_at), approved_by=c.approved_by or "", approved_by_name=c.approved_by_name or "",
        approved_at=_iso(c.approved_at), cases_examined=c.cases_examined or 0, cases_changed=c.cases_changed or 0,
        cases_moved=c.cases_moved)


def calendar_changes_to_pb(changes: Sequence[CalendarChangeRow]) -> pb.ListCalendarChangesResponse:
    return pb.ListCalendarChangesResponse(changes=[calendar_change_to_pb(c) for c in changes])


def categories_to_pb(categories: Sequence[tuple[str, str]]) -> pb.ListCategoriesResponse:
    return pb.ListCategoriesResponse(categories=[pb.Category(code=c, name=n) for c, n in categories])


# -- events out: domain → message ---------------------------------------------------------------------

class EventsOut:
    """The messages of the events the approval service records, one method per event, from domain values.
    The handlers get an instance (`events_out`) from the composition root and emit what it builds in their
    unit of work; they compute the values (due dates, lateness), this only writes them down."""

    def case_opened(self, case: Case, promised: DeadlineResult, statutory: DeadlineResult,
                    now: dt.datetime) -> ev.CaseOpened:
        return ev.CaseOpened(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, application_id=case.application_id,
            item_id=case.item_id, item_version=case.item_version, category=case.category, has_fees=case.has_fees,
            joint=case.joint, promised=deadline_pb(promised), statutory=deadline_pb(statutory),
            item_name=case.item_name, immediate=case.immediate, joint_departments=list(case.joint_departments),
            applicant_name=case.applicant_name, opened_at=now.isoformat(), collect_tenant=case.collect_tenant)

    def step_claimed(self, case: Case, step: Step, now: dt.datetime) -> ev.StepClaimed:
        return ev.StepClaimed(case_id=case.id, case_number=case.case_number, tenant=case.tenant, step_id=step.id,
                              kind=str(step.kind), desk=step.desk, holder=step.claimed_by,
                              holder_name=step.claimed_by_name, at=now.isoformat(), application_id=case.application_id)

    def step_released(self, case: Case, step: Step, by: str, now: dt.datetime) -> ev.StepReleased:
        return ev.StepReleased(case_id=case.id, case_number=case.case_number, tenant=case.tenant, step_id=step.id,
                               kind=str(step.kind), by=by, at=now.isoformat(), application_id=case.application_id)

    def case_terminated(self, case: Case, reason: str, now: dt.datetime) -> ev.CaseTerminated:
        return ev.CaseTerminated(case_id=case.id, case_number=case.case_number, tenant=case.tenant, reason=reason,
                                 at=now.isoformat(), collect_tenant=case.collect_tenant)

    def review_completed(self, case: Case, step: Step, reviewer: str, late: bool, all_concluded: bool,
                         now: dt.datetime) -> ev.ReviewCompleted:
        return ev.ReviewCompleted(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, reviewer=reviewer,
            opinion=step.opinion, at=now.isoformat(),
            department=step.desk if step.kind == StepKind.DEPARTMENT else "", conclusion=step.conclusion,
            late=late, all_concluded=all_concluded)

    def case_decided(self, case: Case, decider: str, reasons: Sequence[str], late: bool,
                     late_departments: Sequence[str], delivery: DeadlineResult | None, *, immediate: bool,
                     now: dt.datetime) -> ev.CaseDecided:
        assert case.decision is not None
        return ev.CaseDecided(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, outcome=case.decision.outcome,
            decider=decider, at=now.isoformat(), has_fees=case.has_fees, item_id=case.item_id,
            item_version=case.item_version, government_invested=case.government_invested,
            key_project=case.key_project, applicant_name=case.applicant_name, reasons=list(reasons), late=late,
            late_departments=list(late_departments), immediate=immediate, fee_codes=list(case.fee_codes),
            delivery=deadline_pb(delivery) if delivery else None, document_number=case.decision.document_number,
            collect_tenant=case.collect_tenant)

    def certificate_issued(self, case: Case, certificate: CertificateRecord,
                           now: dt.datetime) -> ev.CertificateIssued:
        c = certificate
        return ev.CertificateIssued(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, certificate_number=c.number,
            at=now.isoformat(), seal_name=c.seal_name, title=c.title, holder=c.holder,
            collect_tenant=case.collect_tenant)

    def case_completed(self, case: Case, late: bool, delivery: DeadlineResult | None) -> ev.CaseCompleted:
        return ev.CaseCompleted(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, at=_iso(case.completed_at),
            late=late, outcome=case.decision.outcome if case.decision else "",
            fees_settled=case.fees_settled_at is not None,
            delivery=deadline_pb(delivery, trace=False) if delivery else None, collect_tenant=case.collect_tenant)

    def clock_suspended(self, case: Case, entry: LedgerEntry, today: dt.date, now: dt.datetime) -> ev.ClockSuspended:
        return ev.ClockSuspended(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, procedure=entry.procedure,
            reason=entry.reason, days=entry.days, at=now.isoformat(), procedure_name=PROCEDURES[entry.procedure],
            suspended_on=today.isoformat(), notice_number=entry.notice_number, collect_tenant=case.collect_tenant)

    def clock_resumed(self, case: Case, promised: DeadlineResult, statutory: DeadlineResult,
                      resumed_on: dt.date | None, now: dt.datetime, paused_working_days: int = 0) -> ev.ClockResumed:
        return ev.ClockResumed(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, at=now.isoformat(),
            promised=deadline_pb(promised), statutory=deadline_pb(statutory), resumed_on=_iso(resumed_on),
            paused_working_days=paused_working_days, collect_tenant=case.collect_tenant)

    def deadline_extended(self, case: Case, entry: LedgerEntry, approved_by: str, statutory: DeadlineResult,
                          promised: DeadlineResult | None = None,
                          now: dt.datetime | None = None) -> ev.DeadlineExtended:
        return ev.DeadlineExtended(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, days=entry.days,
            approved_by=approved_by, reason=entry.reason, statutory=deadline_pb(statutory),
            collect_tenant=case.collect_tenant,
            promised=deadline_pb(promised) if promised is not None else None, at=now.isoformat() if now else "")

    def inspection_requested(self, case: Case, insp: Inspection, now: dt.datetime) -> ev.InspectionRequested:
        return ev.InspectionRequested(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, inspection_id=insp.id,
            mode=insp.mode, departments=list(insp.departments), scheduled_on=insp.scheduled_on.isoformat(),
            suspends_clock=bool(insp.suspension_id), at=now.isoformat())

    def inspection_recorded(self, case: Case, insp: Inspection, now: dt.datetime) -> ev.InspectionRecorded:
        return ev.InspectionRecorded(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, inspection_id=insp.id,
            conclusion=insp.conclusion, findings=insp.findings, at=now.isoformat())

    def case_delivered(self, case: Case, late: bool, now: dt.datetime) -> ev.CaseDelivered:
        return ev.CaseDelivered(case_id=case.id, case_number=case.case_number, tenant=case.tenant,
                                method=case.delivery_method, at=now.isoformat(), late=late,
                                tracking_number=case.delivery_tracking, collect_tenant=case.collect_tenant)

    def calendar_year_published(self, cy: CalendarYear, region: str, cause: str) -> ev.CalendarYearPublished:
        return ev.CalendarYearPublished(
            region=region, year=cy.year, holidays={d.isoformat(): n for d, n in sorted(cy.holidays.items())},
            makeup_workdays={d.isoformat(): n for d, n in sorted(cy.makeup_workdays.items())},
            published_by=cy.published_by, published_at=cy.published_at.isoformat() if cy.published_at else "",
            cause=cause)

    def due_date_reprojected(self, row: OpenCaseRow, proj: Projection, tenant: str, cause: str,
                             now: dt.datetime) -> ev.DueDateReprojected:
        def dl(start: dt.date, days: int, due: dt.date | None) -> common_pb2.Deadline:
            return common_pb2.Deadline(start=start.isoformat(), working_days=days, due=_iso(due),
                                       provisional=proj.provisional)

        return ev.DueDateReprojected(
            case_id=row.id, case_number=row.case_number, tenant=tenant, cause=cause,
            previous_promised_due=_iso(row.promised_due), previous_statutory_due=_iso(row.statutory_due),
            promised=dl(row.accepted_on, row.promised_days, proj.promised_due),
            statutory=dl(row.accepted_on, row.statutory_total, proj.statutory_due), at=now.isoformat(),
            previous_delivery_due=_iso(row.delivery_due), delivery_due=_iso(proj.delivery_due))


# -- whole-project limits ----------------------------------------------------------------------------------
def project_to_pb(view: ProjectView) -> pb.Project:
    p = view.project
    name, cap, _ = PROJECT_KINDS[p.kind]
    return pb.Project(
        id=p.id, tenant=p.tenant, name=p.name, kind=p.kind, kind_name=name, limit_days=p.limit_days, cap_days=cap,
        started_on=p.started_on.isoformat(), due=_iso(view.due), provisional=view.provisional, late=view.late,
        suspended=p.open_pause() is not None, created_by=p.created_by,
        cases=[pb.ProjectCase(case_number=c.case_number, item_name=c.item_name, department=c.department,
                              status=CASE_STATUS[CaseStatus(c.status)], promised_due=_iso(c.promised_due),
                              completed_on=_iso(c.completed_on)) for c in p.cases],
        ledger=[pb.ProjectPause(start=x.start.isoformat(), end=_iso(x.end), reason=x.reason, by=x.by,
                                resumed_by=x.resumed_by) for x in p.pauses],
        holding_up=[pb.ProjectHold(case_number=h.case_number, department=h.department, item_name=h.item_name,
                                   reason=h.reason) for h in view.holding_up])
