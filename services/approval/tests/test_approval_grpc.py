"""The approval service through its gRPC API and its event consumer: real PostgreSQL, real RabbitMQ,
real tokens, the platform's interceptor chain. Dates are pinned with the service's clock."""

from __future__ import annotations

import datetime as dt
import io

import grpc
from pypdf import PdfReader
from sanji.approval.v1 import approval_pb2 as pb
from sanji.intake.v1 import events_pb2 as intake_ev
from sqlalchemy import text

from services.approval.tests.conftest import accepted_event, field_of, get, reviewed, rpc_error, step_of
from shared.calendar import CalendarYear
from shared.clock import CHINA_TZ
from shared.db import owner_connection

D = dt.date
PD = grpc.StatusCode.PERMISSION_DENIED
NF = grpc.StatusCode.NOT_FOUND
FP = grpc.StatusCode.FAILED_PRECONDITION
IA = grpc.StatusCode.INVALID_ARGUMENT


def claimed_decision(as_, number: str, decider: str = "county.decider") -> pb.Case:
    case = get(as_, number)
    as_(decider).ClaimTask(pb.ClaimTaskRequest(step_id=step_of(case, "decision").id))
    return get(as_, number)


def outbox_types(bus, number: str) -> list[str]:
    return [t for t, _ in bus.outbox(number)]


def count(db, sql: str, tenant: str = "620602", **params):
    """One value, read as the application role bound to a tenant (row-level security applies)."""
    with db.unit_of_work(tenant=tenant) as uow:
        return uow.session.execute(text(sql), params).scalar_one()


# -- opening ------------------------------------------------------------------------------------------

def test_the_same_application_accepted_twice_opens_one_case(bus, as_, approval_db):
    msg = bus.accepted(drain=False)
    event_id = bus.publish("intake", msg, "620602", msg.case_number)
    bus.publish("intake", msg, "620602", msg.case_number, event_id=event_id)    # redelivered: same event id
    bus.publish("intake", msg, "620602", msg.case_number)                       # re-emitted: a new event id
    bus.drain(4)
    assert count(approval_db, "SELECT count(*) FROM approval.cases WHERE application_id = :a",
                 a=msg.application_id) == 1
    assert outbox_types(bus, msg.case_number) == ["case_opened"]
    case = get(as_, msg.case_number)
    assert (case.status, case.category, case.category_name) == (pb.CASE_STATUS_REVIEW, "market_access", "市场准入")
    assert [m.name for m in case.materials] == ["食品经营许可申请书", "营业执照复印件", "场所平面图"]
    assert case.materials[2].waived and not case.materials[2].supplied
    assert case.history[0].action == "立案"
    opened = bus.outbox(msg.case_number)[0][1]
    assert opened["promised"]["due"] == "2026-10-09" and opened["statutory"]["due"] == "2026-10-22"


def test_deadline_across_mid_autumn_and_national_day(bus, as_):
    # Hand-checked (see test_domain): accepted Fri 2026-09-18; make-up Sunday 09-20 counts; 中秋 09-25..27
    # and 国庆 10-01..07 do not; make-up Saturday 10-10 counts. Promised 10 → Fri 10-09; statutory 20 → Thu 10-22.
    msg = bus.accepted()
    case = get(as_, msg.case_number)
    assert (case.promised.due, case.statutory.due) == ("2026-10-09", "2026-10-22")
    assert not case.promised.provisional and not case.statutory.provisional
    trace = {d.date: (d.counted, d.reason) for d in case.statutory.trace}
    assert trace["2026-09-20"] == (True, "makeup_workday:国庆节")
    assert trace["2026-10-10"] == (True, "makeup_workday:国庆节")
    assert trace["2026-09-25"] == (False, "holiday:中秋节")
    assert trace["2026-10-07"] == (False, "holiday:国庆节")
    assert sum(1 for d in case.statutory.trace if d.counted) == 20
    assert "截止日期：2026-10-22" in case.statutory_explain and "调休上班" in case.statutory_explain
    queue = as_("county.reviewer").ListQueue(pb.ListQueueRequest(desk="market_access", limit=200))
    task = next(t for t in queue.tasks if t.case_number == msg.case_number)
    assert (task.promised_due, task.statutory_due, task.desk_name) == ("2026-10-09", "2026-10-22", "市场准入")


