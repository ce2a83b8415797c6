"""Complaints through the real gRPC server (interceptors, tokens, PostgreSQL with RLS): filing at each channel,
the time limits on the real calendar, handling, extension, reply, satisfaction → reopen → escalation, privacy,
the public follow-up, the hotline's signed hand-over, and bad input on every entrypoint."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import grpc
import pytest
from sanji.complaints.v1 import complaints_pb2 as pb

from services.complaints import signing
from services.complaints.repository import ComplaintsRepository
from services.complaints.service import SUBSCRIPTIONS, Handlers
from shared.messaging import Envelope

from .conftest import COUNTY, TOWNSHIP, VILLAGE, complaint_request, err, field_of, phone, public_request

S = pb.ComplaintStatus


def outbox(db, number: str) -> list[tuple[str, str, dict]]:
    """(event type, envelope tenant, body) of the events recorded for a complaint number, in order (read as the
    county's supervision reads its subtree's rows)."""
    with db.unit_of_work(tenant=COUNTY, subtree=True) as uow:
        rows = uow.rows("SELECT routing_key, tenant, body FROM complaints.outbox WHERE correlation_id = :n"
                        " ORDER BY seq", {"n": number})
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


def test_a_hall_complaint_about_a_village_goes_to_its_township_with_the_time_limits_and_trace(as_, complaints_db):
    c = as_("dongdajie.clerk").FileComplaint(complaint_request(VILLAGE))
    assert c.tenant == TOWNSHIP and c.status == S.COMPLAINT_STATUS_RECEIVED and c.number.startswith("TS620602001")
    # received on the eve of National Day: 3 working days fall on 10-08, 10-09 and the make-up Saturday 10-10
    assert (c.progress_due, c.result_due) == ("2026-10-10", "2026-10-15")
    assert "调休上班（国庆节）" in c.due_trace and "受理当日不计" in c.due_trace
    assert c.filed_by_tenant == TOWNSHIP and c.channel == "hall"
    events = outbox(complaints_db, c.number)
    assert [e[0] for e in events] == ["complaint_received"] and events[0][1] == TOWNSHIP
    assert events[0][2]["handler"] == "" and events[0][2]["result_due"] == "2026-10-15"


def test_a_complaint_about_a_township_centre_goes_to_the_county_bureau(as_):
    c = as_("county.clerk").FileComplaint(complaint_request(TOWNSHIP))
    assert c.tenant == COUNTY
    d = as_("county.clerk").FileComplaint(complaint_request(COUNTY, department="县住建局"))
    assert d.tenant == COUNTY and d.subject.department == "县住建局"


def test_the_whole_handling_with_one_extension_approved_by_the_head(as_, complaints_db, on_day):
    c = as_("county.clerk").FileComplaint(complaint_request(
        COUNTY, category="real_estate", lead_department="县自然资源局", co_departments=["县住建局"]))
    h = as_("county.complaints")
    c = h.AssignHandler(pb.AssignHandlerRequest(complaint_id=c.id))
    assert c.status == S.COMPLAINT_STATUS_ASSIGNED and c.handler == "county.complaints"
    on_day(dt.date(2026, 10, 9))
    c = h.ReportProgress(pb.ReportProgressRequest(complaint_id=c.id, text="已联系不动产登记中心核实"))
    assert c.status == S.COMPLAINT_STATUS_PROGRESSING and not c.progress_late
    c = h.RecordInvestigation(pb.RecordInvestigationRequest(complaint_id=c.id, method="site", on="2026-10-09",
                                                            text="现场查看登记窗口排队情况"))
    c = h.ReportDepartmentPart(pb.ReportDepartmentPartRequest(complaint_id=c.id, department="县自然资源局",
                                                              report="已安排加开窗口"))
    c = h.RequestExtension(pb.RequestExtensionRequest(complaint_id=c.id, reason="涉及两个部门，需联合核实", days=5))
    assert c.extension.reason == "涉及两个部门，需联合核实" and not c.extension.approved_by
    e = err(h.ApproveExtension, pb.ApproveExtensionRequest(complaint_id=c.id))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    c = as_("county.head").ApproveExtension(pb.ApproveExtensionRequest(complaint_id=c.id))
    assert c.result_due == "2026-10-22" and c.extension.result_due_before == "2026-10-15"
    e = err(h.RequestExtension, pb.RequestExtensionRequest(complaint_id=c.id, reason="再延", days=2))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "只能申请 1 次" in e.details()
    on_day(dt.date(2026, 10, 20))
    c = h.Reply(pb.ReplyRequest(complaint_id=c.id, outcome="plan", channel="phone", text="已列入年内计划",
                                promises=[pb.Promise(promise="增设自助查询机", due_on="2026-12-01")]))
    assert c.status == S.COMPLAINT_STATUS_REPLIED and c.outcome == "plan" and len(c.follow_ups) == 1
    assert not c.result_late and c.late_departments == []       # the co-handler's part is not late yet
    c = h.RecordReturnVisit(pb.RecordReturnVisitRequest(complaint_id=c.id, follow_up_id=c.follow_ups[0].id,
                                                        method="phone", result="群众表示认可"))
    on_day(dt.date(2026, 10, 23))
    c = h.GetComplaint(pb.GetComplaintRequest(complaint_id=c.id))
    assert c.late_departments == ["县住建局"] and not c.result_late   # the lead reported; the co-handler never did
    c = h.RecordSatisfaction(pb.RecordSatisfactionRequest(complaint_id=c.id, satisfaction="basically_satisfied"))
    assert c.status == S.COMPLAINT_STATUS_CLOSED
    kinds = [e[0] for e in outbox(complaints_db, c.number)]
    assert kinds == ["complaint_received", "complaint_assigned", "complaint_progress_reported", "complaint_extended",
                     "complaint_replied", "follow_up_due", "return_visit_recorded", "complaint_resolved"]
    e = err(h.ReportProgress, pb.ReportProgressRequest(complaint_id=c.id, text="x"))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_an_extension_asked_for_after_the_due_date_is_refused(as_, on_day):
    c = as_("county.clerk").FileComplaint(complaint_request(COUNTY))
    h = as_("county.complaints")
    h.AssignHandler(pb.AssignHandlerRequest(complaint_id=c.id))
    on_day(dt.date(2026, 10, 16))
    e = err(h.RequestExtension, pb.RequestExtensionRequest(complaint_id=c.id, reason="情况复杂", days=5))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "超过时限" in e.details()


def test_dissatisfied_reopens_once_then_escalates_to_the_level_above(as_, complaints_db, handlers):
    tel = phone()
    c = as_("dongdajie.clerk").FileComplaint(complaint_request(VILLAGE, tel=tel))
    h = as_("dongdajie.complaints")
    h.AssignHandler(pb.AssignHandlerRequest(complaint_id=c.id))
    h.Reply(pb.ReplyRequest(complaint_id=c.id, outcome="solved", channel="sms", text="已解决"))
    public = as_(None)
    v = public.RateComplaintHandling(pb.RateComplaintHandlingRequest(number=c.number, phone_last4=tel[-4:],
                                                                    satisfaction="dissatisfied", comment="没解决"))
    assert v.status == S.COMPLAINT_STATUS_ASSIGNED and not v.can_rate
    h.Reply(pb.ReplyRequest(complaint_id=c.id, outcome="policy", channel="in_person", text="不符合政策，已解答"))
    v = public.RateComplaintHandling(pb.RateComplaintHandlingRequest(number=c.number, phone_last4=tel[-4:],
                                                                    satisfaction="dissatisfied"))
    assert v.status == S.COMPLAINT_STATUS_ESCALATED
    events = outbox(complaints_db, c.number)
    assert [e[0] for e in events][-1] == "complaint_escalated"
    kind, tenant, body = events[-1]
    assert tenant == COUNTY and body["to_tenant"] == COUNTY and body["from_tenant"] == TOWNSHIP
    # the level above opens its own complaint from the event, in its own transaction (as the consumer does)
    env = Envelope(event_id=str(uuid.uuid4()), event_type=kind, tenant=tenant, correlation_id=c.number,
                   event_version=1, traceparent=None, tracestate=None, timestamp=0, source="complaints", body=body)
    row = next(on for on in SUBSCRIPTIONS if on.handler == "open_escalated")
    with complaints_db.unit_of_work(tenant=COUNTY) as uow:
        row.deliver(Handlers(*handlers), env, uow)
        uow.commit()
    upper = [x for x in as_("county.complaints").ListComplaints(pb.ListComplaintsRequest(limit=200)).complaints
             if x.escalated_from == c.number]
    assert len(upper) == 1 and upper[0].tenant == COUNTY and upper[0].round == 2
    assert upper[0].complainant.phone == tel
    # the complainant follows the new one with the same phone
    assert public.FollowComplaint(pb.FollowComplaintRequest(number=upper[0].number, phone_last4=tel[-4:])).number


def test_a_county_complaint_whose_city_is_not_on_the_platform_goes_to_the_countys_supervision(as_, complaints_db,
                                                                                               handlers):
    """The test tenant tree holds 凉州区 (620602) but not its city 武威市 (620600): the second 不满意 is not handed to
    an invisible code; the complainant is told, in Chinese, and the county's supervisor sees it as escalated."""
    tel = phone()
    c = as_("county.clerk").FileComplaint(complaint_request(COUNTY, tel=tel))
    h = as_("county.complaints")
    h.AssignHandler(pb.AssignHandlerRequest(complaint_id=c.id))
    public = as_(None)
    for _ in range(2):
        h.Reply(pb.ReplyRequest(complaint_id=c.id, outcome="solved", channel="phone", text="已解决"))
        v = public.RateComplaintHandling(pb.RateComplaintHandlingRequest(number=c.number, phone_last4=tel[-4:],
                                                                        satisfaction="dissatisfied"))
    assert v.status == S.COMPLAINT_STATUS_ESCALATED
    told = "\n".join(r.text for r in v.progress)
    assert "上一级单位（区划代码 620600）尚未接入本平台" in told and "已转本级监察部门督办" in told
    seen = as_("county.supervisor").GetComplaint(pb.GetComplaintRequest(complaint_id=c.id))
    assert seen.status == S.COMPLAINT_STATUS_ESCALATED and seen.escalated_to == COUNTY
    assert c.id in [x.id for x in as_("county.supervisor").ListComplaints(
        pb.ListComplaintsRequest(status=S.COMPLAINT_STATUS_ESCALATED, limit=200)).complaints]
    kind, tenant, body = outbox(complaints_db, c.number)[-1]
    assert kind == "complaint_escalated" and tenant == COUNTY and body["to_tenant"] == COUNTY
    assert body["to_supervision"]
    # the consumer opens nothing anywhere (no invisible city complaint, no poison)
    env = Envelope(event_id=str(uuid.uuid4()), event_type=kind, tenant=tenant, correlation_id=c.number,
                   event_version=1, traceparent=None, tracestate=None, timestamp=0, source="complaints", body=body)
    row = next(on for on in SUBSCRIPTIONS if on.handler == "open_escalated")
    with complaints_db.unit_of_work(tenant=COUNTY) as uow:
        row.deliver(Handlers(*handlers), env, uow)
        uow.commit()
    assert not [x for x in as_("county.supervisor").ListComplaints(pb.ListComplaintsRequest(limit=200)).complaints
                if x.escalated_from == c.number]


