"""Approval use cases on a case. Each takes a command, runs it in one unit of work, records its events.

Commands lock the case row first and change it through the domain aggregate (`case.Case`); the computed
deadline's cache columns are refreshed in the same transaction. Work started by an event (a case opened on
`application_accepted`, fees settled on `fees_settled` …) runs in the consumer's unit of work, bound to
the envelope's tenant, with the inbox row in the same transaction; it gets the event as a command
(translated by `translate.py` from the message the consumer read). Every date and time comes from the
platform's clock. The tenant admin's set-up — desks, the seal, the working calendar and the re-projection
a calendar change sets off — is in `administration.py`.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.approval.case import Case
from services.approval.categories import SharedState
from services.approval.deadlines import Projection
from services.approval.domain import (
    DEFAULT_JOINT_SHARE,
    OUTCOME_NAMES,
    STAFF_ROLES,
    STATUS_NAMES,
    STEP_ROLE,
    Actor,
    CaseStatus,
    DeadlineChange,
    HistoryEntry,
    LedgerKind,
    OpenCase,
    Outcome,
    RecordPickUp,
    SettleFees,
    StepKind,
    StepStatus,
    TerminateCase,
    remedies_text,
)
from services.approval.repository import (
    CASES_TOTAL_CAP,
    QUEUE_TOTAL_CAP,
    ApprovalRepository,
    QueueRow,
    queue_page,
)
from shared.calendar import DeadlineResult, WorkingCalendar
from shared.clock import CHINA_TZ
from shared.db import UnitOfWork
from shared.errors import InvalidArgument, NotFound, PermissionDenied
from shared.messaging import Envelope, PoisonMessage
from shared.tenancy import Principal, Role
from shared.validation import page, uuid_field

log = logging.getLogger("sanji.approval")
# where the number will stand until it is taken (unique per case: decisions' numbers are unique per tenant)
_PENDING_NUMBER = "{{{{document_number:{case}}}}}"
QUEUE_KINDS = {Role.REVIEWER: (StepKind.REVIEW, StepKind.DEPARTMENT), Role.DECIDER: (StepKind.DECISION,)}


@dataclass
class CaseView:
    """A case with its computed deadlines (and, for GetCase, its history and re-projections)."""

    case: Case
    promised: DeadlineResult
    statutory: DeadlineResult
    delivery: DeadlineResult | None
    late: bool
    late_departments: list[str]
    share_dues: dict[str, tuple[dt.date | None, bool]]
    category_name: str
    history: list[HistoryEntry] = field(default_factory=list)
    changes: list[DeadlineChange] = field(default_factory=list)
    full: bool = False


class CaseNotOpenedYet(RuntimeError):
    """An event about a case this service has not opened yet (its application_accepted still on the way):
    the consumer tries it again later."""


class ApprovalHandlers(SharedState):
    """`events_out` builds the messages of the events the use cases record (`translate.EventsOut`, given by
    the composition root); the handlers compute what goes in them. `calendars` and `categories` are shared
    with the administration's handlers, so a calendar published there is the one the cases count on."""

    # -- helpers -----------------------------------------------------------------------------------
    def _today_now(self) -> tuple[dt.date, dt.datetime]:
        """Today in Beijing (deadlines count local days) and the moment, from the platform's clock."""
        return self.clock.today(), self.clock.now()

    def _actor(self, repo: ApprovalRepository, p: Principal) -> Actor:
        return Actor.of(p, repo.desks_of(str(p.tenant), p.username))

    def _load_own(self, repo: ApprovalRepository, p: Principal, case_id: str) -> Case:
        case = repo.load(case_id=uuid_field(case_id, "case_id", "办件标识"))
        if case is None or case.tenant != str(p.tenant):
            raise NotFound("办件不存在或无权查看")
        return case

    def _load_by_step(self, repo: ApprovalRepository, p: Principal, step_id: str,
                      with_desks: bool = False) -> tuple[Case, set[str]]:
        """The case of a step, its row locked — and, for claims, the caller's desks (one statement)."""
        found = repo.lock(step_id=uuid_field(step_id, "step_id", "环节标识"),
                          desks_of=p.username if with_desks else None)
        case = repo.read(case_id=found[0]) if found else None
        if case is None or case.tenant != str(p.tenant):
            raise NotFound("办理环节不存在或无权查看")
        return case, found[1]

    def _view(self, case: Case, *, today: dt.date, full: bool = False, repo: ApprovalRepository | None = None,
              ) -> CaseView:
        cal = self.calendars.get(case.tenant)
        shares = {}
        for s in case.steps:
            if s.kind == StepKind.DEPARTMENT:
                due = case.share_deadline(cal, s).due
                done = s.done_on if s.status == StepStatus.DONE else None
                late = due is not None and ((done or today) > due)
                shares[s.id] = (due, late)
        late_depts = case.late_departments(cal, today)
        view = CaseView(case=case, promised=case.promised_deadline(cal), statutory=case.statutory_deadline(cal),
                        delivery=case.delivery_deadline(cal), late=case.is_late(cal, today),
                        late_departments=late_depts, share_dues=shares,
                        category_name=self.categories.name(case.category), full=full)
        if full and repo is not None:
            view.history = repo.history(case.id)
            view.changes = repo.deadline_changes(case.id)
        return view

    def _save(self, repo: ApprovalRepository, case: Case) -> Projection:
        proj = case.projection(self.calendars.get(case.tenant))
        repo.save(case, proj, self.clock.now())
        return proj

    # -- events in -----------------------------------------------------------------------------------
    def on_application_accepted(self, cmd: OpenCase, env: Envelope, uow: UnitOfWork) -> None:
        """Open the case (立案) — once per application, however often the event arrives."""
        try:
            cmd.validate()
        except InvalidArgument as exc:
            raise PoisonMessage(f"application_accepted unusable: {exc}") from None
        self.open_case(uow, env.tenant, cmd)

    def open_case(self, uow: UnitOfWork, tenant: str, cmd: OpenCase) -> Case | None:
        repo = ApprovalRepository(uow)
        _, now = self._today_now()
        category = self.categories.for_case(uow, tenant, cmd.department, cmd.item_type)
        share = repo.joint_share_policy(tenant[:2]) if cmd.joint else DEFAULT_JOINT_SHARE
        case = Case.open(cmd, case_id=str(uuid.uuid4()), tenant=tenant, category=category, now=now,
                         share_policy=share)
        cal = self.calendars.get(tenant)
        if not repo.insert_case(case, case.projection(cal)):
            return None                                     # this application already has its case
        uow.emit(self.events_out.case_opened(case, case.promised_deadline(cal), case.statutory_deadline(cal), now),
                 correlation_id=case.case_number)
        self._decide_by_rule(repo, uow, case, cmd, cal)
        return case

    def _decide_by_rule(self, repo: ApprovalRepository, uow: UnitOfWork, case: Case, cmd: OpenCase,
                        cal: WorkingCalendar) -> None:
        """秒批: a 即办件 whose item names a rule is decided at acceptance by it, in the case's opening transaction;
        the decision names the rule and its version as the decider, as a person's would name them."""
        today, now = self._today_now()
        verdict = case.auto_approval_verdict(cmd, today)
        if verdict is None:
            return
        case.written()
        found = repo.seal(case.tenant)
        number = repo.next_number(case.tenant, "XK", today.year) if verdict.passed and found else ""
        if case.decide_by_rule(verdict, now=now, today=today, document_number=number,
                               seal=found[0] if found else None):
            uow.emit(self.events_out.case_decided(case, verdict.rule_id, (), False, [], case.delivery_deadline(cal),
                                                  immediate=True, now=now), correlation_id=case.case_number)
            if case.certificate is not None:
                uow.emit(self.events_out.certificate_issued(case, case.certificate, now),
                         correlation_id=case.case_number)
            if case.status == CaseStatus.COMPLETED:
                uow.emit(self._completed(case, cal, today), correlation_id=case.case_number)
        repo.save(case, case.projection(cal), now)

    def on_application_terminated(self, cmd: TerminateCase, env: Envelope, uow: UnitOfWork) -> None:
        """intake terminated the application (容缺 promise broken): an undecided case ends with it."""
        _, now = self._today_now()
        repo = ApprovalRepository(uow)
        case = repo.load(case_number=cmd.case_number)
        if case is None:
            # application_accepted and application_terminated come through two queues: the termination may
            # come first (issue 20 item 2). It waits on the retry schedule for the case to be opened, and is
            # parked, visible, if it never is — never dropped, or the case would open later and stay open
            raise CaseNotOpenedYet(f"application_terminated {env.event_id}: case {cmd.case_number} not opened yet")
        if case.tenant != env.tenant:
            log.warning("application_terminated %s for case %s unknown here", env.event_id, cmd.case_number)
            return
        if not case.terminate(cmd.reason, now):
            log.info("case %s is %s: termination %s changes nothing", cmd.case_number, case.status, env.event_id)
            return
        self._save(repo, case)
        uow.emit(self.events_out.case_terminated(case, cmd.reason, now), correlation_id=case.case_number)

    def on_fees_settled(self, cmd: SettleFees, env: Envelope, uow: UnitOfWork) -> None:
        """Record the settlement (even before the case or its decision exists) and complete a case
        that was waiting for it."""
        _, now = self._today_now()
        settled_at = cmd.settled_at or now
        repo = ApprovalRepository(uow)
        repo.record_settlement(env.tenant, cmd.case_number, cmd.paid_fen, cmd.waived_fen, cmd.waived_in_full,
                               settled_at, env.event_id, now)
        case = repo.load(case_number=cmd.case_number)
        if case is None or case.tenant != env.tenant:
            return                                          # honoured when the case is decided
        detail = (f"费用已{'全额减免' if cmd.waived_in_full else '缴清'}：实缴 {cmd.paid_fen / 100:.2f} 元"
                  + (f"，减免 {cmd.waived_fen / 100:.2f} 元" if cmd.waived_fen else ""))
        completed = case.settle_fees(settled_at, now, detail)
        self._save(repo, case)
        if completed:
            today, _ = self._today_now()
            uow.emit(self._completed(case, self.calendars.get(case.tenant), today), correlation_id=case.case_number)

    def _completed(self, case: Case, cal: WorkingCalendar, today: dt.date) -> Any:
        return self.events_out.case_completed(case, case.is_late(cal, today), case.delivery_deadline(cal))

    def on_result_picked_up(self, cmd: RecordPickUp, env: Envelope, uow: UnitOfWork) -> None:
        """intake's 出件 (result_picked_up) is the delivery (送达) of the completed case: recorded once,
        by the clerk who handed it out, on the day it happened."""
        _, now = self._today_now()
        at = cmd.picked_up_at or now
        repo = ApprovalRepository(uow)
        case = repo.load(case_number=cmd.case_number)
        if case is None or case.tenant != env.tenant:
            log.warning("result_picked_up %s for case %s unknown here", env.event_id, cmd.case_number)
            return
        if case.status != CaseStatus.COMPLETED:
            log.info("case %s is %s: hand-out %s not recorded as delivery", cmd.case_number, case.status,
                     env.event_id)
            return
        actor = Actor(cmd.recorded_by, cmd.recorded_by, frozenset({str(Role.WINDOW_CLERK)}))
        case.deliver(actor, cmd.channel, cmd.picked_up_by, cmd.tracking_number, now=at)
        self._delivered(uow, repo, case, at.astimezone(CHINA_TZ).date(), at)

    # -- reading -------------------------------------------------------------------------------------
    def get_case(self, p: Principal, case_id: str = "", case_number: str = "") -> CaseView:
        p.require(*STAFF_ROLES)
        if not case_id and not case_number:
            raise InvalidArgument("case_id", "请提供办件标识或办件编号")
        today, _ = self._today_now()
        with self.db.unit_of_work(p) as uow:
            repo = ApprovalRepository(uow)
            if case_id:
                case = repo.load(case_id=uuid_field(case_id, "case_id", "办件标识"), lock=False)
            else:
                case = repo.load(case_number=case_number.strip(), lock=False)
            if case is None:
                raise NotFound("办件不存在或无权查看")
            return self._view(case, today=today, full=True, repo=repo)

    def list_cases(self, p: Principal, status: str, overdue_only: bool, limit: int, offset: int,
                   ) -> tuple[list[CaseView], int, bool]:
        """A page of the unit's cases, their number counted up to CASES_TOTAL_CAP, and whether there are more."""
        p.require(*STAFF_ROLES)
        if status and status not in STATUS_NAMES:
            raise InvalidArgument("status", f"状态应为：{'、'.join(STATUS_NAMES)}")
        limit, offset = page(limit, offset)
        today, _ = self._today_now()
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            cases, counted = repo.list_cases(str(p.tenant), status, today if overdue_only else None, limit, offset)
            views = [self._view(c, today=today) for c in cases]
        return views, min(counted, CASES_TOTAL_CAP), counted > CASES_TOTAL_CAP

    def list_queue(self, p: Principal, desk: str, kind: str, mine: bool, limit: int,
                   offset: int) -> tuple[list[QueueRow], int, bool]:
        """A page of the queue, its length counted up to QUEUE_TOTAL_CAP, and whether it is longer."""
        p.require(Role.REVIEWER, Role.DECIDER)
        limit, offset = page(limit, offset)
        kinds = self._kinds_for(p, kind)
        # the person's desks, the page and its count in one statement: a desk asked for that is not theirs reads
        # nothing, and is refused here
        rows, counted, desks = queue_page(self.db, p, desk, kinds, mine, limit, offset)
        if desk and desk not in desks:
            raise PermissionDenied(f"您未被分配到“{desk}”岗位")
        return rows, min(counted, QUEUE_TOTAL_CAP), counted > QUEUE_TOTAL_CAP

    def _kinds_for(self, p: Principal, kind: str) -> list[str]:
        allowed = [k for role, ks in QUEUE_KINDS.items() if p.has(role) for k in ks]
        if kind:
            if kind not in STEP_ROLE or kind == StepKind.WINDOW:
                raise InvalidArgument("kind", "环节应为 review、department_review 或 decision")
            if kind not in allowed:
                raise PermissionDenied(f"当前用户没有所需角色（{STEP_ROLE[kind].label}）")
            return [kind]
        return allowed

    # -- claiming ------------------------------------------------------------------------------------
    def claim(self, p: Principal, step_id: str, desk: str, kind: str) -> tuple[Case, str, Projection]:
        p.require(Role.REVIEWER, Role.DECIDER)
        _, now = self._today_now()
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            if step_id:
                step_id = uuid_field(step_id, "step_id", "环节标识")
                case, desks = self._load_by_step(repo, p, step_id, with_desks=True)
                actor = Actor.of(p, desks)
            else:
                actor = self._actor(repo, p)
                kinds = self._kinds_for(p, kind)
                if desk and desk not in actor.desks:
                    raise PermissionDenied(f"您未被分配到“{desk}”岗位")
                found = repo.next_in_queue(str(p.tenant), sorted({desk} if desk else actor.desks), kinds, p.username)
                if found is None:
                    raise NotFound("待办队列中暂无可认领的办件")
                case_id, step_id = found                     # its row is locked already
                case = repo.read(case_id=case_id)
                assert case is not None
            case.claim(step_id, actor, now)
            proj = self._save(repo, case)
            uow.emit(self.events_out.step_claimed(case, case.step(step_id), now), correlation_id=case.case_number)
            uow.commit()
        return case, step_id, proj

    def release(self, p: Principal, step_id: str) -> tuple[Case, str, Projection]:
        _, now = self._today_now()
        step_id = uuid_field(step_id, "step_id", "环节标识")
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            case, _ = self._load_by_step(repo, p, step_id)
            case.release(step_id, Actor.of(p), now)
            proj = self._save(repo, case)
            uow.emit(self.events_out.step_released(case, case.step(step_id), p.username, now),
                     correlation_id=case.case_number)
            uow.commit()
        return case, step_id, proj

    # -- review --------------------------------------------------------------------------------------
    def complete_review(self, p: Principal, step_id: str, opinion: str, conclusion: str) -> CaseView:
        today, now = self._today_now()
        step_id = uuid_field(step_id, "step_id", "环节标识")
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            case, _ = self._load_by_step(repo, p, step_id)
            cal = self.calendars.get(case.tenant)
            step, late, all_done = case.complete_review(step_id, Actor.of(p), opinion, conclusion, now, today, cal)
            self._save(repo, case)
            uow.emit(self.events_out.review_completed(case, step, p.username, late, all_done, now),
                     correlation_id=case.case_number)
            uow.commit()
            return self._view(case, today=today)

    # -- decision ------------------------------------------------------------------------------------
    def decide(self, p: Principal, case_id: str, outcome: str, opinion: str, reasons: Sequence[str],
               reconsideration_body: str = "", court: str = "", *, immediate: bool = False) -> CaseView:
        """Decide (决定): approve → certificate with the tenant's seal; deny → reasons and remedies."""
        today, now = self._today_now()
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            case = self._load_own(repo, p, case_id)
            actor = Actor.of(p)
            plan = case.plan_decision(actor, outcome, list(reasons), immediate=immediate)
            if plan is None:                                # the same decision again: nothing new
                return self._view(case, today=today)
            code, clean = plan
            kind = "XK" if code == Outcome.APPROVED else "BY"
            placeholder = _PENDING_NUMBER.format(case=case.id)
            completed = case.record_decision(
                actor, code, clean, opinion, now=now, today=today, document_number=placeholder,
                seal=case.seal, remedies=remedies_text(reconsideration_body, court), immediate=immediate)
            cal = self.calendars.get(case.tenant)
            proj = case.projection(cal)
            delivery = case.delivery_deadline(cal)
            late, late_departments = case.is_late(cal, today), case.late_departments(cal, today)
            uow.emit(self.events_out.case_decided(case, p.username, clean, late, late_departments, delivery,
                                                  immediate=immediate, now=now), correlation_id=case.case_number)
            if case.certificate is not None:
                uow.emit(self.events_out.certificate_issued(case, case.certificate, now),
                         correlation_id=case.case_number)
            if completed:
                uow.emit(self._completed(case, cal, today), correlation_id=case.case_number)
            # The number is the tenant's next of the year, without gaps: its counter row stays locked until
            # commit. So everything is written first with a placeholder (unique to the case), and the last
            # statement takes the number and puts it in their place, sent together with the COMMIT.
            repo.save(case, proj, now)
            events = uow.pending_event_ids()     # written by the commit, before the numbering statement
            number = uow.commit_with_last(*repo.numbering(case, kind, today.year, placeholder, events))[0]
            case.number_decision(number)
        return self._view(case, today=today)

    # -- the ledger ----------------------------------------------------------------------------------
    def suspend(self, p: Principal, case_id: str, procedure: str, reason: str, days: int) -> CaseView:
        today, now = self._today_now()
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            case = self._load_own(repo, p, case_id)
            notice = repo.next_number(case.tenant, "TZ", today.year)   # rolled back if refused
            entry = case.suspend(Actor.of(p), procedure, reason, days, today=today, now=now, notice_number=notice)
            self._save(repo, case)
            uow.emit(self.events_out.clock_suspended(case, entry, today, now), correlation_id=case.case_number)
            uow.commit()
            return self._view(case, today=today)

    def resume(self, p: Principal, case_id: str, reason: str) -> CaseView:
        today, now = self._today_now()
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            case = self._load_own(repo, p, case_id)
            cal = self.calendars.get(case.tenant)
            entry, paused = case.resume(Actor.of(p), reason, today=today, now=now, cal=cal)
            self._save(repo, case)
            uow.emit(self.events_out.clock_resumed(case, case.promised_deadline(cal), case.statutory_deadline(cal),
                                                   entry.on_date, now, paused), correlation_id=case.case_number)
            uow.commit()
            return self._view(case, today=today)

    def extend(self, p: Principal, case_id: str, days: int, reason: str) -> CaseView:
        today, now = self._today_now()
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            case = self._load_own(repo, p, case_id)
            entry = case.extend(Actor.of(p), days, reason, today=today, now=now)
            self._save(repo, case)
            cal = self.calendars.get(case.tenant)
            uow.emit(self.events_out.deadline_extended(case, entry, p.username, case.statutory_deadline(cal),
                                                       case.promised_deadline(cal), now),
                     correlation_id=case.case_number)
            uow.commit()
            return self._view(case, today=today)

    # -- site inspection -----------------------------------------------------------------------------
    def request_inspection(self, p: Principal, case_id: str, mode: str, departments: Sequence[str],
                           scheduled_on: str, inspectors: str, note: str) -> CaseView:
        today, now = self._today_now()
        try:
            day = dt.date.fromisoformat((scheduled_on or "").strip())
        except ValueError:
            raise InvalidArgument("scheduled_on", "请填写踏勘日期（YYYY-MM-DD）") from None
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            case = self._load_own(repo, p, case_id)
            cal = self.calendars.get(case.tenant)
            suspends = case.site_inspection == "suspends" and case.open_suspension() is None
            notice = repo.next_number(case.tenant, "TZ", today.year) if suspends else ""
            insp = case.request_inspection(Actor.of(p), mode, list(departments), day, inspectors, note, today=today,
                                           now=now, notice_number=notice, cal=cal)
            self._save(repo, case)
            uow.emit(self.events_out.inspection_requested(case, insp, now), correlation_id=case.case_number)
            if insp.suspension_id:
                entry = next(e for e in case.ledger if e.id == insp.suspension_id)
                uow.emit(self.events_out.clock_suspended(case, entry, today, now), correlation_id=case.case_number)
            uow.commit()
            return self._view(case, today=today)

    def record_inspection(self, p: Principal, case_id: str, inspection_id: str, findings: str,
                          conclusion: str) -> CaseView:
        today, now = self._today_now()
        inspection_id = uuid_field(inspection_id, "inspection_id", "踏勘记录标识")
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            case = self._load_own(repo, p, case_id)
            cal = self.calendars.get(case.tenant)
            resumed_before = len([e for e in case.ledger if e.kind == LedgerKind.RESUME])
            insp = case.record_inspection(Actor.of(p), inspection_id, findings, conclusion, today=today, now=now,
                                          cal=cal)
            self._save(repo, case)
            uow.emit(self.events_out.inspection_recorded(case, insp, now), correlation_id=case.case_number)
            if len([e for e in case.ledger if e.kind == LedgerKind.RESUME]) > resumed_before:
                uow.emit(self.events_out.clock_resumed(case, case.promised_deadline(cal),
                                                       case.statutory_deadline(cal), today, now),
                         correlation_id=case.case_number)
            uow.commit()
            return self._view(case, today=today)

    # -- delivery ------------------------------------------------------------------------------------
    def deliver(self, p: Principal, case_id: str, method: str, recipient: str, tracking: str) -> CaseView:
        today, now = self._today_now()
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            case = self._load_own(repo, p, case_id)
            case.deliver(Actor.of(p), (method or "").strip(), recipient, tracking, now=now)
            self._delivered(uow, repo, case, today, now)
            uow.commit()
            return self._view(case, today=today)

    def _delivered(self, uow: UnitOfWork, repo: ApprovalRepository, case: Case, today: dt.date,
                   now: dt.datetime) -> None:
        self._save(repo, case)
        due = case.delivery_deadline(self.calendars.get(case.tenant))
        late = bool(due and due.due and today > due.due)
        uow.emit(self.events_out.case_delivered(case, late, now), correlation_id=case.case_number)

    # -- documents -----------------------------------------------------------------------------------
    def document(self, p: Principal, case_id: str, kind: str, ledger_id: str) -> tuple[bytes, str, str]:
        from services.approval.documents import render_certificate, render_decision, render_suspension_notice

        view = self.get_case(p, case_id=case_id)
        case = view.case
        if kind == "certificate":
            if case.certificate is None or case.decision is None:
                raise NotFound("该办件没有许可证件（未作出准予许可决定）")
            return render_certificate(case), f"{case.certificate.title}-{case.case_number}.pdf", case.certificate.title
        if kind == "decision":
            if case.decision is None:
                raise NotFound("该办件尚未作出决定")
            title = f"{OUTCOME_NAMES[case.decision.outcome]}决定书"
            return render_decision(case), f"{title}-{case.case_number}.pdf", title
        if kind == "suspension_notice":
            entries = [e for e in case.ledger if e.kind == LedgerKind.SUSPEND]
            if ledger_id:
                entries = [e for e in entries if e.id == ledger_id]
            if not entries:
                raise NotFound("该办件没有暂停计时的记录")
            entry = entries[-1]
            title = "特别程序（暂停计时）告知书"
            return (render_suspension_notice(case, entry, view.promised, view.statutory),
                    f"{title}-{entry.notice_number}.pdf", title)
        raise InvalidArgument("kind", "文书类型应为 certificate、decision 或 suspension_notice")