def test_expert_review_suspension_resumption_and_extension(bus, as_, clock, approval_db):
    msg = bus.accepted()
    case = get(as_, msg.case_number)
    step = step_of(case, "review")
    as_("county.reviewer").ClaimTask(pb.ClaimTaskRequest(step_id=step.id))
    clock.set_today(D(2026, 10, 9))
    case = as_("county.reviewer").SuspendClock(pb.SuspendClockRequest(
        case_id=case.id, procedure="expert_review", reason="组织专家对经营场所布局进行评审", days=5))
    assert case.clock_suspended and case.promised.due == "" and case.statutory.due == ""
    [entry] = case.ledger
    assert (entry.kind, entry.procedure_name, entry.on_date, entry.days) == ("suspend", "专家评审", "2026-10-09", 5)
    notice = as_("county.reviewer").GetDocument(pb.GetDocumentRequest(case_id=case.id, kind="suspension_notice"))
    text_ = "".join(page.extract_text() for page in PdfReader(io.BytesIO(notice.content)).pages)
    assert notice.content[:4] == b"%PDF" and entry.notice_number in text_ and "专家评审" in text_
    clock.set_today(D(2026, 10, 15))
    case = as_("county.reviewer").ResumeClock(pb.ResumeClockRequest(case_id=case.id, reason="评审结束"))
    # 5 working days paused (10-09, 10-10 make-up Saturday, 10-12..10-14): 10-09 → 10-15, 10-22 → 10-29
    assert (case.promised.due, case.statutory.due) == ("2026-10-15", "2026-10-29")
    as_("county.reviewer").CompleteReview(pb.CompleteReviewRequest(step_id=step.id, opinion="评审通过"))
    clock.set_today(D(2026, 10, 20))
    case = as_("county.head").ExtendDeadline(pb.ExtendDeadlineRequest(case_id=case.id, days=10,
                                                                      reason="需征求消防部门意见"))
    assert (case.statutory.due, case.extension_days, case.promised.due) == ("2026-11-12", 10, "2026-10-15")
    assert case.ledger[-1].approved_by == "county.head"
    types = outbox_types(bus, msg.case_number)
    assert types == ["case_opened", "step_claimed", "clock_suspended", "clock_resumed", "review_completed",
                     "deadline_extended"]
    resumed = bus.outbox(msg.case_number)[3][1]
    assert resumed["paused_working_days"] == 5 and resumed["statutory"]["due"] == "2026-10-29"
    full = get(as_, msg.case_number)
    assert [h.action for h in full.history] == ["立案", "认领", "暂停计时", "恢复计时", "审查", "延长法定期限"]
    paused = [d.date for d in full.statutory.trace if d.reason.startswith("paused:")]
    assert paused == ["2026-10-09", "2026-10-10", "2026-10-11", "2026-10-12", "2026-10-13", "2026-10-14"]
    assert count(approval_db, "SELECT statutory_due FROM approval.cases WHERE id = :i", i=case.id) == D(2026, 11, 12)


def test_a_december_case_is_provisional_then_reprojected_when_2027_is_published(bus, as_, clock, approval_db,
                                                                                admin):
    clock.set_today(D(2026, 12, 14))
    msg = bus.accepted(accepted_on=D(2026, 12, 14))
    case = get(as_, msg.case_number)
    # statutory 20 from Mon 12-14: 13 working days to 12-31; 2027 unpublished: 01-01 counts as a Friday (14),
    # 01-04..01-08 (19), 01-11 (20) → 2027-01-11, provisional. Promised 10 → 12-28, firm.
    assert (case.statutory.due, case.statutory.provisional, list(case.statutory.unpublished_years)) == (
        "2027-01-11", True, ["2027"])
    assert (case.promised.due, case.promised.provisional) == ("2026-12-28", False)
    assert "暂定" in case.statutory_explain
    refused = rpc_error(as_("county.reviewer").PublishCalendarYear, pb.PublishCalendarYearRequest(year=2027))
    assert refused.code() == PD
    # a county no longer publishes holidays (issue 15): the province's arrangement is published (here by the
    # operators' command, as for the national years), then the county re-projects on it
    year_2027 = {"2027-01-01": "元旦", "2027-01-02": "元旦", "2027-01-03": "元旦"}
    refused = rpc_error(as_("county.admin").PublishCalendarYear, pb.PublishCalendarYearRequest(
        year=2027, holidays=year_2027, reason="国务院办公厅关于2027年部分节假日安排的通知"))
    assert refused.code() == PD and field_of(refused) == "region"
    admin.calendars.store.publish(CalendarYear.from_dict({"year": 2027, "holidays": year_2027}), "62", by="运维")
    report = as_("county.admin").ReprojectDeadlines(pb.ReprojectDeadlinesRequest(
        cause="2027 年节假日安排发布（国务院办公厅关于2027年部分节假日安排的通知）"))
    assert report.cases_changed >= 1 and "620602" in report.tenants
    case = get(as_, msg.case_number)
    # 元旦 01-01..01-03 off: 01-04..01-08 (18), 01-11 (19), 01-12 (20)
    assert (case.statutory.due, case.statutory.provisional) == ("2027-01-12", False)
    [change] = case.deadline_changes
    assert (change.previous_statutory_due, change.statutory_due, change.provisional) == (
        "2027-01-11", "2027-01-12", False)
    assert "2027 年节假日安排发布" in change.cause
    assert change.at.startswith("2026-12-14T")            # the clock's day (a drill's pinned date), not the host's
    reprojected = [b for t, b in bus.outbox(msg.case_number) if t == "due_date_reprojected"]
    assert reprojected[0]["statutory"]["due"] == "2027-01-12"
    # publishing the same year again changes nothing
    again = as_("county.admin").ReprojectDeadlines(pb.ReprojectDeadlinesRequest(cause="复核"))
    assert again.cases_changed == 0
    assert count(approval_db, "SELECT count(*) FROM approval.deadline_changes WHERE case_id = :i", i=case.id) == 1