def test_the_identity_is_hidden_from_the_staff_complained_about(as_):
    c = as_("county.clerk").FileComplaint(complaint_request(COUNTY, staff="county.complaints2"))
    mine = as_("county.complaints").GetComplaint(pb.GetComplaintRequest(complaint_id=c.id))
    assert mine.complainant.name == "王群众" and mine.complainant.phone and not mine.identity_hidden
    assert as_("county.supervisor").GetComplaint(pb.GetComplaintRequest(complaint_id=c.id)).complainant.name
    theirs = as_("county.complaints2").GetComplaint(pb.GetComplaintRequest(complaint_id=c.id))
    assert theirs.identity_hidden and not theirs.complainant.name and not theirs.complainant.phone
    listed = [x for x in as_("county.complaints2").ListComplaints(pb.ListComplaintsRequest(limit=200)).complaints
              if x.id == c.id]
    assert listed and not listed[0].complainant.name
    e = err(as_("county.complaints2").AssignHandler, pb.AssignHandlerRequest(complaint_id=c.id))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED
    e = err(as_("county.admin").AssignHandler, pb.AssignHandlerRequest(complaint_id=c.id, handler="county.complaints2"))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "handler"
    # the unit's admin handles it but does not see who complained
    assert as_("county.admin").GetComplaint(pb.GetComplaintRequest(complaint_id=c.id)).identity_hidden


