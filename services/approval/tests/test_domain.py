"""The approval rules and the deadline ledger without I/O: hand-checked dates on the 2026 calendar
(as the chinese-calendar package and the State Council have it), separation of duties, the ledger."""

from __future__ import annotations

import datetime as dt

import pytest

from services.approval import domain
from services.approval.case import Case
from services.approval.domain import Actor, CaseStatus, OpenCase, Outcome, Seal, StepKind, StepStatus
from shared.calendar import CalendarYear, WorkingCalendar, seed_year_from_package
from shared.clock import CHINA_TZ
from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied

D = dt.date
CAL = WorkingCalendar(seed_year_from_package(y) for y in (2025, 2026))
NOW = dt.datetime(2026, 9, 18, 10, 30, tzinfo=CHINA_TZ)
ALL_DESKS = frozenset({"market_access", "县住建局", "县自然资源局", "县生态环境局"})

REVIEWER = Actor("r1", "张审查", frozenset({"reviewer"}), ALL_DESKS)
REVIEWER2 = Actor("r2", "钱审查", frozenset({"reviewer"}), ALL_DESKS)
REVIEWER3 = Actor("r3", "孙审查", frozenset({"reviewer"}), ALL_DESKS)
DECIDER = Actor("d1", "李决定", frozenset({"decider"}), ALL_DESKS)
BOTH = Actor("b1", "吴兼岗", frozenset({"reviewer", "decider"}), ALL_DESKS)
HEAD = Actor("h1", "郑局长", frozenset({"head"}))
CHIEF = Actor("c1", "冯首代", frozenset({"chief_representative", "window_clerk"}))


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), CHINA_TZ)


def new_case(**over) -> Case:
    fields = dict(application_id="app-1", case_number="620602-2026-000001", item_id="item-1", item_version=1,
                  item_name="食品经营许可", accepted_at=at(D(2026, 9, 18)), accepted_on=D(2026, 9, 18),
                  promised_days=10, statutory_days=20, department="凉州区市场监督管理局", applicant_name="利民食品店")
    fields.update(over)
    return Case.open(OpenCase(**fields), case_id="case-1", tenant="620602", category="market_access", now=NOW)


def review(case: Case, actor: Actor = REVIEWER, day: dt.date = D(2026, 9, 21)) -> None:
    step = next(s for s in case.steps if s.kind in domain.REVIEW_KINDS and s.status == StepStatus.OPEN)
    case.claim(step.id, actor, at(day))
    case.complete_review(step.id, actor, "材料齐全，符合条件", "agree", at(day), day, CAL)


def claim_decision(case: Case, actor: Actor = DECIDER) -> None:
    step = next(s for s in case.steps if s.kind == StepKind.DECISION)
    case.claim(step.id, actor, NOW)


# -- deadlines, hand-checked -------------------------------------------------------------------------

def test_twenty_working_days_across_mid_autumn_and_national_day():
    # Accepted Friday 2026-09-18 (not counted). 09-19 Sat off; 09-20 Sun is a make-up working day (1);
    # 09-21..09-24 Mon–Thu (2–5); 09-25..09-27 中秋 off; 09-28..09-30 (6–8); 10-01..10-07 国庆 off;
    # 10-08 Thu (9), 10-09 Fri (10) ← promised 10; 10-10 Sat make-up working day (11); 10-11 Sun off;
    # 10-12..10-16 (12–16); 10-19..10-22 (17–20) ← statutory 20 falls on Thursday 2026-10-22.
    case = new_case()
    promised, statutory = case.promised_deadline(CAL), case.statutory_deadline(CAL)
    assert promised.due == D(2026, 10, 9)
    assert statutory.due == D(2026, 10, 22)
    assert not statutory.provisional
    counted = [d.date for d in statutory.trace if d.counted]
    assert len(counted) == 20 and D(2026, 9, 20) in counted and D(2026, 10, 10) in counted
    skipped = {d.date: d.reason for d in statutory.trace if not d.counted}
    assert skipped[D(2026, 9, 25)].startswith("holiday:") and skipped[D(2026, 10, 1)].startswith("holiday:")
    assert skipped[D(2026, 9, 19)] == "weekend"
    assert "调休上班" in statutory.explain() and "截止日期：2026-10-22" in statutory.explain()