def test_joint_approval_with_three_departments_one_late(bus, as_, clock):
    depts = ["县住建局", "县自然资源局", "县生态环境局"]
    msg = bus.accepted(joint=True, joint_departments=depts, promised_limit_days=20, statutory_limit_days=0,
                       item_name="建设项目联合审批", department="凉州区住房和城乡建设局")
    case = get(as_, msg.case_number)
    assert (case.category_name, case.statutory_days, case.max_extension_days) == ("投资建设", 45, 15)
    shares = {s.desk: (s.share_days, s.share_due) for s in case.steps if s.kind == "department_review"}
    assert shares == {d: (15, "2026-10-15") for d in depts}
    decision = step_of(case, "decision")
    assert decision.status == pb.STEP_STATUS_WAITING
    assert rpc_error(as_("county.decider").ClaimTask, pb.ClaimTaskRequest(step_id=decision.id)).code() == FP
    for user, dept, day in (("county.reviewer", depts[0], D(2026, 10, 12)),
                            ("county.reviewer2", depts[1], D(2026, 10, 15)),
                            ("county.reviewer3", depts[2], D(2026, 10, 19))):
        clock.set_today(day)
        task = as_(user).ClaimTask(pb.ClaimTaskRequest(desk=dept, kind="department_review"))
        assert task.case_number == msg.case_number or task.desk == dept
        step = step_of(case, "department_review", dept)
        if task.step_id != step.id:          # an older joint case was more urgent; take ours explicitly
            as_(user).ReleaseTask(pb.ReleaseTaskRequest(step_id=task.step_id))
            as_(user).ClaimTask(pb.ClaimTaskRequest(step_id=step.id))
        case = as_(user).CompleteReview(pb.CompleteReviewRequest(step_id=step.id, opinion=f"{dept}同意"))
    assert case.status == pb.CASE_STATUS_DECISION and case.late and list(case.late_departments) == ["县生态环境局"]
    assert [s.late for s in case.steps if s.kind == "department_review"] == [False, False, True]
    reviews = [b for t, b in bus.outbox(msg.case_number) if t == "review_completed"]
    assert [(r["department"], r["late"], r["all_concluded"]) for r in reviews] == [
        ("县住建局", False, False), ("县自然资源局", False, False), ("县生态环境局", True, True)]
    clock.set_today(D(2026, 10, 20))
    claimed_decision(as_, msg.case_number)
    case = as_("county.decider").Decide(pb.DecideRequest(case_id=case.id, outcome="approve", opinion="同意"))
    decided = [b for t, b in bus.outbox(msg.case_number) if t == "case_decided"][0]
    assert decided["late"] and decided["late_departments"] == ["县生态环境局"]
    assert case.status == pb.CASE_STATUS_COMPLETED


def test_a_province_sets_its_own_joint_share_and_the_default_is_kept_without_one(bus, as_, approval_settings):
    """The seeds fix no split of a joint case's promised limit (issue 21 item 9): it is the province's data."""
    depts = ["县住建局", "县自然资源局"]
    with owner_connection(approval_settings.database_owner_url) as conn:
        conn.execute(text("INSERT INTO approval.joint_share_policies (province, lead_percent, lead_min_days, basis)"
                          " VALUES ('62', 50, 2, '测试：牵头部门保留一半')"))
    try:
        msg = bus.accepted(joint=True, joint_departments=depts, promised_limit_days=20, statutory_limit_days=0,
                           item_name="建设项目联合审批", department="凉州区住房和城乡建设局")
    finally:
        with owner_connection(approval_settings.database_owner_url) as conn:
            conn.execute(text("DELETE FROM approval.joint_share_policies WHERE province = '62'"))
    case = get(as_, msg.case_number)
    assert {s.desk: s.share_days for s in case.steps if s.kind == "department_review"} == {d: 10 for d in depts}
    msg = bus.accepted(joint=True, joint_departments=depts, promised_limit_days=20, statutory_limit_days=0,
                       item_name="建设项目联合审批", department="凉州区住房和城乡建设局")
    case = get(as_, msg.case_number)
    assert {s.desk: s.share_days for s in case.steps if s.kind == "department_review"} == {d: 15 for d in depts}


