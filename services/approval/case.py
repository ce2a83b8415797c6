"""The case (办件) in the back office: opened from an accepted application, claimed and reviewed, decided,
completed once any fees are settled, delivered. Plain Python, no I/O.

`Case` is the last layer of the aggregate: what a case holds (`domain.CaseRecord`), its deadline ledger
(`deadlines.DeadlineLedger`) and its site inspections (`inspections.SiteInspections`) are below it.
Every method checks who acts and in which state the case is before it changes anything, and records
what it did in the case's history; the handler's unit of work writes the changes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import replace

from services.approval.domain import (
    CONCLUSIONS,
    DEFAULT_JOINT_SHARE,
    DEFAULT_STATUTORY_DAYS,
    DELIVERY_METHODS,
    JOINT_STATUTORY_DAYS,
    OPEN_STATUSES,
    OUTCOME_NAMES,
    OUTCOMES,
    REVIEW_KINDS,
    STATUS_NAMES,
    STEP_NAMES,
    STEP_ROLE,
    WINDOW_DESK,
    Actor,
    CaseStatus,
    CertificateRecord,
    DecisionRecord,
    InspectionStatus,
    JointSharePolicy,
    OpenCase,
    Outcome,
    Seal,
    Step,
    StepKind,
    StepStatus,
    department_share,
)
from services.approval.inspections import SiteInspections
from shared.autoapproval import Facts, Verdict, evaluate
from shared.calendar import WorkingCalendar
from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from shared.tenancy import Role


class Case(SiteInspections):
    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, cmd: OpenCase, *, case_id: str, tenant: str, category: str, now: dt.datetime,
             share_policy: JointSharePolicy = DEFAULT_JOINT_SHARE) -> Case:
        cmd.validate()
        statutory = cmd.statutory_days or (JOINT_STATUTORY_DAYS if cmd.joint else DEFAULT_STATUTORY_DAYS)
        promised = 0 if cmd.immediate else min(cmd.promised_days or statutory, statutory)
        case = cls(
            id=case_id, tenant=tenant, case_number=cmd.case_number, application_id=cmd.application_id,
            item_id=cmd.item_id, item_version=cmd.item_version, item_name=cmd.item_name, category=category,
            accepted_at=cmd.accepted_at, accepted_on=cmd.accepted_on, promised_days=promised,
            statutory_days=statutory, status=CaseStatus.REVIEW, opened_at=now, item_type=cmd.item_type,
            department=cmd.department, immediate=cmd.immediate, joint=cmd.joint and not cmd.immediate,
            joint_departments=tuple(dict.fromkeys(d.strip() for d in cmd.joint_departments if d.strip())),
            has_fees=cmd.has_fees, fee_codes=tuple(cmd.fee_codes), site_inspection=cmd.site_inspection,
            government_invested=cmd.government_invested, key_project=cmd.key_project,
            applicant_name=cmd.applicant_name, scenario_code=cmd.scenario_code, scenario_name=cmd.scenario_name,
            accepted_by=cmd.accepted_by, proxy_tenant=cmd.proxy_tenant, materials=[dict(m) for m in cmd.materials],
            collect_tenant=cmd.collect_tenant,
        )
        if case.immediate:
            case._add_step(StepKind.WINDOW, WINDOW_DESK, StepStatus.OPEN, now)
            detail = "即办件，转窗口首席代表当场决定"
        elif case.joint:
            share = department_share(promised, share_policy)
            for dept in case.joint_departments:
                case._add_step(StepKind.DEPARTMENT, dept, StepStatus.OPEN, now, share_days=share)
            case._add_step(StepKind.DECISION, category, StepStatus.WAITING, now)
            detail = f"并联审批：{'、'.join(case.joint_departments)} 同步审查，各部门时限 {share} 个工作日"
        else:
            case._add_step(StepKind.REVIEW, category, StepStatus.OPEN, now)
            case._add_step(StepKind.DECISION, category, StepStatus.WAITING, now)
            detail = "转入后台审查"
        case._history(now, cmd.accepted_by or "intake", "", "立案",
                      f"{detail}；承诺时限 {promised} 个工作日，法定时限 {statutory} 个工作日")
        return case

    def _add_step(self, kind: StepKind, desk: str, status: StepStatus, now: dt.datetime, share_days: int = 0) -> Step:
        step = Step(id=str(uuid.uuid4()), kind=kind, desk=desk, seq=len(self.steps) + 1, status=status,
                    share_days=share_days, opened_at=now if status == StepStatus.OPEN else None)
        self.steps.append(step)
        self.new_steps.append(step)
        return step

    def terminate(self, reason: str, now: dt.datetime) -> bool:
        """The application was terminated at the window (容缺 materials not supplied by the promised
        date): the undecided case ends, its open work leaves the queues. False when there is nothing
        to end (already decided, or already terminated)."""
        if self.status not in OPEN_STATUSES:
            return False
        self.status = CaseStatus.TERMINATED
        for s in self.steps:
            if s.status != StepStatus.DONE:
                s.status = StepStatus.CANCELLED
                self._touch(s)
        self._history(now, "intake", "综合窗口", "终止办理", reason or "申请已在受理窗口终止办理")
        return True

    # -- claiming ----------------------------------------------------------------------------------
    def claim(self, step_id: str, actor: Actor, now: dt.datetime) -> Step:
        step = self.step(step_id)
        role = STEP_ROLE[step.kind]
        if step.kind == StepKind.WINDOW:
            raise FailedPrecondition("即办件由窗口首席代表直接当场决定，无需认领", field="step_id")
        actor.require(role)
        if step.status == StepStatus.CLAIMED and step.claimed_by == actor.username:
            return step                        # claiming what one holds changes nothing
        if not self.is_open:
            raise FailedPrecondition(f"办件当前状态为“{STATUS_NAMES[self.status]}”，不能认领", field="step_id")
        if step.status == StepStatus.WAITING:
            raise FailedPrecondition("审查尚未全部完成，决定环节尚未开放", field="step_id")
        if step.status == StepStatus.CLAIMED:
            raise FailedPrecondition(f"该环节已由 {step.claimed_by_name or step.claimed_by} 认领", field="step_id")
        if step.status == StepStatus.DONE:
            raise FailedPrecondition("该环节已办理完毕", field="step_id")
        if step.desk not in actor.desks:
            raise PermissionDenied(f"您未被分配到“{step.desk}”岗位，不能认领该岗位的办件")
        self._require_not_the_accepting_clerk(actor)
        if step.kind == StepKind.DECISION and actor.username in self.reviewers():
            raise PermissionDenied("同一办件的审核人与决定人不得为同一人（审批分离）")
        if step.kind in REVIEW_KINDS and any(s.kind == StepKind.DECISION and actor.username in (s.claimed_by, s.done_by)
                                             for s in self.steps):
            raise PermissionDenied("同一办件的审核人与决定人不得为同一人（审批分离）")
        step.status, step.claimed_by, step.claimed_by_name, step.claimed_at = (
            StepStatus.CLAIMED, actor.username, actor.name, now)
        self._touch(step)
        self._history(now, actor.username, actor.name, "认领", f"认领{STEP_NAMES[step.kind]}环节（{step.desk}）")
        return step

    def _require_not_the_accepting_clerk(self, actor: Actor) -> None:
        """受理、审查、决定既相互分离又相互制约 (seed 004): whoever accepted the case at the window may
        neither review nor decide it — a 即办件 included, which the chief representative decides only when
        someone else accepted it."""
        if self.accepted_by and actor.username == self.accepted_by:
            raise PermissionDenied("受理、审查、决定相互分离：您是该办件的受理人，不能审查或决定该办件")

    def release(self, step_id: str, actor: Actor, now: dt.datetime) -> Step:
        step = self.step(step_id)
        if step.status != StepStatus.CLAIMED or step.claimed_by != actor.username:
            raise FailedPrecondition("该环节未由您认领，无需放弃", field="step_id")
        step.status, step.claimed_by, step.claimed_by_name, step.claimed_at = StepStatus.OPEN, "", "", None
        self._touch(step)
        self._history(now, actor.username, actor.name, "放弃认领", f"退回{STEP_NAMES[step.kind]}队列（{step.desk}）")
        return step

    # -- review ------------------------------------------------------------------------------------
    def complete_review(self, step_id: str, actor: Actor, opinion: str, conclusion: str, now: dt.datetime,
                        today: dt.date, cal: WorkingCalendar) -> tuple[Step, bool, bool]:
        """(the step, whether it concluded late, whether every review is now done)."""
        step = self.step(step_id)
        if step.kind not in REVIEW_KINDS:
            raise InvalidArgument("step_id", "该环节不是审查环节")
        actor.require(Role.REVIEWER)
        if step.status != StepStatus.CLAIMED or step.claimed_by != actor.username:
            raise FailedPrecondition("该审查环节未由您认领，请先从待办队列认领", field="step_id")
        self._require_not_the_accepting_clerk(actor)
        opinion = (opinion or "").strip()
        if not opinion:
            raise InvalidArgument("opinion", "请填写审查意见")
        conclusion = (conclusion or "agree").strip()
        if conclusion not in CONCLUSIONS:
            raise InvalidArgument("conclusion", "审查结论应为 agree（同意）或 disagree（不同意）")
        self._require_not_suspended()
        pending = [i for i in self.inspections if i.status == InspectionStatus.SCHEDULED]
        if pending:
            raise FailedPrecondition(f"现场踏勘（{pending[0].scheduled_on.isoformat()}）尚未记录结果", field="step_id")
        late = False
        if step.kind == StepKind.DEPARTMENT:
            due = self.share_deadline(cal, step).due
            late = due is not None and today > due
        step.status, step.done_by, step.done_by_name, step.done_at, step.done_on = (
            StepStatus.DONE, actor.username, actor.name, now, today)
        step.opinion, step.conclusion = opinion, conclusion
        self._touch(step)
        where = f"（{step.desk}）" if step.kind == StepKind.DEPARTMENT else ""
        detail = f"{STEP_NAMES[step.kind]}{where}：{CONCLUSIONS[conclusion]}" + ("（超出部门时限）" if late else "")
        self._history(now, actor.username, actor.name, STEP_NAMES[step.kind], detail, opinion)
        all_done = all(s.status == StepStatus.DONE for s in self.steps if s.kind in REVIEW_KINDS)
        if all_done:
            for s in self.steps:
                if s.kind == StepKind.DECISION and s.status == StepStatus.WAITING:
                    s.status, s.opened_at = StepStatus.OPEN, now
                    self._touch(s)
            self.status = CaseStatus.DECISION
        return step, late, all_done

    # -- decision ----------------------------------------------------------------------------------
    def plan_decision(self, actor: Actor, outcome: str, reasons: Sequence[str], *, immediate: bool = False,
                      ) -> tuple[Outcome, tuple[str, ...]] | None:
        """Check a decision before anything is numbered: (outcome, reasons), or None when the same
        decider already made the same decision (a repeated submission records nothing new)."""
        if self.decision is not None:
            same = OUTCOMES.get((outcome or "").strip()) == self.decision.outcome
            if same and self.decision.decider == actor.username:
                return None
            raise FailedPrecondition(
                f"该办件已于 {self.decision.decided_on.isoformat()} 由 {self.decision.decider_name} 作出决定"
                f"（{OUTCOME_NAMES[self.decision.outcome]}），不能重复决定", field="case_id")
        if immediate:
            actor.require(Role.CHIEF_REPRESENTATIVE)
            if not self.immediate:
                raise FailedPrecondition("该事项不是即办件，须经审查后由决定人决定", field="case_id")
            self._require_running()
            self._require_not_the_accepting_clerk(actor)
        else:
            actor.require(Role.DECIDER)
            if self.immediate:
                raise FailedPrecondition("即办件由窗口首席代表当场决定", field="case_id")
            self._require_running()
            self._held(actor, StepKind.DECISION)
            self._require_not_the_accepting_clerk(actor)
            if actor.username in self.reviewers():
                raise PermissionDenied("同一办件的审核人与决定人不得为同一人（审批分离）")
        code = OUTCOMES.get((outcome or "").strip())
        if code is None:
            raise InvalidArgument("outcome", "决定结果应为 approve（准予）或 deny（不予）")
        clean = tuple(r.strip() for r in reasons if r and r.strip())
        if code == Outcome.DENIED and not clean:
            raise InvalidArgument("reasons", "作出不予许可决定须逐条写明理由")
        if len(clean) != len([r for r in reasons if r is not None]) and code == Outcome.DENIED:
            raise InvalidArgument("reasons", "不予许可的理由不能为空白")
        self._require_not_suspended()
        return code, clean

    def record_decision(self, actor: Actor, outcome: Outcome, reasons: tuple[str, ...], opinion: str, *,
                        now: dt.datetime, today: dt.date, document_number: str, seal: Seal | None,
                        remedies: str, immediate: bool = False) -> bool:
        """Write the decision (and, when approved, the certificate); True if the case is completed now."""
        opinion = (opinion or "").strip() or ("经审查，符合法定条件、标准，准予许可。" if outcome == Outcome.APPROVED
                                              else "经审查，不符合法定条件、标准，不予许可。")
        if outcome == Outcome.APPROVED and seal is None:
            raise FailedPrecondition("本单位尚未登记行政审批专用章，不能出具许可证件", field="seal")
        kind = StepKind.WINDOW if immediate else StepKind.DECISION
        step = next(s for s in self.steps if s.kind == kind)
        step.status, step.done_by, step.done_by_name, step.done_at, step.done_on = (
            StepStatus.DONE, actor.username, actor.name, now, today)
        if immediate:
            step.claimed_by, step.claimed_by_name, step.claimed_at = actor.username, actor.name, now
        step.opinion, step.conclusion = opinion, outcome
        self._touch(step)
        self.decision = DecisionRecord(outcome=outcome, decider=actor.username, decider_name=actor.name, at=now,
                                       decided_on=today, opinion=opinion, reasons=reasons,
                                       remedies=remedies if outcome == Outcome.DENIED else "",
                                       document_number=document_number, immediate=immediate)
        self.new_decision = True
        if outcome == Outcome.APPROVED and seal is not None:
            self.certificate = CertificateRecord(number=document_number, title=f"{self.item_name}准予许可决定书",
                                                 holder=self.applicant_name, seal_name=seal.name, seal_code=seal.code,
                                                 issued_at=now)
        detail = f"{OUTCOME_NAMES[outcome]}，文号 {document_number}"
        if reasons:
            detail += "；理由：" + "；".join(reasons)
        self._history(now, actor.username, actor.name, "窗口即办" if immediate else "决定", detail, opinion)
        if outcome == Outcome.APPROVED and self.has_fees and self.fees_settled_at is None:
            if self.settlement_on_record is not None:
                self.fees_settled_at = self.settlement_on_record
                self._history(now, "fees", "收费窗口", "收费结清", "决定作出前费用已缴清（或减免）")
                self._complete(now)
                return True
            self.status = CaseStatus.AWAITING_FEES
            self._history(now, "system", "系统", "待缴费", "该事项依法收费，缴清（或减免）后办结出件")
            return False
        self._complete(now)
        return True

    def written(self) -> None:
        """What was changed so far is written (the case row was just inserted): track changes anew."""
        self.new_steps.clear()
        self.dirty_steps.clear()
        self.new_ledger.clear()
        self.new_history.clear()
        self.new_inspections.clear()
        self.dirty_inspections.clear()
        self.new_decision = False

    # -- 秒批: decided at acceptance by a rule ------------------------------------------------------
    def auto_approval_verdict(self, cmd: OpenCase, today: dt.date) -> Verdict | None:
        """Seed 003 §28 (“推出一批‘秒批、秒办’事项 … 实现事项‘即来即办、即来即批’”): a 即办件 whose item names a
        rule is checked by it at acceptance. None when the item names none (or the case is no 即办件)."""
        if not cmd.auto_approval or not self.immediate or self.decision is not None:
            return None
        return evaluate(cmd.auto_approval, Facts(birth_date=cmd.applicant_birth_date,
                                                 natural_person=cmd.applicant_birth_date is not None), today)

    def decide_by_rule(self, verdict: Verdict, *, now: dt.datetime, today: dt.date, document_number: str,
                       seal: Seal | None) -> bool:
        """The rule decides the 即办件 (approve) — recorded as the decider with its version, in the history like a
        person's decision. When it does not hold, or no seal is registered, nothing is decided: the chief
        representative decides as for any 即办件. True when the case was decided (and completed or awaits fees)."""
        rule = Actor(verdict.rule_id, verdict.rule_id, frozenset())
        if not verdict.passed:
            self._history(now, verdict.rule_id, verdict.rule_id, "秒批未通过",
                          f"{verdict.explanation}；转窗口首席代表决定")
            return False
        if seal is None:
            self._history(now, verdict.rule_id, verdict.rule_id, "秒批未执行",
                          "本单位尚未登记行政审批专用章，不能出具许可证件；转窗口首席代表决定")
            return False
        self._require_running()
        self.record_decision(rule, Outcome.APPROVED, (), f"秒批：{verdict.explanation}，符合条件，准予许可。",
                             now=now, today=today, document_number=document_number, seal=seal, remedies="",
                             immediate=True)
        for h in self.new_history:                    # the rule's decision reads as what it is
            if h.actor == verdict.rule_id and h.action == "窗口即办":
                h.action = "秒批"
        return True

    def number_decision(self, number: str) -> None:
        """Put the document number on a decision just recorded (numbers are taken as late as possible)."""
        assert self.decision is not None
        old = self.decision.document_number
        self.decision = replace(self.decision, document_number=number)
        if self.certificate is not None:
            self.certificate = replace(self.certificate, number=number)
        for h in self.new_history:
            h.detail = h.detail.replace(old, number)

    def _complete(self, now: dt.datetime) -> None:
        self.status, self.completed_at = CaseStatus.COMPLETED, now
        self._history(now, "system", "系统", "办结", "办件已办结，待送达（出件）")

    # -- fees ------------------------------------------------------------------------------------
    def settle_fees(self, at: dt.datetime, now: dt.datetime, detail: str) -> bool:
        """`fees_settled` arrived; True if the case completes now (it was waiting for it)."""
        if self.fees_settled_at is not None:
            return False
        self.fees_settled_at = at
        self._history(now, "fees", "收费窗口", "收费结清", detail)
        if self.status == CaseStatus.AWAITING_FEES:
            self._complete(now)
            return True
        return False

    # -- delivery (送达) ---------------------------------------------------------------------------
    def deliver(self, actor: Actor, method: str, recipient: str, tracking: str, *, now: dt.datetime) -> None:
        actor.require(Role.WINDOW_CLERK, Role.CHIEF_REPRESENTATIVE)
        if self.status == CaseStatus.DELIVERED:
            raise FailedPrecondition("该办件已送达，不能重复送达", field="case_id")
        if self.status == CaseStatus.AWAITING_FEES:
            raise FailedPrecondition("费用尚未缴清（或减免），暂不能出件", field="case_id")
        if self.status != CaseStatus.COMPLETED:
            raise FailedPrecondition(f"办件当前状态为“{STATUS_NAMES[self.status]}”，尚未办结", field="case_id")
        if method not in DELIVERY_METHODS:
            raise InvalidArgument("method", "送达方式应为 window（综合窗口领取）、post（邮寄）或 village（代办点转交）")
        tracking = (tracking or "").strip()
        if method == "post" and not tracking:
            raise InvalidArgument("tracking_number", "邮寄送达须填写邮件号码")
        self.status, self.delivered_at, self.delivery_method = CaseStatus.DELIVERED, now, method
        self.delivered_by, self.delivery_recipient = actor.username, (recipient or "").strip()
        self.delivery_tracking = tracking
        self._history(now, actor.username, actor.name, "送达",
                      DELIVERY_METHODS[method] + (f"，邮件号 {tracking}" if tracking else ""))
