"""Translation between the intake's proto messages and its commands, aggregates and views: requests and
responses of the gRPC API, the approval events it reads (message → command) and the events it records
(domain → message, `EventsOut`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sanji.approval.v1 import events_pb2 as approval_ev
from sanji.intake.v1 import events_pb2 as ev
from sanji.intake.v1 import intake_pb2 as pb

from services.intake.applicants import Applicant
from services.intake.commands import (
    RecordCompletion,
    RecordDecision,
    RecordDueDates,
    RecordResumption,
    RecordSuspension,
    SubmitCommand,
)
from services.intake.domain import (
    CHANNELS,
    STATUS_LABELS,
    Application,
    Status,
    SubmittedMaterial,
    explain_deadline,
    iso,
)
from services.intake.repository import ApplicationListing, ApplicationView
from shared.calendar import CalendarYear, WorkingCalendar
from shared.errors import InvalidArgument
from shared.idnumbers import birth_date_of
from shared.messaging import PoisonMessage

STATUS = {Status.RECEIVED: pb.APPLICATION_STATUS_RECEIVED, Status.CORRECTION: pb.APPLICATION_STATUS_CORRECTION,
          Status.ACCEPTED: pb.APPLICATION_STATUS_ACCEPTED, Status.REJECTED: pb.APPLICATION_STATUS_REJECTED,
          Status.TERMINATED: pb.APPLICATION_STATUS_TERMINATED, Status.COMPLETED: pb.APPLICATION_STATUS_COMPLETED,
          Status.PICKED_UP: pb.APPLICATION_STATUS_PICKED_UP}
STATUS_FROM_PB = {v: k for k, v in STATUS.items()}


def applicant_from_pb(a: pb.Applicant) -> Applicant:
    return Applicant(kind=a.kind.strip(), name=a.name.strip(), id_type=a.id_type.strip(),
                     id_number=a.id_number.strip().upper(), phone=a.phone.strip(), address=a.address.strip(),
                     organisation=a.organisation.strip(), dishonest=a.dishonest)


def applicant_to_pb(a: Applicant) -> pb.Applicant:
    return pb.Applicant(kind=a.kind, name=a.name, id_type=a.id_type, id_number=a.id_number, phone=a.phone,
                        address=a.address, organisation=a.organisation, dishonest=a.dishonest)


def materials_from_pb(materials) -> list[SubmittedMaterial]:
    """Listing a material in a request means it was handed in (the output fields are ignored)."""
    return [SubmittedMaterial(code=m.code.strip(), note=m.note.strip()) for m in materials]


def submit_command(r: pb.SubmitApplicationRequest) -> SubmitCommand:
    return SubmitCommand(idempotency_key=r.idempotency_key, item_id=r.item_id.strip(), item_version=r.item_version,
                         scenario_code=r.scenario_code.strip(), channel=int(r.channel),
                         applicant=applicant_from_pb(r.applicant), materials=materials_from_pb(r.materials),
                         form=dict(r.form))


def proxy_command(r: pb.SubmitProxyApplicationRequest) -> SubmitCommand:
    return SubmitCommand(idempotency_key=r.idempotency_key, item_id=r.item_id.strip(),
                         scenario_code=r.scenario_code.strip(), channel=pb.CHANNEL_WINDOW,
                         applicant=applicant_from_pb(r.applicant), materials=materials_from_pb(r.materials),
                         form=dict(r.form), proxy_request_id=r.proxy_request_id)


def status_filter(value: int) -> Status | None:
    if value == pb.APPLICATION_STATUS_UNSPECIFIED:
        return None
    return status_value(value, "status")


def status_value(value: int, field: str = "statuses") -> Status:
    """A status the caller names in `field` (UNSPECIFIED names none: refused as unknown)."""
    if value not in STATUS_FROM_PB:
        raise InvalidArgument(field, "未知的办件状态")
    return STATUS_FROM_PB[value]


# Where a notice is printed: the gateway's route that renders it (GET with the staff login; issue 19 — the
# accept answer carried only an empty `pdf`, the bytes being left out of every application read).
NOTICE_PDF_PATH = "/api/v1/intake/applications/{application_id}/notices/{notice_id}.pdf"


def notice_to_pb(meta: dict, pdf: bytes = b"", application_id: str = "") -> pb.Notice:
    """A notice's metadata (or its frozen snapshot, which names its application) as the proto."""
    application_id = application_id or meta.get("application_id", "")
    issued = meta["issued_at"]
    return pb.Notice(id=meta["id"], kind=meta["kind"], template_version=str(meta["template_version"]),
                     issued_at=issued if isinstance(issued, str) else issued.isoformat(), title=meta["title"], pdf=pdf,
                     pdf_url=NOTICE_PDF_PATH.format(application_id=application_id, notice_id=meta["id"]))