def test_separation_of_duties_and_role_checks_on_every_action(bus, as_, clock):
    msg = bus.accepted()
    case = get(as_, msg.case_number)
    review_step = step_of(case, "review")
    deny = [
        ("county.decider", "ClaimTask", pb.ClaimTaskRequest(step_id=review_step.id)),     # decider ≠ reviewer role
        ("county.clerk", "ClaimTask", pb.ClaimTaskRequest(step_id=review_step.id)),
        ("county.clerk", "ListQueue", pb.ListQueueRequest()),
        ("county.decider2", "ClaimTask", pb.ClaimTaskRequest(desk="market_access", kind="decision")),  # no desk
        ("county.head", "Decide", pb.DecideRequest(case_id=case.id, outcome="approve")),
        ("county.chief", "Decide", pb.DecideRequest(case_id=case.id, outcome="approve")),
        ("county.reviewer", "ExtendDeadline", pb.ExtendDeadlineRequest(case_id=case.id, days=5, reason="x")),
        ("county.clerk", "SuspendClock", pb.SuspendClockRequest(case_id=case.id, procedure="hearing", reason="x",
                                                                days=5)),
        ("county.decider", "DecideImmediately", pb.DecideImmediatelyRequest(case_id=case.id, outcome="approve")),
        ("county.reviewer", "RecordDelivery", pb.RecordDeliveryRequest(case_id=case.id, method="window")),
        ("county.supervisor", "CompleteReview", pb.CompleteReviewRequest(step_id=review_step.id, opinion="x")),
        ("county.reviewer", "AssignDesks", pb.AssignDesksRequest(username="county.reviewer", desks=["x"])),
        ("county.reviewer", "RegisterSeal", pb.RegisterSealRequest(name="x", code="y")),
        ("county.cashier", "GetCase", pb.GetCaseRequest(case_id=case.id)),
    ]
    for user, method, request in deny:
        e = rpc_error(getattr(as_(user), method), request)
        assert e.code() == PD, (user, method, e.code(), e.details())
        assert not e.details().isascii()
    # the supervisor reads (the subtree) but acts on nothing
    assert as_("county.supervisor").GetCase(pb.GetCaseRequest(case_id=case.id)).id == case.id
    # one person holding both roles reviews — and then may not decide the same case
    as_("county.both").ClaimTask(pb.ClaimTaskRequest(step_id=review_step.id))
    as_("county.both").CompleteReview(pb.CompleteReviewRequest(step_id=review_step.id, opinion="同意"))
    decision = step_of(get(as_, msg.case_number), "decision")
    e = rpc_error(as_("county.both").ClaimTask, pb.ClaimTaskRequest(step_id=decision.id))
    assert e.code() == PD and "审核人与决定人不得为同一人" in e.details()
    # the case is on the decision desk, but "claim the next one" never hands it to its own reviewer
    queue = as_("county.both").ListQueue(pb.ListQueueRequest(kind="decision", limit=200))
    assert msg.case_number in [t.case_number for t in queue.tasks]
    try:
        task = as_("county.both").ClaimTask(pb.ClaimTaskRequest(desk="market_access", kind="decision"))
    except grpc.RpcError as exc:
        assert exc.code() == NF                                          # nothing else was waiting
    else:
        assert task.case_number != msg.case_number
        as_("county.both").ReleaseTask(pb.ReleaseTaskRequest(step_id=task.step_id))
    case = claimed_decision(as_, msg.case_number)
    assert step_of(case, "decision").claimed_by == "county.decider"
    e = rpc_error(as_("county.both").Decide, pb.DecideRequest(case_id=case.id, outcome="approve"))
    assert e.code() in (FP, PD)
    case = as_("county.decider").Decide(pb.DecideRequest(case_id=case.id, outcome="approve", opinion="准予"))
    assert case.decision.decider == "county.decider" and step_of(case, "review").done_by == "county.both"


def test_the_clerk_who_accepted_a_case_neither_reviews_nor_decides_it(bus, as_):
    """Seed 004: 受理、审查、决定既相互分离又相互制约 — the accepting clerk is named in application_accepted."""
    msg = bus.accepted(accepted_by="county.both")
    case = get(as_, msg.case_number)
    assert case.accepted_by == "county.both"
    e = rpc_error(as_("county.both").ClaimTask, pb.ClaimTaskRequest(step_id=step_of(case, "review").id))
    assert e.code() == PD and "受理人" in e.details()
    # "claim the next one" never hands it to the person who accepted it
    try:
        task = as_("county.both").ClaimTask(pb.ClaimTaskRequest(desk="market_access", kind="review"))
    except grpc.RpcError as exc:
        assert exc.code() == NF                                          # nothing else was waiting
    else:
        assert task.case_number != msg.case_number
        as_("county.both").ReleaseTask(pb.ReleaseTaskRequest(step_id=task.step_id))
    case = reviewed(as_, msg.case_number)
    e = rpc_error(as_("county.both").ClaimTask, pb.ClaimTaskRequest(step_id=step_of(case, "decision").id))
    assert e.code() == PD and "受理人" in e.details()
    # a 即办件 the chief representative accepted himself is not his to decide
    own = bus.accepted(case_kind="1", immediate=True, accepted_by="county.chief")
    own_case = get(as_, own.case_number)
    e = rpc_error(as_("county.chief").DecideImmediately, pb.DecideImmediatelyRequest(case_id=own_case.id,
                                                                                    outcome="approve"))
    assert e.code() == PD and "受理人" in e.details()