def test_an_anonymous_report_has_no_identity_and_is_followed_with_its_code(as_, complaints_db):
    r = as_(None).FilePublicComplaint(pb.FilePublicComplaintRequest(
        kind="report", category="service_conduct", content="窗口收取好处费", subject=pb.Subject(tenant=TOWNSHIP),
        complainant=pb.Complainant(name="张三", phone="13900001111", anonymous=True)))
    assert r.follow_code and len(r.follow_code) == 4
    c = [x for x in as_("county.complaints").ListComplaints(pb.ListComplaintsRequest(limit=200)).complaints
         if x.number == r.number][0]
    assert c.complainant.anonymous and not c.complainant.name and not c.complainant.phone and not c.identity_hidden
    with complaints_db.unit_of_work(tenant=COUNTY) as uow:
        row = ComplaintsRepository(uow).by_number(r.number)
    assert (row.complainant_name, row.complainant_phone, row.complainant_id_number) == ("", "", "")
    assert as_(None).FollowComplaint(pb.FollowComplaintRequest(number=r.number, phone_last4=r.follow_code)).number


def test_the_public_follows_with_the_number_and_the_phones_last_four(as_):
    tel = phone()
    r = as_(None).FilePublicComplaint(public_request(TOWNSHIP, tel=tel))
    assert r.handling_unit == COUNTY and r.result_due and "/complaints/follow?number=" in r.follow_url
    v = as_(None).FollowComplaint(pb.FollowComplaintRequest(number=r.number, phone_last4=tel[-4:]))
    assert v.status == S.COMPLAINT_STATUS_RECEIVED and v.progress and v.progress[0].kind == "received"
    wrong = f"{(int(tel[-4:]) + 1) % 10000:04d}"
    e = err(as_(None).FollowComplaint, pb.FollowComplaintRequest(number=r.number, phone_last4=wrong))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    e = err(as_(None).FollowComplaint, pb.FollowComplaintRequest(number="bad", phone_last4="1234"))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "number"
    e = err(as_(None).FollowComplaint, pb.FollowComplaintRequest(number=r.number, phone_last4="12a4"))
    assert field_of(e) == "phone_last4"
    e = err(as_(None).RateComplaintHandling, pb.RateComplaintHandlingRequest(
        number=r.number, phone_last4=tel[-4:], satisfaction="satisfied"))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION      # not replied yet


