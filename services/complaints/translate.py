"""Translation between the complaints service's proto messages and its rows and commands: requests of the gRPC
API → commands, rows → responses (with the complainant's identity only for those who may see it), the events
it reads (intake's and approval's, and its own escalation) and the events it records (`EventsOut`)."""

from __future__ import annotations

import datetime as dt

from sanji.approval.v1 import events_pb2 as approval_ev
from sanji.complaints.v1 import complaints_pb2 as pb
from sanji.complaints.v1 import events_pb2 as ev
from sanji.intake.v1 import events_pb2 as intake_ev

from services.complaints import domain as d
from services.complaints.commands import CaseAccepted, Escalation, FileComplaint, RatingInput, SubmitRating
from services.complaints.repository import AppealRow, ComplaintRow, RatingRow, RectificationRow
from shared.calendar import CalendarYear
from shared.errors import InvalidArgument
from shared.messaging import PoisonMessage
from shared.tenancy import Principal

# -- statuses: domain StrEnum ↔ proto enum, one table each (tests/test_proto_style.py holds them to the tokens)
COMPLAINT_STATUS = {d.Status.RECEIVED: pb.COMPLAINT_STATUS_RECEIVED, d.Status.ASSIGNED: pb.COMPLAINT_STATUS_ASSIGNED,
                    d.Status.PROGRESSING: pb.COMPLAINT_STATUS_PROGRESSING,
                    d.Status.REPLIED: pb.COMPLAINT_STATUS_REPLIED, d.Status.CLOSED: pb.COMPLAINT_STATUS_CLOSED,
                    d.Status.ESCALATED: pb.COMPLAINT_STATUS_ESCALATED}
RECTIFICATION_STATUS = {d.RectificationStatus.OPEN: pb.RECTIFICATION_STATUS_OPEN,
                        d.RectificationStatus.ANSWERED: pb.RECTIFICATION_STATUS_ANSWERED,
                        d.RectificationStatus.RATED: pb.RECTIFICATION_STATUS_RATED}
APPEAL_STATUS = {d.AppealStatus.NONE: pb.APPEAL_STATUS_NONE, d.AppealStatus.PENDING: pb.APPEAL_STATUS_PENDING,
                 d.AppealStatus.UPHELD: pb.APPEAL_STATUS_UPHELD, d.AppealStatus.DISMISSED: pb.APPEAL_STATUS_DISMISSED}
COMPLAINT_STATUS_FROM_PB = {v: k for k, v in COMPLAINT_STATUS.items()}
RECTIFICATION_STATUS_FROM_PB = {v: k for k, v in RECTIFICATION_STATUS.items()}


def complaint_status_filter(value: int) -> str:
    if value == pb.COMPLAINT_STATUS_UNSPECIFIED:
        return ""
    if value not in COMPLAINT_STATUS_FROM_PB:
        raise InvalidArgument("status", f"不认识的状态：{value}")
    return str(COMPLAINT_STATUS_FROM_PB[value])


def rectification_status_filter(value: int) -> str:
    if value == pb.RECTIFICATION_STATUS_UNSPECIFIED:
        return ""
    if value not in RECTIFICATION_STATUS_FROM_PB:
        raise InvalidArgument("status", f"不认识的整改状态：{value}")
    return str(RECTIFICATION_STATUS_FROM_PB[value])


def _iso(t: dt.datetime | dt.date | None) -> str:
    return t.isoformat() if t else ""


# -- requests → commands ------------------------------------------------------------------------------------
def subject_in(s: pb.Subject) -> d.Subject:
    return d.Subject(tenant=s.tenant, department=s.department, case_number=s.case_number, item_id=s.item_id,
                     window=s.window, staff=s.staff)


def complainant_in(c: pb.Complainant) -> d.Complainant:
    return d.Complainant(name=c.name, phone=c.phone, id_number=c.id_number, anonymous=c.anonymous)


def file_command(r: pb.FileComplaintRequest) -> FileComplaint:
    return FileComplaint(channel=r.channel, kind=r.kind, category=r.category, content=r.content,
                         subject=subject_in(r.subject), complainant=complainant_in(r.complainant),
                         lead_department=r.lead_department, co_departments=tuple(r.co_departments))