def test_an_immediate_case_is_decided_at_the_window_in_one_step(bus, as_):
    msg = bus.accepted(case_kind="1", immediate=True, item_name="食品小摊点备案")
    case = get(as_, msg.case_number)
    assert [s.kind for s in case.steps] == ["window_decision"] and case.promised.due == "2026-09-18"
    e = rpc_error(as_("county.decider").DecideImmediately, pb.DecideImmediatelyRequest(case_id=case.id,
                                                                                      outcome="approve"))
    assert e.code() == PD
    case = as_("county.chief").DecideImmediately(pb.DecideImmediatelyRequest(case_id=case.id, outcome="approve",
                                                                            opinion="当场审核，准予备案"))
    assert case.status == pb.CASE_STATUS_COMPLETED and not case.late and case.certificate.seal_name.endswith("专用章")
    assert case.steps[0].done_by == "county.chief"
    assert outbox_types(bus, msg.case_number) == ["case_opened", "case_decided", "certificate_issued",
                                                  "case_completed"]
    assert bus.outbox(msg.case_number)[1][1]["immediate"] is True
    case = as_("county.chief").RecordDelivery(pb.RecordDeliveryRequest(case_id=case.id, method="window",
                                                                      recipient="申请人本人"))
    assert case.status == pb.CASE_STATUS_DELIVERED and case.delivery.due.due == "2026-10-09"


def test_an_automatic_approval_is_decided_at_acceptance_and_audited_like_a_person(bus, as_):
    """Seed 003 §28 (秒批, 即来即办、即来即批): the rule is the decider, with its version; when it does not hold,
    the chief representative decides as for any 即办件."""
    msg = bus.accepted(case_kind="1", immediate=True, item_name="高龄津贴申领", auto_approval="age_at_least:80",
                       applicant_birth_date="1940-05-05")
    case = get(as_, msg.case_number)
    assert case.status == pb.CASE_STATUS_COMPLETED and case.decision.outcome == "approved"
    assert case.decision.decider == "秒批规则 age_at_least:80 v1" and case.certificate.number.startswith("620602-")
    actions = [h.action for h in case.history]
    assert actions.index("立案") < actions.index("秒批") < actions.index("办结")
    assert next(h for h in case.history if h.action == "秒批").actor == "秒批规则 age_at_least:80 v1"
    assert outbox_types(bus, msg.case_number) == ["case_opened", "case_decided", "certificate_issued",
                                                  "case_completed"]
    decided = bus.outbox(msg.case_number)[1][1]
    assert decided["decider"] == "秒批规则 age_at_least:80 v1" and decided["immediate"] is True
    young = bus.accepted(case_kind="1", immediate=True, item_name="高龄津贴申领", auto_approval="age_at_least:80",
                         applicant_birth_date="1966-06-06")
    case = get(as_, young.case_number)
    assert case.status == pb.CASE_STATUS_REVIEW and "未满 80 周岁" in case.history[-1].detail
    assert outbox_types(bus, young.case_number) == ["case_opened"]
    case = as_("county.chief").DecideImmediately(pb.DecideImmediatelyRequest(case_id=case.id, outcome="deny",
                                                                            reasons=["未满80周岁"]))
    assert case.decision.decider == "county.chief"


def test_the_same_decision_twice_records_one_decision(bus, as_, approval_db):
    msg = bus.accepted()
    reviewed(as_, msg.case_number)
    case = claimed_decision(as_, msg.case_number)
    request = pb.DecideRequest(case_id=case.id, outcome="approve", opinion="准予许可")
    first = as_("county.decider").Decide(request)
    second = as_("county.decider").Decide(request)
    assert first.decision.document_number == second.decision.document_number
    assert first.certificate.number == second.certificate.number
    assert count(approval_db, "SELECT count(*) FROM approval.decisions WHERE case_id = :i", i=case.id) == 1
    assert outbox_types(bus, msg.case_number).count("case_decided") == 1
    decided = [b for t, b in bus.outbox(msg.case_number) if t == "case_decided"][0]
    assert decided["document_number"] == first.decision.document_number
    issued = [b for t, b in bus.outbox(msg.case_number) if t == "certificate_issued"]
    assert [i["certificate_number"] for i in issued] == [first.certificate.number]
    history = get(as_, msg.case_number).history
    assert [h.action for h in history].count("决定") == 1
    assert any(first.decision.document_number in h.detail for h in history)
    e = rpc_error(as_("county.decider").Decide, pb.DecideRequest(case_id=case.id, outcome="deny", reasons=["x"]))
    assert e.code() == FP and field_of(e) == "case_id"
    cert = as_("county.decider").GetDocument(pb.GetDocumentRequest(case_id=case.id, kind="certificate"))
    text_ = "".join(page.extract_text() for page in PdfReader(io.BytesIO(cert.content)).pages)
    assert cert.content[:4] == b"%PDF" and first.certificate.number in text_ and "准予行政许可决定书" in text_