# -- the 12345 hotline ---------------------------------------------------------------------------------------
def hotline_fields(clock, **over) -> dict[str, str]:
    f = {"handover_id": str(uuid.uuid4()), "sent_at": clock.now().isoformat(), "kind": "complaint",
         "category": "social_security", "content": "社保卡补办被要求多次跑腿", "subject_tenant": TOWNSHIP,
         "subject_department": "", "subject_staff": "", "complainant_name": "赵热线", "complainant_phone": phone(),
         "anonymous": "false"}
    return f | over


def test_the_hotline_hands_over_signed_and_a_retry_files_once(as_, clock):
    f = hotline_fields(clock)
    r = as_(None).HotlineHandOver(pb.HotlineHandOverRequest(fields=f, signature=signing.sign(f)))
    again = as_(None).HotlineHandOver(pb.HotlineHandOverRequest(fields=f, signature=signing.sign(f)))
    assert r.number == again.number and r.handling_unit == COUNTY
    c = [x for x in as_("county.complaints").ListComplaints(pb.ListComplaintsRequest(limit=200)).complaints
         if x.number == r.number][0]
    assert c.channel == "hotline" and c.filed_by == "12345"


def test_a_tampered_or_stale_hand_over_is_refused(as_, clock):
    f = hotline_fields(clock)
    sig = signing.sign(f)
    e = err(as_(None).HotlineHandOver, pb.HotlineHandOverRequest(fields=f | {"content": "改过的内容"}, signature=sig))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    not_the_hotlines_key = signing.DEV_HOTLINE_PRIVATE_KEY[::-1]
    forged = signing.sign(f, not_the_hotlines_key)
    e = err(as_(None).HotlineHandOver, pb.HotlineHandOverRequest(fields=f, signature=forged))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    old = hotline_fields(clock, sent_at=(clock.now() - dt.timedelta(hours=1)).isoformat())
    e = err(as_(None).HotlineHandOver, pb.HotlineHandOverRequest(fields=old, signature=signing.sign(old)))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "sent_at"
    nul = hotline_fields(clock, content="推诿\x00扯皮")
    e = err(as_(None).HotlineHandOver, pb.HotlineHandOverRequest(fields=nul, signature=signing.sign(nul)))
    # refused at the edge of every method (shared.grpc.server.nul_field), named by its path in the request
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "fields.content"
    bad = hotline_fields(clock, category="weather")
    e = err(as_(None).HotlineHandOver, pb.HotlineHandOverRequest(fields=bad, signature=signing.sign(bad)))
    assert field_of(e) == "category"