def public_file_command(r: pb.FilePublicComplaintRequest) -> FileComplaint:
    return FileComplaint(channel="public", kind=r.kind, category=r.category, content=r.content,
                         subject=subject_in(r.subject), complainant=complainant_in(r.complainant))


def promises_in(items) -> list[d.PromiseInput]:
    return [d.PromiseInput(promise=x.promise, due_on=x.due_on) for x in items]


def _indicators(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        if x.code in out:
            raise InvalidArgument("indicators", f"评价指标重复：{x.code[:40]}")
        out[x.code] = x.level
    return out


def rating_input(r) -> RatingInput:
    return RatingInput(level=r.level, indicators=_indicators(r.indicators), text=r.text, rater_name=r.rater_name,
                       phone=r.phone)


def submit_rating_command(r: pb.SubmitRatingRequest) -> SubmitRating:
    return SubmitRating(channel=r.channel, tenant=r.tenant, rating=rating_input(r), case_number=r.case_number,
                        item_id=r.item_id, staff=r.staff, department=r.department)


# -- rows → responses ---------------------------------------------------------------------------------------
def complaint_to_pb(c: ComplaintRow, p: Principal | None, today: dt.date) -> pb.Complaint:
    """`today`: the service clock's date (a drill pins it), for what is late as of now."""
    visible = p is not None and d.identity_visible(p, c.tenant_code, c.subject_staff)
    has_identity = not c.anonymous and bool(c.complainant_name or c.complainant_phone)
    ext = c.extension or {}
    return pb.Complaint(
        id=c.id, tenant=c.tenant_code, number=c.number, channel=c.channel, kind=c.kind,
        status=COMPLAINT_STATUS[d.Status(c.status)], category=c.category, content=c.content,
        subject=pb.Subject(tenant=c.subject_tenant, department=c.subject_department,
                           case_number=c.subject_case_number, item_id=c.subject_item_id, window=c.subject_window,
                           staff=c.subject_staff),
        complainant=(pb.Complainant(name=c.complainant_name, phone=c.complainant_phone,
                                    id_number=c.complainant_id_number) if visible and has_identity
                     else pb.Complainant(anonymous=c.anonymous)),
        identity_hidden=has_identity and not visible, handler=c.handler, handler_name=c.handler_name,
        received_at=_iso(c.received_at), received_on=_iso(c.received_on), progress_due=_iso(c.progress_due),
        result_due=_iso(c.result_due), due_trace=c.due_trace, provisional=c.provisional,
        extension=pb.Extension(reason=ext.get("reason", ""), days=int(ext.get("days", 0) or 0),
                               requested_by=ext.get("requested_by", ""), requested_at=ext.get("requested_at", ""),
                               approved_by=ext.get("approved_by", ""), approved_at=ext.get("approved_at", ""),
                               result_due_before=ext.get("result_due_before", "")),
        outcome=c.outcome, reply_channel=c.reply_channel, reply=c.reply, replied_at=_iso(c.replied_at),
        round=c.round, escalated_from=c.escalated_from, escalated_to=c.escalated_to, satisfaction=c.satisfaction,
        records=[pb.Record(kind=r.kind, at=_iso(r.at), by=r.by, by_name=r.by_name, text=r.text, on=_iso(r.on_day),
                           method=r.method) for r in c.records],
        departments=[pb.DepartmentPart(department=x.department, lead=x.lead, report=x.report,
                                       reported_at=_iso(x.reported_at),
                                       late=(x.reported_at.date() > c.result_due) if x.reported_at else False)
                     for x in c.departments],
        follow_ups=[pb.FollowUp(id=f.id, promise=f.promise, due_on=_iso(f.due_on), method=f.method,
                                visited_at=_iso(f.visited_at), result=f.result, visited_by=f.visited_by)
                    for f in c.follow_ups],
        filed_by_tenant=c.filed_by_tenant, filed_by=c.filed_by,
        progress_late=_late(c.progress_reported_at, c.progress_due, today),
        result_late=_late(c.replied_at, c.result_due, today),
        late_departments=d.late_departments([(x.department, x.lead, x.reported_at) for x in c.departments],
                                            c.result_due, today))


def _late(done: dt.datetime | None, due: dt.date, today: dt.date) -> bool:
    return (done.date() if done else today) > due


def receipt(c: ComplaintRow, url: str) -> pb.Receipt:
    return pb.Receipt(number=c.number, received_at=_iso(c.received_at), progress_due=_iso(c.progress_due),
                      result_due=_iso(c.result_due), handling_unit=c.tenant_code, due_trace=c.due_trace,
                      follow_url=url, follow_code=c.follow_code if c.anonymous else "")


def public_view(c: ComplaintRow) -> pb.PublicComplaintView:
    """What the complainant sees: the steps told to them, never the internal records or anyone's identity."""
    return pb.PublicComplaintView(
        number=c.number, status=COMPLAINT_STATUS[d.Status(c.status)], received_at=_iso(c.received_at),
        progress_due=_iso(c.progress_due), result_due=_iso(c.result_due), outcome=c.outcome, reply=c.reply,
        replied_at=_iso(c.replied_at), satisfaction=c.satisfaction, handling_unit=c.tenant_code,
        progress=[pb.Record(kind=r.kind, at=_iso(r.at), text=r.text, method=r.method) for r in c.records if r.public],
        can_rate=c.status == d.Status.REPLIED)


def rating_to_pb(r: RatingRow, show_rater: bool) -> pb.Rating:
    return pb.Rating(
        id=r.id, tenant=r.tenant_code, channel=r.channel, level=r.level, level_name=d.LEVELS[r.level],
        bad=d.is_bad(r.level), case_number=r.case_number, item_id=r.item_id, item_name=r.item_name, staff=r.staff,
        department=r.department, indicators=[pb.Indicator(code=k, level=v) for k, v in sorted(r.indicators.items())],
        text=r.text, rater_name=r.rater_name if show_rater else "", real_name=bool(r.rater_name),
        created_at=_iso(r.created_at), appeal_status=APPEAL_STATUS[d.AppealStatus(r.appeal_status)],
        counted=r.counted, rectification_id=r.rectification_id)


def rectification_to_pb(x: RectificationRow, today: dt.date) -> pb.Rectification:
    return pb.Rectification(
        id=x.id, tenant=x.tenant_code, rating_id=x.rating_id, staff=x.staff, case_number=x.case_number,
        status=RECTIFICATION_STATUS[d.RectificationStatus(x.status)], due_on=_iso(x.due_on), due_trace=x.due_trace,
        verification=x.verification, measures=x.measures, answer=x.answer, answered_at=_iso(x.answered_at),
        answered_by=x.answered_by, late=_late(x.answered_at, x.due_on, today), visit_required=x.visit_required,
        visit_method=x.visit_method, visited_at=_iso(x.visited_at), visit_result=x.visit_result,
        satisfaction=x.satisfaction, rated_at=_iso(x.rated_at), created_at=_iso(x.created_at),
        rating_level=x.rating_level)


def appeal_to_pb(a: AppealRow) -> pb.Appeal:
    return pb.Appeal(id=a.id, tenant=a.tenant_code, rating_id=a.rating_id, reason=a.reason, evidence=a.evidence,
                     status=APPEAL_STATUS[d.AppealStatus(a.status)], filed_by=a.filed_by, filed_at=_iso(a.filed_at),
                     decided_by=a.decided_by, decided_at=_iso(a.decided_at), decision_note=a.note)


def figures_to_pb(item_id: str, unit: str, by_level: list[int], visits: tuple[int, int] = (0, 0)) -> pb.Figures:
    rows = [d.FigureRow(level=i + 1, counted=True) for i, n in enumerate(by_level) for _ in range(n)]
    count, satisfied, share, levels, bad = d.figures(rows)
    real_name_bad, visited = visits
    return pb.Figures(item_id=item_id, unit=unit, count=count, satisfied=satisfied, satisfaction=round(share, 4),
                      by_level=levels, bad=bad, real_name_bad=real_name_bad, real_name_bad_visited=visited,
                      visit_share=round(d.visit_share(real_name_bad, visited), 4))


def categories() -> pb.ListCategoriesResponse:
    return pb.ListCategoriesResponse(categories=[pb.Category(code=k, name=v) for k, v in d.CATEGORIES.items()])


# -- events in ----------------------------------------------------------------------------------------------
def case_accepted(m: intake_ev.ApplicationAccepted) -> CaseAccepted:
    return CaseAccepted(case_number=m.case_number, tenant=m.tenant, id_suffix=m.applicant_id_suffix,
                        item_id=m.item_id, item_name=m.item_name, department=m.department, accepted_by=m.accepted_by,
                        accepted_at=m.accepted_at)


def escalation(m: ev.ComplaintEscalated) -> Escalation:
    return Escalation(
        number=m.number, from_tenant=m.from_tenant, to_tenant=m.to_tenant, category=m.category, content=m.content,
        kind=m.kind, anonymous=m.anonymous,
        complainant=d.Complainant(name=m.complainant_name, phone=m.complainant_phone, anonymous=m.anonymous),
        subject=d.Subject(tenant=m.subject_tenant, department=m.subject_department,
                          case_number=m.subject_case_number, item_id=m.subject_item_id, window=m.subject_window,
                          staff=m.subject_staff),
        channel=m.channel, filed_by_tenant=m.filed_by_tenant, follow_code=m.follow_code, round=m.round,
        to_supervision=m.to_supervision)


def calendar_year(m: approval_ev.CalendarYearPublished) -> tuple[str, CalendarYear]:
    """The province's year as the calendar's own value (a year it cannot be is a poison message, parked)."""
    try:
        at = dt.datetime.fromisoformat(m.published_at) if m.published_at else None
        return m.region, CalendarYear(year=m.year, holidays=dict(m.holidays), makeup_workdays=dict(m.makeup_workdays),
                                      published_by=m.published_by, published_at=at)
    except (InvalidArgument, ValueError) as exc:
        raise PoisonMessage(f"calendar_year_published unusable: {exc}") from None


def case_decided(m: approval_ev.CaseDecided) -> tuple[str, str]:
    return m.case_number, m.decider


def case_completed(m: approval_ev.CaseCompleted) -> tuple[str, str]:
    return m.case_number, m.at


# -- events out ---------------------------------------------------------------------------------------------
class EventsOut:
    """The events the complaints use cases record, built from rows (the handlers never see a message)."""

    def complaint_received(self, c: ComplaintRow) -> ev.ComplaintReceived:
        return ev.ComplaintReceived(
            complaint_id=c.id, number=c.number, tenant=c.tenant_code, subject_tenant=c.subject_tenant,
            subject_department=c.subject_department, subject_staff=c.subject_staff, category=c.category,
            channel=c.channel, kind=c.kind, received_at=_iso(c.received_at), progress_due=_iso(c.progress_due),
            result_due=_iso(c.result_due), anonymous=c.anonymous, handler=c.handler,
            subject_case_number=c.subject_case_number, subject_item_id=c.subject_item_id, round=c.round,
            escalated_from=c.escalated_from)

    def complaint_assigned(self, c: ComplaintRow, at: dt.datetime) -> ev.ComplaintAssigned:
        return ev.ComplaintAssigned(complaint_id=c.id, number=c.number, tenant=c.tenant_code, handler=c.handler,
                                    at=_iso(at))

    def complaint_progress_reported(self, c: ComplaintRow, at: dt.datetime, late: bool) -> ev.ComplaintProgressReported:
        return ev.ComplaintProgressReported(complaint_id=c.id, number=c.number, tenant=c.tenant_code, at=_iso(at),
                                            late=late, progress_due=_iso(c.progress_due))

    def complaint_extended(self, c: ComplaintRow, at: dt.datetime) -> ev.ComplaintExtended:
        ext = c.extension or {}
        return ev.ComplaintExtended(complaint_id=c.id, number=c.number, tenant=c.tenant_code,
                                    reason=ext.get("reason", ""), days=int(ext.get("days", 0)),
                                    result_due=_iso(c.result_due), approved_by=ext.get("approved_by", ""), at=_iso(at))

    def complaint_replied(self, c: ComplaintRow, at: dt.datetime, late: bool,
                          late_departments: list[str]) -> ev.ComplaintReplied:
        return ev.ComplaintReplied(complaint_id=c.id, number=c.number, tenant=c.tenant_code, outcome=c.outcome,
                                   channel=c.reply_channel, at=_iso(at), late=late, result_due=_iso(c.result_due),
                                   late_departments=late_departments, handler=c.handler)

    def complaint_resolved(self, c: ComplaintRow, at: dt.datetime) -> ev.ComplaintResolved:
        return ev.ComplaintResolved(complaint_id=c.id, number=c.number, tenant=c.tenant_code,
                                    satisfaction=c.satisfaction, at=_iso(at))

    def complaint_reopened(self, c: ComplaintRow, at: dt.datetime) -> ev.ComplaintReopened:
        return ev.ComplaintReopened(complaint_id=c.id, number=c.number, tenant=c.tenant_code, at=_iso(at),
                                    progress_due=_iso(c.progress_due), result_due=_iso(c.result_due))

    def complaint_escalated(self, c: ComplaintRow, to: str, at: dt.datetime, *,
                            to_supervision: bool = False) -> ev.ComplaintEscalated:
        return ev.ComplaintEscalated(
            complaint_id=c.id, number=c.number, from_tenant=c.tenant_code, to_tenant=to, at=_iso(at),
            category=c.category, content=c.content, kind=c.kind, anonymous=c.anonymous,
            complainant_name=c.complainant_name, complainant_phone=c.complainant_phone,
            subject_tenant=c.subject_tenant, subject_department=c.subject_department, subject_staff=c.subject_staff,
            subject_case_number=c.subject_case_number, subject_item_id=c.subject_item_id,
            subject_window=c.subject_window, channel=c.channel, filed_by_tenant=c.filed_by_tenant,
            follow_code=c.follow_code, round=c.round, to_supervision=to_supervision)

    def follow_up_due(self, c: ComplaintRow, follow_up_id: str, due: dt.date) -> ev.FollowUpDue:
        return ev.FollowUpDue(complaint_id=c.id, number=c.number, tenant=c.tenant_code, follow_up_id=follow_up_id,
                              due_on=_iso(due))

    def return_visit_recorded(self, c: ComplaintRow, follow_up_id: str, method: str,
                              at: dt.datetime) -> ev.ReturnVisitRecorded:
        return ev.ReturnVisitRecorded(complaint_id=c.id, number=c.number, tenant=c.tenant_code,
                                      follow_up_id=follow_up_id, method=method, at=_iso(at))

    def rating_submitted(self, r: RatingRow) -> ev.RatingSubmitted:
        return ev.RatingSubmitted(rating_id=r.id, tenant=r.tenant_code, channel=r.channel, level=r.level,
                                  bad=d.is_bad(r.level), case_number=r.case_number, item_id=r.item_id, staff=r.staff,
                                  at=_iso(r.created_at), real_name=bool(r.rater_name), department=r.department)

    def rectification_due(self, x: RectificationRow, at: dt.datetime) -> ev.RectificationDue:
        return ev.RectificationDue(rectification_id=x.id, rating_id=x.rating_id, tenant=x.tenant_code, staff=x.staff,
                                   due_on=_iso(x.due_on), case_number=x.case_number, at=_iso(at))

    def rectification_done(self, x: RectificationRow, at: dt.datetime, late: bool) -> ev.RectificationDone:
        return ev.RectificationDone(rectification_id=x.id, rating_id=x.rating_id, tenant=x.tenant_code, at=_iso(at),
                                    late=late, due_on=_iso(x.due_on))

    def rectification_rated(self, x: RectificationRow, at: dt.datetime) -> ev.RectificationRated:
        return ev.RectificationRated(rectification_id=x.id, rating_id=x.rating_id, tenant=x.tenant_code,
                                     satisfaction=x.satisfaction, at=_iso(at))

    def appeal_decided(self, a: AppealRow) -> ev.AppealDecided:
        return ev.AppealDecided(appeal_id=a.id, rating_id=a.rating_id, tenant=a.tenant_code, upheld=bool(a.upheld),
                                decided_by=a.decided_by, at=_iso(a.decided_at))