def test_bad_input_is_refused_naming_the_field_and_changes_nothing(bus, as_, approval_db):
    msg = bus.accepted()
    case = get(as_, msg.case_number)

    def snapshot():
        c = get(as_, msg.case_number)
        rows = count(approval_db, "SELECT count(*) FROM approval.history WHERE case_id = :i", i=c.id)
        return (c.status, len(c.ledger), [s.status for s in c.steps], rows, len(bus.outbox(msg.case_number)),
                c.extension_days)

    # deciding an unclaimed case (the review is not even done)
    before = snapshot()
    e = rpc_error(as_("county.decider").Decide, pb.DecideRequest(case_id=case.id, outcome="approve"))
    assert (e.code(), field_of(e)) == (FP, "case_id") and "认领" in e.details()
    # resuming a clock that is not suspended
    as_("county.reviewer").ClaimTask(pb.ClaimTaskRequest(step_id=step_of(case, "review").id))
    before = snapshot()
    e = rpc_error(as_("county.reviewer").ResumeClock, pb.ResumeClockRequest(case_id=case.id))
    assert (e.code(), field_of(e)) == (FP, "case_id") and "未暂停计时" in e.details()
    assert snapshot() == before
    # extending twice beyond the statutory maximum
    as_("county.head").ExtendDeadline(pb.ExtendDeadlineRequest(case_id=case.id, days=10, reason="情况复杂"))
    before = snapshot()
    e = rpc_error(as_("county.head").ExtendDeadline, pb.ExtendDeadlineRequest(case_id=case.id, days=5,
                                                                             reason="再延"))
    assert (e.code(), field_of(e)) == (IA, "days") and "累计不得超过 10 个工作日" in e.details()
    assert snapshot() == before
    # denying without reasons
    as_("county.reviewer").CompleteReview(pb.CompleteReviewRequest(step_id=step_of(case, "review").id,
                                                                   opinion="不符合条件", conclusion="disagree"))
    claimed_decision(as_, msg.case_number)
    before = snapshot()
    for reasons in ([], ["  "]):
        e = rpc_error(as_("county.decider").Decide, pb.DecideRequest(case_id=case.id, outcome="deny",
                                                                     reasons=reasons))
        assert (e.code(), field_of(e)) == (IA, "reasons")
    e = rpc_error(as_("county.decider").Decide, pb.DecideRequest(case_id=case.id, outcome="maybe"))
    assert (e.code(), field_of(e)) == (IA, "outcome")
    e = rpc_error(as_("county.decider").SuspendClock, pb.SuspendClockRequest(case_id=case.id, procedure="午休",
                                                                            reason="x", days=1))
    assert (e.code(), field_of(e)) == (IA, "procedure")
    e = rpc_error(as_("county.decider").GetCase, pb.GetCaseRequest(case_id="not-a-uuid"))
    assert (e.code(), field_of(e)) == (IA, "case_id")
    assert snapshot() == before
    assert count(approval_db, "SELECT count(*) FROM approval.decisions WHERE case_id = :i", i=case.id) == 0
    denied = as_("county.decider").Decide(pb.DecideRequest(case_id=case.id, outcome="deny",
                                                           reasons=["经营场所不符合食品安全要求"],
                                                           reconsideration_body="凉州区人民政府"))
    assert denied.status == pb.CASE_STATUS_COMPLETED and "凉州区人民政府申请行政复议" in denied.decision.remedies
    doc = as_("county.decider").GetDocument(pb.GetDocumentRequest(case_id=case.id, kind="decision"))
    text_ = "".join(page.extract_text() for page in PdfReader(io.BytesIO(doc.content)).pages)
    assert "不予行政许可决定书" in text_ and "经营场所不符合食品安全要求" in text_ and "六十日" in text_