def test_expert_review_suspension_of_five_working_days_then_resumption_and_extension():
    # Suspended on Fri 10-09 for 专家评审, resumed on Thu 10-15: the pause is 10-09..10-14, i.e. the
    # working days 10-09, 10-10 (Saturday make-up), 10-12, 10-13, 10-14 = 5 not counted.
    # Promised 10: 9 counted by 10-08, then 10-15 is the 10th → 2026-10-15.
    # Statutory 20: 10-15 (10), 10-16 (11), 10-19..10-23 (12–16), 10-26..10-29 (17–20) → 2026-10-29,
    # i.e. five working days after the unpaused 10-22. Extended by 10: 10-30 (21), 11-02..11-06 (22–26),
    # 11-09..11-12 (27–30) → 2026-11-12.
    case = new_case()
    step = case.steps[0]
    case.claim(step.id, REVIEWER, at(D(2026, 9, 21)))
    case.suspend(REVIEWER, "expert_review", "组织专家评审", 5, today=D(2026, 10, 9), now=at(D(2026, 10, 9)),
                 notice_number="TZ-1")
    assert case.promised_deadline(CAL).due is None and case.promised_deadline(CAL).paused_open
    proj = case.projection(CAL)
    assert proj.suspended and proj.promised_due is None
    _, paused = case.resume(REVIEWER, "专家评审结束", today=D(2026, 10, 15), now=at(D(2026, 10, 15)), cal=CAL)
    assert paused == 5
    assert case.promised_deadline(CAL).due == D(2026, 10, 15)
    assert case.statutory_deadline(CAL).due == D(2026, 10, 29)
    paused_days = [d.date for d in case.statutory_deadline(CAL).trace if d.reason.startswith("paused:")]
    assert paused_days[0] == D(2026, 10, 9) and paused_days[-1] == D(2026, 10, 14)
    case.extend(HEAD, 10, "需补充征求有关部门意见", today=D(2026, 10, 20), now=at(D(2026, 10, 20)))
    assert case.statutory_deadline(CAL).due == D(2026, 11, 12)
    assert case.promised_deadline(CAL).due == D(2026, 10, 15)      # the promise is not extended
    with pytest.raises(InvalidArgument) as e:
        case.extend(HEAD, 1, "再次延长", today=D(2026, 10, 21), now=at(D(2026, 10, 21)))
    assert e.value.field == "days"


def test_december_case_runs_into_unpublished_2027_provisionally():
    # Accepted Mon 2026-12-14. Statutory 20: 12-15..12-18 (4), 12-21..12-25 (9), 12-28..12-31 (13);
    # 2027 is not published: Fri 01-01 counts as a weekday (14), 01-04..01-08 (19), 01-11 (20) → 2027-01-11
    # provisional. With 2027 published (元旦 01-01..01-03 off): 01-04..01-08 (18), 01-11 (19), 01-12 (20).
    case = new_case(accepted_at=at(D(2026, 12, 14)), accepted_on=D(2026, 12, 14))
    before = case.statutory_deadline(CAL)
    assert (before.due, before.provisional, before.unpublished_years) == (D(2027, 1, 11), True, (2027,))
    assert case.promised_deadline(CAL).due == D(2026, 12, 28) and not case.promised_deadline(CAL).provisional
    y2027 = CalendarYear(2027, holidays={D(2027, 1, 1): "元旦", D(2027, 1, 2): "元旦", D(2027, 1, 3): "元旦"})
    after = case.statutory_deadline(CAL.publish_year(y2027))
    assert (after.due, after.provisional) == (D(2027, 1, 12), False)