def application_to_pb(view: ApplicationView) -> pb.Application:
    a: Application = view.app
    out = pb.Application(
        id=a.id, tenant=a.tenant, item_id=a.item.id, item_version=a.item.version, item_name=a.item.name,
        scenario_code=a.scenario_code, channel=a.channel, applicant=applicant_to_pb(a.applicant),
        materials=[pb.MaterialSubmission(code=s.code, supplied=s.supplied, note=s.note, revision=s.revision,
                                         supplied_at=s.supplied_at, supplied_via=s.supplied_via)
                   for s in a.materials.values()],
        status=STATUS[a.status], case_number=a.case_number, received_at=a.received_at.isoformat(),
        decision_due=iso(a.decision_due), accepted_at=iso(a.accepted_at), accepted_on=iso(a.accepted_on),
        deemed_accepted=a.deemed, waived=[pb.WaivedMaterial(material_code=p.material_code,
                                                            promised_by=p.promised_by.isoformat())
                                          for p in a.open_promises()],
        proxy_tenant=a.proxy_tenant, proxy_request_id=a.proxy_request_id, case_kind=a.item.case_kind,
        idempotency_key=a.idempotency_key, form=a.form, picked_up_at=iso(a.picked_up_at),
        handling_unit_name=a.handling_unit_name, rejection=rejection_to_pb(a),
        government_invested=a.government_invested, key_construction_project=a.key_construction,
        collect_tenant=a.collect_tenant)
    if not view.receipt_only:
        out.query_code = a.query_code
        out.open_corrections.extend(pb.CorrectionItem(material_code=c.material_code, problem=c.problem)
                                    for c in a.open_corrections())
        out.notices.extend(notice_to_pb(n, application_id=a.id) for n in view.notices)
        out.history.extend(pb.Event(at=h.at, what=h.what, by=h.by, detail=h.detail) for h in a.history)
    return out


def listing_to_pb(x: ApplicationListing) -> pb.Application:
    """A list's row: the fields `application_to_pb` gives of the whole application, but its materials, open
    corrections, open 容缺 promises, form, query code, notices and history (GetApplication gives them)."""
    return pb.Application(
        id=x.id, tenant=x.tenant, item_id=x.item_id, item_version=x.item_version, item_name=x.item_name,
        scenario_code=x.scenario_code, channel=x.channel, applicant=applicant_to_pb(x.applicant),
        status=STATUS[x.status], case_number=x.case_number, received_at=x.received_at.isoformat(),
        decision_due=iso(x.decision_due), accepted_at=iso(x.accepted_at), accepted_on=iso(x.accepted_on),
        deemed_accepted=x.deemed, proxy_tenant=x.proxy_tenant, proxy_request_id=x.proxy_request_id,
        case_kind=x.case_kind, idempotency_key=x.idempotency_key, picked_up_at=iso(x.picked_up_at),
        handling_unit_name=x.handling_unit_name, rejection=rejection_to_pb(x),
        government_invested=x.government_invested, key_construction_project=x.key_construction,
        collect_tenant=x.collect_tenant)


def rejection_to_pb(a: Application | ApplicationListing) -> pb.Rejection | None:
    r = a.rejection
    if not r:
        return None
    return pb.Rejection(pending=a.rejection_pending, reason=r.get("reason", ""), legal_basis=r.get("legal_basis", ""),
                        proposed_by=r.get("proposed_by") or r.get("by", ""), proposed_at=r.get("proposed_at", ""),
                        confirmed_by=r.get("confirmed_by", ""), confirmed_by_name=r.get("confirmed_by_name", ""),
                        confirmed_role=r.get("confirmed_role", ""), confirmed_at=r.get("confirmed_at", ""))