def test_fees_block_completion_until_fees_settled(bus, as_):
    msg = bus.accepted(has_fees=True, item_name="建筑工程施工许可", department="凉州区住房和城乡建设局",
                       fee_codes=["FEE-CSJCSSPTF", "FEE-FKYDYJF"])
    reviewed(as_, msg.case_number)
    case = claimed_decision(as_, msg.case_number)
    case = as_("county.decider").Decide(pb.DecideRequest(case_id=case.id, outcome="approve"))
    assert case.status == pb.CASE_STATUS_AWAITING_FEES and not case.fees_settled
    decided = [b for t, b in bus.outbox(msg.case_number) if t == "case_decided"][0]
    assert decided["has_fees"] and decided["outcome"] == "approved"
    assert decided["fee_codes"] == ["FEE-CSJCSSPTF", "FEE-FKYDYJF"]      # the fee window assesses these
    e = rpc_error(as_("county.clerk").RecordDelivery, pb.RecordDeliveryRequest(case_id=case.id, method="window"))
    assert e.code() == FP and "费用" in e.details()
    assert "case_completed" not in outbox_types(bus, msg.case_number)
    bus.settled("620602", msg.case_number)
    case = get(as_, msg.case_number)
    assert case.status == pb.CASE_STATUS_COMPLETED and case.fees_settled
    completed = [b for t, b in bus.outbox(msg.case_number) if t == "case_completed"]
    assert len(completed) == 1 and completed[0]["fees_settled"] is True
    bus.settled("620602", msg.case_number)                       # a second settlement changes nothing
    assert outbox_types(bus, msg.case_number).count("case_completed") == 1
    case = as_("county.clerk").RecordDelivery(pb.RecordDeliveryRequest(case_id=case.id, method="post",
                                                                      tracking_number="EMS1234567890"))
    assert case.status == pb.CASE_STATUS_DELIVERED and case.delivery.tracking_number == "EMS1234567890"


def test_fees_settled_before_the_decision_is_honoured_and_a_no_fee_case_completes_directly(bus, as_):
    early = bus.accepted(has_fees=True)
    bus.settled("620602", early.case_number)                     # out of order: before the decision
    reviewed(as_, early.case_number)
    case = claimed_decision(as_, early.case_number)
    case = as_("county.decider").Decide(pb.DecideRequest(case_id=case.id, outcome="approve"))
    assert case.status == pb.CASE_STATUS_COMPLETED and case.fees_settled
    free = bus.accepted(has_fees=False)
    reviewed(as_, free.case_number)
    case = claimed_decision(as_, free.case_number)
    case = as_("county.decider").Decide(pb.DecideRequest(case_id=case.id, outcome="approve"))
    assert case.status == pb.CASE_STATUS_COMPLETED and not case.has_fees
    assert outbox_types(bus, free.case_number)[-1] == "case_completed"


def test_fees_settled_before_the_case_exists_is_kept(bus, as_):
    msg = accepted_event(has_fees=True)
    bus.settled("620602", msg.case_number)                       # fees settle before approval opens the case
    bus.publish("intake", msg, "620602", msg.case_number)
    bus.drain(1)
    reviewed(as_, msg.case_number)
    case = claimed_decision(as_, msg.case_number)
    case = as_("county.decider").Decide(pb.DecideRequest(case_id=case.id, outcome="approve"))
    assert case.status == pb.CASE_STATUS_COMPLETED


def test_the_hand_out_at_intake_is_the_delivery_recorded_once(bus, as_):
    msg = bus.accepted(has_fees=False)
    picked = intake_ev.ResultPickedUp(case_number=msg.case_number, tenant="620602", channel="village",
                                      picked_up_at=dt.datetime.now(CHINA_TZ).isoformat(), recorded_by="county.clerk",
                                      picked_up_by="金桂芳")
    bus.publish("intake", picked, "620602", msg.case_number)      # before the decision: not a delivery
    bus.drain(1)
    reviewed(as_, msg.case_number)
    case = claimed_decision(as_, msg.case_number)
    as_("county.decider").Decide(pb.DecideRequest(case_id=case.id, outcome="approve"))
    assert get(as_, msg.case_number).status == pb.CASE_STATUS_COMPLETED
    for _ in range(2):                                             # the hand-out, and it again
        bus.publish("intake", picked, "620602", msg.case_number)
        bus.drain(1)
    case = get(as_, msg.case_number)
    assert case.status == pb.CASE_STATUS_DELIVERED and case.delivery.method == "village"
    assert outbox_types(bus, msg.case_number).count("case_delivered") == 1
    other = intake_ev.ResultPickedUp(case_number=msg.case_number, tenant="513221", channel="window")
    bus.publish("intake", other, "620602", msg.case_number)       # body and envelope disagree: dead-lettered
    bus.drain(1)
    assert outbox_types(bus, msg.case_number).count("case_delivered") == 1