def test_joint_departments_get_their_share_and_a_late_one_is_named():
    case = new_case(joint=True, joint_departments=("县住建局", "县自然资源局", "县生态环境局"), promised_days=20,
                    statutory_days=0)
    assert case.statutory_days == domain.JOINT_STATUTORY_DAYS and case.max_extension_days == 15
    depts = [s for s in case.steps if s.kind == StepKind.DEPARTMENT]
    assert [s.share_days for s in depts] == [15, 15, 15]
    # share 15 from 09-18: ... 10-09 (10), 10-10 (11), 10-12..10-15 (12–15) → 2026-10-15
    assert case.share_deadline(CAL, depts[0]).due == D(2026, 10, 15)
    decision = next(s for s in case.steps if s.kind == StepKind.DECISION)
    with pytest.raises(FailedPrecondition):
        case.claim(decision.id, DECIDER, NOW)                   # not before every department concluded
    for actor, step, day in ((REVIEWER, depts[0], D(2026, 10, 12)), (REVIEWER2, depts[1], D(2026, 10, 15)),
                             (REVIEWER3, depts[2], D(2026, 10, 19))):
        case.claim(step.id, actor, at(day))
        _, late, _ = case.complete_review(step.id, actor, "同意", "agree", at(day), day, CAL)
        assert late == (step.desk == "县生态环境局")
    assert case.status == CaseStatus.DECISION
    assert case.late_departments(CAL, D(2026, 10, 20)) == ["县生态环境局"]
    assert case.is_late(CAL, D(2026, 10, 20))


def test_separation_of_duties():
    case = new_case()
    review(case, BOTH)
    decision = next(s for s in case.steps if s.kind == StepKind.DECISION)
    with pytest.raises(PermissionDenied):
        case.claim(decision.id, BOTH, NOW)
    with pytest.raises(PermissionDenied):
        case.claim(decision.id, REVIEWER2, NOW)                 # no decider role
    case.claim(decision.id, DECIDER, NOW)
    assert case.plan_decision(DECIDER, "approve", []) == (Outcome.APPROVED, ())


def test_the_accepting_clerk_neither_reviews_nor_decides_the_case():
    """Seed 004: “建立完善受理、审查、决定既相互分离又相互制约的审批监管体系”."""
    case = new_case(accepted_by=BOTH.username)
    step = next(s for s in case.steps if s.kind == StepKind.REVIEW)
    with pytest.raises(PermissionDenied) as e:
        case.claim(step.id, BOTH, NOW)
    assert "受理人" in e.value.message
    review(case, REVIEWER)
    decision = next(s for s in case.steps if s.kind == StepKind.DECISION)
    with pytest.raises(PermissionDenied):
        case.claim(decision.id, BOTH, NOW)
    case.claim(decision.id, DECIDER, NOW)
    assert case.plan_decision(DECIDER, "approve", []) == (Outcome.APPROVED, ())
    # a 即办件: the chief representative decides on the spot only what someone else accepted
    own = new_case(immediate=True, accepted_by=CHIEF.username)
    with pytest.raises(PermissionDenied):
        own.plan_decision(CHIEF, "approve", [], immediate=True)
    other = new_case(immediate=True, accepted_by="clerk")
    assert other.plan_decision(CHIEF, "approve", [], immediate=True) == (Outcome.APPROVED, ())


def test_deciding_needs_the_claim_and_denying_needs_reasons():
    case = new_case()
    review(case)
    with pytest.raises(FailedPrecondition) as e:
        case.plan_decision(DECIDER, "approve", [])
    assert e.value.field == "case_id"
    claim_decision(case)
    with pytest.raises(InvalidArgument) as e:
        case.plan_decision(DECIDER, "deny", [" "])
    assert e.value.field == "reasons"
    outcome, reasons = case.plan_decision(DECIDER, "deny", ["经营场所与申请材料不符"])
    completed = case.record_decision(DECIDER, outcome, reasons, "", now=NOW, today=D(2026, 9, 22),
                                     document_number="BY-1", seal=None, remedies=domain.remedies_text())
    assert completed and case.status == CaseStatus.COMPLETED and case.certificate is None
    assert "六十日" in case.decision.remedies and "六个月" in case.decision.remedies
    assert case.plan_decision(DECIDER, "deny", ["x"]) is None   # the same decision again: nothing new
    with pytest.raises(FailedPrecondition):
        case.plan_decision(DECIDER, "approve", [])