def progress_to_pb(a: Application, calendar: WorkingCalendar | None = None) -> pb.Progress:
    """Step names and dates only: no names, no materials; while in progress, the promised finish date on
    the unit's working-day calendar."""
    out = pb.Progress(case_number=a.case_number, item_name=a.item.name, step=STATUS_LABELS[a.status],
                      steps=[pb.Event(at=day, what=step) for day, step in a.public_steps()])
    deadline = a.promised_deadline(calendar) if calendar is not None else None
    if deadline is not None:
        out.promised_limit_days = deadline.working_days
        out.promised_due = iso(deadline.due)
        out.clock_paused = deadline.paused_open
        out.promised_due_explained = explain_deadline(deadline)
        # the back office's own dates, when it has reported them since the clock last changed: its ledger binds
        reported = a.back_office_due()
        if reported is not None and not deadline.paused_open:
            promised, statutory = reported
            if promised and promised != out.promised_due:
                out.promised_due = promised
                out.promised_due_explained += f"；审批部门按其办件记录确定的承诺办结日期为 {promised}"
            if a.extensions:
                days = sum(int(e["days"]) for e in a.extensions)
                reasons = "；".join(e["reason"] for e in a.extensions if e.get("reason"))
                out.extension_days = days
                out.extension_reason = reasons
                out.extended_due = max(statutory or "", out.promised_due)
                out.promised_due_explained += (f"；已延期 {days} 个工作日" + (f"，原因：{reasons}" if reasons else "")
                                               + f"，办结期限延至 {out.extended_due}")
    return out


# -- events in: what the approval service reports back ------------------------------------------------
def _at(value: str) -> dt.datetime | None:
    """The time an event gives its step; None when it gives none (the handler takes its clock's)."""
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise PoisonMessage(f"'at' is not an ISO 8601 time: {value!r}") from None


def record_decision(m: approval_ev.CaseDecided) -> RecordDecision:
    return RecordDecision(case_number=m.case_number, outcome=m.outcome, document_number=m.document_number,
                          reasons=tuple(m.reasons), decider=m.decider, at=_at(m.at))


def calendar_year(m: approval_ev.CalendarYearPublished) -> tuple[str, CalendarYear]:
    """The province's year as the calendar's own value (a year it cannot be is a poison message, parked)."""
    try:
        return m.region, CalendarYear(year=m.year, holidays=dict(m.holidays), makeup_workdays=dict(m.makeup_workdays),
                                      published_by=m.published_by, published_at=_at(m.published_at))
    except InvalidArgument as exc:
        raise PoisonMessage(f"calendar_year_published unusable: {exc}") from None


def record_completion(m: approval_ev.CaseCompleted) -> RecordCompletion:
    return RecordCompletion(case_number=m.case_number, outcome=m.outcome, at=_at(m.at))


def record_suspension(m: approval_ev.ClockSuspended) -> RecordSuspension:
    return RecordSuspension(case_number=m.case_number, procedure=m.procedure_name or m.procedure, days=m.days,
                            suspended_on=m.suspended_on, notice_number=m.notice_number, reason=m.reason,
                            at=_at(m.at))


def record_resumption(m: approval_ev.ClockResumed) -> RecordResumption:
    return RecordResumption(case_number=m.case_number, resumed_on=m.resumed_on, promised_due=m.promised.due,
                            at=_at(m.at), statutory_due=m.statutory.due)


def record_extension(m: approval_ev.DeadlineExtended) -> RecordDueDates:
    if not m.at:        # written before the field existed: its place among the case's facts is unknown
        raise PoisonMessage("deadline_extended without 'at'")
    return RecordDueDates(case_number=m.case_number, at=_at(m.at), promised_due=m.promised.due,
                          statutory_due=m.statutory.due, cause="extension", extension_days=m.days, reason=m.reason,
                          approved_by=m.approved_by)


def record_reprojection(m: approval_ev.DueDateReprojected) -> RecordDueDates:
    return RecordDueDates(case_number=m.case_number, at=_at(m.at), promised_due=m.promised.due,
                          statutory_due=m.statutory.due, cause=m.cause or "calendar")