def test_an_application_terminated_at_the_window_ends_the_undecided_case(bus, as_):
    msg = bus.accepted()
    reviewed(as_, msg.case_number)
    decision = step_of(get(as_, msg.case_number), "decision")
    ended = intake_ev.ApplicationTerminated(application_id=msg.application_id, tenant="620602",
                                            case_number=msg.case_number, reason="容缺受理的材料逾期未补交，终止办理")
    for _ in range(2):                                               # and redelivered: ended once
        bus.publish("intake", ended, "620602", msg.case_number)
        bus.drain(1)
    case = get(as_, msg.case_number)
    assert case.status == pb.CASE_STATUS_TERMINATED and step_of(case, "decision").status == pb.STEP_STATUS_CANCELLED
    assert case.history[-1].action == "终止办理" and "逾期未补交" in case.history[-1].detail
    assert outbox_types(bus, msg.case_number).count("case_terminated") == 1
    queue = as_("county.decider").ListQueue(pb.ListQueueRequest(limit=200))
    assert decision.id not in {t.step_id for t in queue.tasks}
    e = rpc_error(as_("county.decider").ClaimTask, pb.ClaimTaskRequest(step_id=decision.id))
    assert e.code() == FP
    # a decided case is not undone by a late termination
    done = bus.accepted()
    reviewed(as_, done.case_number)
    case = claimed_decision(as_, done.case_number)
    as_("county.decider").Decide(pb.DecideRequest(case_id=case.id, outcome="approve"))
    bus.publish("intake", intake_ev.ApplicationTerminated(tenant="620602", case_number=done.case_number,
                                                          reason="x"), "620602", done.case_number)
    bus.drain(1)
    assert get(as_, done.case_number).status == pb.CASE_STATUS_COMPLETED


def test_site_inspection_delegated_to_the_original_department_suspends_the_clock(bus, as_, clock):
    msg = bus.accepted(site_inspection="suspends", item_name="建筑工程施工许可", department="凉州区住房和城乡建设局")
    case = get(as_, msg.case_number)
    step = step_of(case, "review")
    as_("county.reviewer").ClaimTask(pb.ClaimTaskRequest(step_id=step.id))
    clock.set_today(D(2026, 9, 21))
    e = rpc_error(as_("county.reviewer").RequestInspection, pb.RequestInspectionRequest(
        case_id=case.id, mode="joint", scheduled_on="2026-09-23"))
    assert (e.code(), field_of(e)) == (IA, "departments")
    case = as_("county.reviewer").RequestInspection(pb.RequestInspectionRequest(
        case_id=case.id, mode="delegated", departments=["县住建局"], scheduled_on="2026-09-23", inspectors="王工"))
    assert case.clock_suspended and case.inspections[0].suspends_clock
    assert case.ledger[0].procedure == "site_inspection" and case.ledger[0].days == 3
    e = rpc_error(as_("county.reviewer").CompleteReview, pb.CompleteReviewRequest(step_id=step.id, opinion="x"))
    assert e.code() == FP
    clock.set_today(D(2026, 9, 24))
    case = as_("county.reviewer").RecordInspection(pb.RecordInspectionRequest(
        case_id=case.id, inspection_id=case.inspections[0].id, findings="现场与设计图纸一致", conclusion="pass"))
    assert not case.clock_suspended and case.inspections[0].status == pb.INSPECTION_STATUS_RECORDED
    assert case.promised.due == "2026-10-13"                     # three working days later than 10-09
    types = outbox_types(bus, msg.case_number)
    assert types == ["case_opened", "step_claimed", "inspection_requested", "clock_suspended",
                     "inspection_recorded", "clock_resumed"]


def test_one_seal_per_tenant_and_the_queue_orders_by_due_date(bus, as_, clock):
    e = rpc_error(as_("county.admin").RegisterSeal, pb.RegisterSealRequest(name="第二枚章", code="2"))
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS and "一枚印章" in e.details()
    seal = as_("county.decider").GetSeal(pb.GetSealRequest())
    assert seal.name == "凉州区行政审批局行政审批专用章"
    assert seal.registered_at.startswith("2026-09-18T")    # registered on the clock's day
    clock.set_today(D(2026, 9, 10))
    later = bus.accepted(accepted_on=D(2026, 9, 10), item_type="20", department="凉州区民政局",
                         promised_limit_days=15)
    sooner = bus.accepted(accepted_on=D(2026, 9, 10), item_type="20", department="凉州区民政局",
                          promised_limit_days=2)
    queue = as_("county.reviewer").ListQueue(pb.ListQueueRequest(desk="social_affairs", limit=200))
    numbers = [t.case_number for t in queue.tasks]
    assert numbers.index(sooner.case_number) < numbers.index(later.case_number)
    assert [t.promised_due for t in queue.tasks] == sorted(t.promised_due for t in queue.tasks)
    desks = as_("county.reviewer").ListDesks(pb.ListDesksRequest())
    assert "social_affairs" in desks.my_desks
    categories = as_("county.reviewer").ListCategories(pb.ListCategoriesRequest())
    assert [c.name for c in categories.categories] == ["市场准入", "投资建设", "社会事务", "涉农事务"]