def test_fees_block_completion_until_settled_in_either_order():
    case = new_case(has_fees=True)
    review(case)
    claim_decision(case)
    case.record_decision(DECIDER, Outcome.APPROVED, (), "", now=NOW, today=D(2026, 9, 22), document_number="XK-1",
                         seal=Seal("审批专用章", "1"), remedies="")
    assert case.status == CaseStatus.AWAITING_FEES
    with pytest.raises(FailedPrecondition):
        case.deliver(CHIEF, "window", "", "", now=NOW)
    assert case.settle_fees(NOW, NOW, "缴清") is True and case.status == CaseStatus.COMPLETED
    early = new_case(has_fees=True)
    assert early.settle_fees(NOW, NOW, "缴清") is False        # recorded, honoured at the decision
    review(early)
    claim_decision(early)
    assert early.record_decision(DECIDER, Outcome.APPROVED, (), "", now=NOW, today=D(2026, 9, 22),
                                 document_number="XK-2", seal=Seal("审批专用章", "1"), remedies="")
    assert early.status == CaseStatus.COMPLETED


def test_immediate_items_are_decided_at_the_window_in_one_step():
    case = new_case(immediate=True)
    assert case.promised_days == 0 and [s.kind for s in case.steps] == [StepKind.WINDOW]
    with pytest.raises(PermissionDenied):
        case.plan_decision(DECIDER, "approve", [], immediate=True)
    outcome, reasons = case.plan_decision(CHIEF, "approve", [], immediate=True)
    case.record_decision(CHIEF, outcome, reasons, "", now=NOW, today=D(2026, 9, 18), document_number="XK-3",
                         seal=Seal("审批专用章", "1"), remedies="", immediate=True)
    assert case.status == CaseStatus.COMPLETED and not case.is_late(CAL, D(2026, 9, 18))


def test_an_item_marked_for_automatic_approval_is_decided_at_acceptance_by_its_rule():
    """Seed 003 §28: “推出一批‘秒批、秒办’事项 … 实现事项‘即来即办、即来即批’” — the rule decides, recorded as
    the decider with its version, in the history like a person's decision."""
    cmd = OpenCase(application_id="app-9", case_number="620602-2026-000009", item_id="item-9", item_version=3,
                   item_name="高龄津贴申领", accepted_at=at(D(2026, 9, 18)), accepted_on=D(2026, 9, 18),
                   promised_days=0, immediate=True, accepted_by="clerk", auto_approval="age_at_least:80",
                   applicant_birth_date=D(1940, 5, 5))
    case = Case.open(cmd, case_id="case-9", tenant="620602", category="social_affairs", now=NOW)
    verdict = case.auto_approval_verdict(cmd, D(2026, 9, 18))
    assert verdict.passed and verdict.rule_id == "秒批规则 age_at_least:80 v1"
    assert case.decide_by_rule(verdict, now=NOW, today=D(2026, 9, 18), document_number="XK-9",
                               seal=Seal("审批专用章", "1"))
    assert case.status == CaseStatus.COMPLETED and case.decision.decider == "秒批规则 age_at_least:80 v1"
    assert case.decision.immediate and case.certificate.number == "XK-9"
    assert [h.action for h in case.new_history][-2:] == ["秒批", "办结"]
    assert case.steps[0].done_by == "秒批规则 age_at_least:80 v1"
    # too young: nothing decided, the chief representative decides as for any 即办件
    young = Case.open(OpenCase(**{**vars(cmd), "applicant_birth_date": D(1950, 5, 5)}), case_id="case-10",
                      tenant="620602", category="social_affairs", now=NOW)
    verdict = young.auto_approval_verdict(cmd.__class__(**{**vars(cmd), "applicant_birth_date": D(1950, 5, 5)}),
                                          D(2026, 9, 18))
    assert not verdict.passed
    assert not young.decide_by_rule(verdict, now=NOW, today=D(2026, 9, 18), document_number="", seal=None)
    assert young.decision is None and young.new_history[-1].action == "秒批未通过"
    assert young.plan_decision(CHIEF, "approve", [], immediate=True) == (Outcome.APPROVED, ())
    # no rule on a 承诺件
    assert new_case().auto_approval_verdict(cmd.__class__(**{**vars(cmd), "immediate": False}), D(2026, 9, 18)) is None
    with pytest.raises(InvalidArgument) as e:
        OpenCase(**{**vars(cmd), "auto_approval": "x"}).validate()
    assert e.value.field == "auto_approval"