# -- bad input, every entrypoint ---------------------------------------------------------------------------
@pytest.mark.parametrize(("over", "field"), [
    ({"content": "字" * 2001}, "content"), ({"content": " "}, "content"), ({"category": "weather"}, "category"),
    ({"kind": "rumour"}, "kind"), ({"channel": "public"}, "channel"), ({"channel": "fax"}, "channel"),
    ({"co_departments": ["县住建局"]}, "lead_department"),
])
def test_bad_filings_are_refused_naming_the_field(as_, over, field):
    e = err(as_("county.clerk").FileComplaint, complaint_request(COUNTY, **over))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == field, e.details()


def test_bad_complainants_and_subjects(as_):
    r = complaint_request(COUNTY)
    r.complainant.phone = "12345"
    assert field_of(err(as_("county.clerk").FileComplaint, r)) == "complainant.phone"
    r = complaint_request(COUNTY, anonymous=True)
    assert field_of(err(as_("county.clerk").FileComplaint, r)) == "complainant.anonymous"
    r = complaint_request("51322")
    assert field_of(err(as_("county.clerk").FileComplaint, r)) == "subject.tenant"
    r = complaint_request("513221")        # another county: not this hall's to record
    assert field_of(err(as_("county.clerk").FileComplaint, r)) == "subject.tenant"
    e = err(as_("county.clerk").FileComplaint, complaint_request(COUNTY, content="x" * 3000))
    assert "最多 2000 字" in e.details()
    e = err(as_(None).FilePublicComplaint, public_request(TOWNSHIP, tel="abc"))
    assert field_of(e) == "complainant.phone"
    e = err(as_(None).FilePublicComplaint, public_request(TOWNSHIP, content="办\x00不成"))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "content"