# -- events out: intake.events, built from the application ----------------------------------------------
class EventsOut:
    """The messages of the events intake records, one method per event, from domain values. The handlers get
    an instance (`events_out`) from the composition root and emit what it builds in their unit of work."""

    def application_submitted(self, app: Application) -> ev.ApplicationSubmitted:
        return ev.ApplicationSubmitted(
            application_id=app.id, tenant=app.tenant, item_id=app.item.id, item_version=app.item.version,
            channel=CHANNELS[app.channel], received_at=app.received_at.isoformat(), proxy_tenant=app.proxy_tenant,
            proxy_request_id=app.proxy_request_id, received_by=app.created_by, collect_tenant=app.collect_tenant)

    def application_accepted(self, app: Application) -> ev.ApplicationAccepted:
        item, waived = app.item, {x.material_code for x in app.promises}
        return ev.ApplicationAccepted(
            application_id=app.id, tenant=app.tenant, case_number=app.case_number, item_id=item.id,
            item_version=item.version, scenario_code=app.scenario_code, accepted_at=iso(app.accepted_at),
            deemed=app.deemed, immediate=app.immediate, waived_materials=[x.material_code for x in app.promises],
            accepted_by=app.accepted_by, case_kind=item.case_kind, received_at=app.received_at.isoformat(),
            applicant_name=app.applicant.name, proxy_tenant=app.proxy_tenant, collect_tenant=app.collect_tenant,
            applicant_id_suffix=app.applicant.id_number[-6:].upper(),
            auto_approval=item.auto_approval if app.immediate else "",
            applicant_birth_date=(iso(birth_date_of(app.applicant.id_number))
                                  if app.applicant.id_type == "resident_id" else ""),
            # the version's facts the approval service opens the case with (it cannot ask the catalogue)
            item_name=item.name, item_type=item.item_type, department=item.department,
            promised_limit_days=item.promised_limit_days, statutory_limit_days=item.statutory_limit_days,
            joint=item.joint, joint_departments=list(item.joint_departments), has_fees=item.has_fees,
            fee_codes=list(item.fee_codes), site_inspection=item.site_inspection,
            # the window's answers (收费从低): 政府投资项目, 重点建设项目 — not the agency's key-project agency
            government_invested=app.government_invested, key_project=app.key_construction,
            scenario_name=app.scenario.name,
            materials=[ev.AcceptedMaterial(code=m.code, name=m.name, supplied=app.materials[m.code].supplied,
                                           waived=m.code in waived, note=app.materials[m.code].note, core=m.core)
                       for m in app.scenario.materials])

    def correction_requested(self, app: Application, codes: Sequence[str],
                             now: dt.datetime) -> ev.CorrectionRequested:
        return ev.CorrectionRequested(application_id=app.id, tenant=app.tenant, material_codes=codes,
                                      requested_at=now.isoformat(), collect_tenant=app.collect_tenant)

    def materials_supplied(self, app: Application, codes: Sequence[str], now: dt.datetime,
                           closes: bool) -> ev.MaterialsSupplied:
        return ev.MaterialsSupplied(application_id=app.id, tenant=app.tenant, material_codes=codes,
                                    supplied_at=now.isoformat(), closes_promise=closes,
                                    collect_tenant=app.collect_tenant)

    def application_rejected(self, app: Application, now: dt.datetime) -> ev.ApplicationRejected:
        r = app.rejection
        return ev.ApplicationRejected(application_id=app.id, tenant=app.tenant, reason=r["reason"],
                                      rejected_at=now.isoformat(), proposed_by=r.get("proposed_by", ""),
                                      confirmed_by=r.get("confirmed_by", ""),
                                      confirmed_by_name=r.get("confirmed_by_name", ""),
                                      confirmed_role=r.get("confirmed_role", ""), collect_tenant=app.collect_tenant)

    def application_terminated(self, app: Application) -> ev.ApplicationTerminated:
        return ev.ApplicationTerminated(application_id=app.id, tenant=app.tenant, case_number=app.case_number,
                                        reason=app.termination["reason"], collect_tenant=app.collect_tenant)

    def result_picked_up(self, app: Application, now: dt.datetime, *, recorded_by: str) -> ev.ResultPickedUp:
        return ev.ResultPickedUp(application_id=app.id, tenant=app.tenant, case_number=app.case_number,
                                 channel=app.pickup["channel"], picked_up_at=now.isoformat(), recorded_by=recorded_by,
                                 picked_up_by=app.pickup["picked_up_by"],
                                 tracking_number=app.pickup["tracking_number"], collect_tenant=app.collect_tenant)

    def proxy_application_progressed(self, app: Application, step: str, now: dt.datetime, detail: str,
                                     codes: Sequence[str]) -> ev.ProxyApplicationProgressed:
        return ev.ProxyApplicationProgressed(
            proxy_request_id=app.proxy_request_id, proxy_tenant=app.proxy_tenant, application_id=app.id,
            handling_tenant=app.tenant, step=step, case_number=app.case_number, detail=detail, at=now.isoformat(),
            material_codes=list(codes),
            # the village acts for the resident under a signed authorisation: it gives them the code
            query_code=app.query_code if step == "accepted" else "")