def test_ledger_refusals_name_the_field():
    case = new_case()
    step = case.steps[0]
    with pytest.raises(FailedPrecondition):
        case.suspend(REVIEWER, "hearing", "听证", 5, today=D(2026, 9, 21), now=NOW, notice_number="")  # unclaimed
    case.claim(step.id, REVIEWER, NOW)
    with pytest.raises(InvalidArgument) as e:
        case.suspend(REVIEWER, "喝茶", "x", 5, today=D(2026, 9, 21), now=NOW, notice_number="")
    assert e.value.field == "procedure"
    with pytest.raises(InvalidArgument) as e:
        case.suspend(REVIEWER, "听证", "x", 0, today=D(2026, 9, 21), now=NOW, notice_number="")
    assert e.value.field == "days"
    with pytest.raises(FailedPrecondition) as e:
        case.resume(REVIEWER, "", today=D(2026, 9, 21), now=NOW, cal=CAL)
    assert e.value.field == "case_id"
    with pytest.raises(PermissionDenied):
        case.extend(REVIEWER, 5, "x", today=D(2026, 9, 21), now=NOW)
    assert case.ledger == []


def test_site_inspection_suspends_when_the_item_says_so():
    case = new_case(site_inspection="suspends")
    step = case.steps[0]
    case.claim(step.id, REVIEWER, NOW)
    with pytest.raises(InvalidArgument) as e:
        case.request_inspection(REVIEWER, "delegated", [], D(2026, 9, 22), "", "", today=D(2026, 9, 21), now=NOW,
                                notice_number="", cal=CAL)
    assert e.value.field == "departments"
    insp = case.request_inspection(REVIEWER, "delegated", ["县住建局"], D(2026, 9, 23), "王工", "",
                                   today=D(2026, 9, 21), now=NOW, notice_number="TZ-9", cal=CAL)
    assert case.open_suspension() is not None and case.open_suspension().procedure == "site_inspection"
    assert case.open_suspension().days == 3                    # 09-21, 09-22, 09-23
    case.record_inspection(REVIEWER, insp.id, "现场与图纸一致", "pass", today=D(2026, 9, 24), now=NOW, cal=CAL)
    assert case.open_suspension() is None
    # paused 09-21..09-23: promised 10 moves three working days, 10-09 → 10-10 (Saturday make-up), 10-12, 10-13
    assert case.promised_deadline(CAL).due == D(2026, 10, 13)


def test_department_share_and_procedure_names():
    assert [domain.department_share(n) for n in (1, 4, 10, 20)] == [1, 3, 8, 15]
    # the seeds fix no split (issue 21 item 9): a province's own policy replaces the default
    half = domain.JointSharePolicy(lead_percent=50, lead_min_days=2)
    assert [domain.department_share(n, half) for n in (1, 2, 4, 10, 20)] == [1, 1, 2, 5, 10]
    with pytest.raises(InvalidArgument) as e:
        domain.JointSharePolicy(lead_percent=100)
    assert e.value.field == "lead_percent"
    assert domain.procedure_code("专家评审") == "expert_review" and domain.procedure_code("补正") == "correction"