def test_handling_bad_input(as_):
    c = as_("county.clerk").FileComplaint(complaint_request(COUNTY))
    h = as_("county.complaints")
    h.AssignHandler(pb.AssignHandlerRequest(complaint_id=c.id))
    cases = [
        (h.ReportProgress, pb.ReportProgressRequest(complaint_id=c.id, text=""), "text"),
        (h.ReportProgress, pb.ReportProgressRequest(complaint_id="nope", text="x"), "complaint_id"),
        (h.RecordInvestigation, pb.RecordInvestigationRequest(complaint_id=c.id, method="séance", on="2026-09-30",
                                                              text="x"), "method"),
        (h.RecordInvestigation, pb.RecordInvestigationRequest(complaint_id=c.id, method="visit", on="2026-13-01",
                                                              text="x"), "on"),
        (h.ReportDepartmentPart, pb.ReportDepartmentPartRequest(complaint_id=c.id, department="县教育局", report="x"),
         "department"),
        (h.RequestExtension, pb.RequestExtensionRequest(complaint_id=c.id, reason="x", days=11), "days"),
        (h.RequestExtension, pb.RequestExtensionRequest(complaint_id=c.id, reason="", days=3), "reason"),
        (h.Reply, pb.ReplyRequest(complaint_id=c.id, outcome="", channel="phone", text="x"), "outcome"),
        (h.Reply, pb.ReplyRequest(complaint_id=c.id, outcome="solved", channel="fax", text="x"), "channel"),
        (h.Reply, pb.ReplyRequest(complaint_id=c.id, outcome="solved", channel="phone", text="x" * 2001), "text"),
        (h.Reply, pb.ReplyRequest(complaint_id=c.id, outcome="plan", channel="phone", text="x"), "promises"),
        (h.RecordReturnVisit, pb.RecordReturnVisitRequest(complaint_id=c.id, follow_up_id="x", method="phone",
                                                          result="x"), "follow_up_id"),
        (h.RecordSatisfaction, pb.RecordSatisfactionRequest(complaint_id=c.id, satisfaction="meh"), "satisfaction"),
        (h.ListComplaints, pb.ListComplaintsRequest(status=99), "status"),
        (h.ListComplaints, pb.ListComplaintsRequest(limit=-1), "limit"),
    ]
    for call, request, field in cases:
        e = err(call, request)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == field, (field, e.details())
    e = err(as_("county.clerk").GetComplaint, pb.GetComplaintRequest(complaint_id=c.id))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED          # a window clerk reads no complaints
    e = err(as_(None).GetComplaint, pb.GetComplaintRequest(complaint_id=c.id))
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED


# -- a province publishes the next year: provisional time limits are counted again -------------------------
def forget_2027(migrated, handlers) -> None:
    """Gansu's 2027 unpublished again (as the publication's own transaction may write it), for the tests below."""
    from sqlalchemy import create_engine, text

    owner = create_engine(migrated.database_owner_url)
    try:
        with owner.begin() as conn:
            conn.execute(text("SELECT set_config('app.calendar_region', 'region:62', true)"))
            conn.execute(text("DELETE FROM complaints.calendar_years WHERE region = '62' AND year = 2027"))
    finally:
        owner.dispose()
    handlers[0].calendars.invalidate()


def publish_2027(complaints_db, handlers) -> None:
    """Approval's calendar_year_published for Gansu's 2027 (元旦 on Friday 1 January), through complaints' consumer."""
    from google.protobuf import json_format
    from sanji.approval.v1 import events_pb2 as approval_ev

    m = approval_ev.CalendarYearPublished(region="62", year=2027, holidays={"2027-01-01": "元旦"},
                                          published_by="gansu.admin", published_at="2026-12-30T09:00:00+08:00")
    env = Envelope(event_id=str(uuid.uuid4()), event_type="calendar_year_published", tenant="62",
                   correlation_id=None, event_version=1, traceparent=None, tracestate=None, timestamp=0,
                   source="approval", body=json_format.MessageToDict(m, preserving_proto_field_name=True))
    row = next(on for on in SUBSCRIPTIONS if on.handler == "apply_calendar_year")
    with complaints_db.unit_of_work(tenant="62") as uow:
        row.deliver(Handlers(*handlers), env, uow)
        uow.commit()


def test_a_published_year_reprojects_provisional_time_limits(as_, complaints_db, handlers, on_day, migrated):
    forget_2027(migrated, handlers)
    try:
        on_day(dt.date(2026, 12, 30))
        c = as_("county.clerk").FileComplaint(complaint_request(COUNTY))
        # 2027 is not published: its 1 January counts as a Friday at work, and the dates are provisional
        assert c.provisional and (c.progress_due, c.result_due) == ("2027-01-04", "2027-01-08")
        publish_2027(complaints_db, handlers)
        c = as_("county.complaints").GetComplaint(pb.GetComplaintRequest(complaint_id=c.id))
        assert not c.provisional and (c.progress_due, c.result_due) == ("2027-01-05", "2027-01-11")
        assert "法定节假日（元旦）" in c.due_trace
    finally:
        forget_2027(migrated, handlers)


def test_a_published_year_recounts_reopened_and_extended_complaints_too(as_, complaints_db, handlers, on_day,
                                                                        migrated):
    """Issue 16: the sweep skipped complaints reopened or extended. Real dates: 元旦 2027 (Friday 1 January) is not
    published yet, so it counts as a working day and the dates reaching into it are provisional."""
    forget_2027(migrated, handlers)
    try:
        h, tel = as_("county.complaints"), phone()
        # reopened: received Mon 2026-12-14, answered, 不满意 on Mon 12-28 → counted again from 12-28
        on_day(dt.date(2026, 12, 14))
        reopened = as_("county.clerk").FileComplaint(complaint_request(COUNTY, tel=tel))
        h.AssignHandler(pb.AssignHandlerRequest(complaint_id=reopened.id))
        h.Reply(pb.ReplyRequest(complaint_id=reopened.id, outcome="solved", channel="sms", text="已解决"))
        on_day(dt.date(2026, 12, 28))
        as_(None).RateComplaintHandling(pb.RateComplaintHandlingRequest(
            number=reopened.number, phone_last4=tel[-4:], satisfaction="dissatisfied", comment="没解决"))
        got = h.GetComplaint(pb.GetComplaintRequest(complaint_id=reopened.id))
        assert got.provisional and (got.progress_due, got.result_due) == ("2026-12-31", "2027-01-06")
        # extended: received Wed 12-23, due 2027-01-01 (provisional), extended by 5 working days → 01-08
        on_day(dt.date(2026, 12, 23))
        extended = as_("county.clerk").FileComplaint(complaint_request(COUNTY))
        h.AssignHandler(pb.AssignHandlerRequest(complaint_id=extended.id))
        h.RequestExtension(pb.RequestExtensionRequest(complaint_id=extended.id, reason="需联合核实", days=5))
        got = as_("county.head").ApproveExtension(pb.ApproveExtensionRequest(complaint_id=extended.id))
        assert got.provisional and got.result_due == "2027-01-08"

        on_day(dt.date(2026, 12, 30))
        publish_2027(complaints_db, handlers)
        got = h.GetComplaint(pb.GetComplaintRequest(complaint_id=reopened.id))
        assert not got.provisional and (got.progress_due, got.result_due) == ("2026-12-31", "2027-01-07")
        first, again = got.due_trace.split("【重新办理】")
        assert "2026-12-14" in first and "2026-12-28" in again and "法定节假日（元旦）" in again
        got = h.GetComplaint(pb.GetComplaintRequest(complaint_id=extended.id))
        assert not got.provisional and got.result_due == "2027-01-11"      # 01-04, then 5 more: 01-05 … 01-11
        assert "法定节假日（元旦）" in got.due_trace and "【延期 5 日，自原截止日次日起算】" in got.due_trace
    finally:
        forget_2027(migrated, handlers)
