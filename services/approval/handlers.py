"""Approval use cases. Each takes a command, runs it in one unit of work, records its events.

Commands lock the case row first and change it through the domain aggregate; the computed deadline's
cache columns are refreshed in the same transaction. Work started by an event (a case opened on
`application_accepted`, fees settled on `fees_settled`) runs in the consumer's unit of work, bound
to the envelope's tenant, with the inbox row in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sanji.approval.v1 import events_pb2 as ev

from services.approval import domain
from services.approval.domain import Actor, Case, OpenCase, Projection, Seal
from services.approval.repository import ApprovalRepository, OpenCaseRow, QueueRow
from services.approval.translate import deadline_pb, open_command_from_event, parse_settled_at
from shared.calendar import CalendarYear, DeadlineResult, WorkingCalendar
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import CHINA_TZ, Clock
from shared.db import Database, UnitOfWork
from shared.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from shared.messaging import Envelope, PoisonMessage
from shared.tenancy import DivisionCode, Principal, Role
from shared.validation import page, uuid_field

log = logging.getLogger("sanji.approval")
# where the number will stand until it is taken (unique per case: decisions' numbers are unique per tenant)
_PENDING_NUMBER = "{{{{document_number:{case}}}}}"
REPROJECT_CHUNK = 10_000
CATEGORY_CACHE_SECONDS = 300.0
STAFF_ROLES = (Role.REVIEWER, Role.DECIDER, Role.HEAD, Role.CHIEF_REPRESENTATIVE, Role.WINDOW_CLERK,
               Role.SUPERVISOR, Role.TENANT_ADMIN)
QUEUE_KINDS = {Role.REVIEWER: (domain.S_REVIEW, domain.S_DEPARTMENT), Role.DECIDER: (domain.S_DECISION,)}


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
    history: list = field(default_factory=list)
    changes: list = field(default_factory=list)
    full: bool = False


@dataclass
class ReprojectionReport:
    cause: str
    tenants: list[str]
    examined: int = 0
    changed: int = 0
    provisional: int = 0




def _iso(v) -> str:
    return v.isoformat() if v else ""


class ApprovalHandlers:
    def __init__(self, db: Database, clock: Clock, *, calendars: CalendarCache | None = None):
        self.db = db
        self.clock = clock
        self.calendars = calendars or CalendarCache(CalendarStore(db.engine, db.schema), ttl=60.0)
        self._category_names: dict[str, str] | None = None
        self._categories: dict[tuple[str, str, str], tuple[float, str]] = {}   # the mapping rules, cached

    # -- helpers -----------------------------------------------------------------------------------
    def _today_now(self) -> tuple[dt.date, dt.datetime]:
        """Today in Beijing (deadlines count local days) and the moment, from the platform's clock."""
        return self.clock.today(), self.clock.now()

    def category_names(self) -> dict[str, str]:
        if self._category_names is None:
            with self.db.unit_of_work() as uow:
                self._category_names = dict(ApprovalRepository(uow).categories())
        return self._category_names

    def desk_name(self, desk: str) -> str:
        if desk == domain.WINDOW_DESK:
            return "综合窗口"
        return self.category_names().get(desk, desk)

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
            if s.kind == domain.S_DEPARTMENT:
                due = case.share_deadline(cal, s).due
                done = s.done_on if s.status == domain.DONE else None
                late = due is not None and ((done or today) > due)
                shares[s.id] = (due, late)
        late_depts = case.late_departments(cal, today)
        view = CaseView(case=case, promised=case.promised_deadline(cal), statutory=case.statutory_deadline(cal),
                        delivery=case.delivery_deadline(cal), late=case.is_late(cal, today),
                        late_departments=late_depts, share_dues=shares,
                        category_name=self.category_names().get(case.category, case.category), full=full)
        if full and repo is not None:
            view.history = repo.history(case.id)
            view.changes = repo.deadline_changes(case.id)
        return view

    def _save(self, repo: ApprovalRepository, case: Case) -> Projection:
        proj = case.projection(self.calendars.get(case.tenant))
        repo.save(case, proj)
        return proj

    def _number(self, repo: ApprovalRepository, tenant: str, kind: str, year: int) -> str:
        return repo.next_number(tenant, kind, year)

    # -- events in -----------------------------------------------------------------------------------
    def on_application_accepted(self, env: Envelope, uow: UnitOfWork) -> None:
        """Open the case (立案) — once per application, however often the event arrives."""
        body = env.body
        if body.get("tenant") and body["tenant"] != env.tenant:
            raise PoisonMessage(f"body tenant {body['tenant']!r} differs from the envelope's {env.tenant!r}")
        try:
            cmd = open_command_from_event(body, env.correlation_id)
            cmd.validate()
        except InvalidArgument as exc:
            raise PoisonMessage(f"application_accepted unusable: {exc}") from None
        self.open_case(uow, env.tenant, cmd)

    def open_case(self, uow: UnitOfWork, tenant: str, cmd: OpenCase) -> Case | None:
        repo = ApprovalRepository(uow)
        _, now = self._today_now()
        key = (tenant, cmd.department, cmd.item_type)
        hit = self._categories.get(key)
        if hit is None or time.monotonic() - hit[0] > CATEGORY_CACHE_SECONDS:
            hit = self._categories[key] = (time.monotonic(), repo.category_for(*key))
        category = hit[1]
        case = Case.open(cmd, case_id=str(uuid.uuid4()), tenant=tenant, category=category, now=now)
        cal = self.calendars.get(tenant)
        if not repo.insert_case(case, case.projection(cal)):
            return None                                     # this application already has its case
        uow.emit(ev.CaseOpened(
            case_id=case.id, case_number=case.case_number, tenant=tenant, application_id=case.application_id,
            item_id=case.item_id, item_version=case.item_version, category=category, has_fees=case.has_fees,
            joint=case.joint, promised=deadline_pb(case.promised_deadline(cal)),
            statutory=deadline_pb(case.statutory_deadline(cal)), item_name=case.item_name, immediate=case.immediate,
            joint_departments=list(case.joint_departments), applicant_name=case.applicant_name,
            opened_at=now.isoformat()), correlation_id=case.case_number)
        return case

    def on_application_terminated(self, env: Envelope, uow: UnitOfWork) -> None:
        """intake terminated the application (容缺 promise broken): an undecided case ends with it."""
        body = env.body
        number = str(body.get("case_number") or "")
        if not number:
            raise PoisonMessage("application_terminated without a case number")
        if body.get("tenant") and body["tenant"] != env.tenant:
            raise PoisonMessage(f"body tenant {body['tenant']!r} differs from the envelope's {env.tenant!r}")
        _, now = self._today_now()
        repo = ApprovalRepository(uow)
        case = repo.load(case_number=number)
        if case is None or case.tenant != env.tenant:
            log.warning("application_terminated %s for case %s unknown here", env.event_id, number)
            return
        reason = str(body.get("reason") or "")
        if not case.terminate(reason, now):
            log.info("case %s is %s: termination %s changes nothing", number, case.status, env.event_id)
            return
        self._save(repo, case)
        uow.emit(ev.CaseTerminated(case_id=case.id, case_number=case.case_number, tenant=case.tenant,
                                   reason=reason, at=now.isoformat()), correlation_id=case.case_number)

    def on_fees_settled(self, env: Envelope, uow: UnitOfWork) -> None:
        """Record the settlement (even before the case or its decision exists) and complete a case
        that was waiting for it."""
        body = env.body
        number = str(body.get("case_number") or env.correlation_id or "")
        if not number:
            raise PoisonMessage("fees_settled without a case number")
        try:
            settled_at = parse_settled_at(body.get("at", ""))
        except InvalidArgument as exc:
            raise PoisonMessage(str(exc)) from None
        _, now = self._today_now()
        settled_at = settled_at or now
        repo = ApprovalRepository(uow)
        paid, waived = int(body.get("paid_fen", 0) or 0), int(body.get("waived_fen", 0) or 0)
        repo.record_settlement(env.tenant, number, paid, waived, bool(body.get("waived_in_full")), settled_at,
                               env.event_id)
        case = repo.load(case_number=number)
        if case is None or case.tenant != env.tenant:
            return                                          # honoured when the case is decided
        detail = (f"费用已{'全额减免' if body.get('waived_in_full') else '缴清'}：实缴 {paid / 100:.2f} 元"
                  + (f"，减免 {waived / 100:.2f} 元" if waived else ""))
        completed = case.settle_fees(settled_at, now, detail)
        self._save(repo, case)
        if completed:
            self._emit_completed(uow, case)

    def _emit_completed(self, uow: UnitOfWork, case: Case) -> None:
        today, _ = self._today_now()
        uow.emit(self._completed_event(case, self.calendars.get(case.tenant), today), correlation_id=case.case_number)

    def _completed_event(self, case: Case, cal: WorkingCalendar, today: dt.date) -> ev.CaseCompleted:
        delivery = case.delivery_deadline(cal)
        return ev.CaseCompleted(
            case_id=case.id, case_number=case.case_number, tenant=case.tenant, at=_iso(case.completed_at),
            late=case.is_late(cal, today), outcome=case.decision.outcome if case.decision else "",
            fees_settled=case.fees_settled_at is not None,
            delivery=deadline_pb(delivery, trace=False) if delivery else None)

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
                   ) -> tuple[list[CaseView], int]:
        p.require(*STAFF_ROLES)
        if status and status not in domain.STATUS_NAMES:
            raise InvalidArgument("status", f"状态应为：{'、'.join(domain.STATUS_NAMES)}")
        limit, offset = page(limit, offset)
        today, _ = self._today_now()
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            ids, total = repo.list_cases(str(p.tenant), status, today if overdue_only else None, limit, offset)
            views = [self._view(c, today=today) for c in (repo.load(case_id=i, lock=False) for i in ids) if c]
        return views, total

    def list_queue(self, p: Principal, desk: str, kind: str, mine: bool, limit: int,
                   offset: int) -> tuple[list[QueueRow], int]:
        p.require(Role.REVIEWER, Role.DECIDER)
        limit, offset = page(limit, offset)
        kinds = self._kinds_for(p, kind)
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            desks = repo.desks_of(str(p.tenant), p.username)
            if desk:
                if desk not in desks:
                    raise PermissionDenied(f"您未被分配到“{desk}”岗位")
                desks = {desk}
            return repo.queue(str(p.tenant), sorted(desks), kinds, p.username if mine else None, limit, offset)

    def _kinds_for(self, p: Principal, kind: str) -> list[str]:
        allowed = [k for role, ks in QUEUE_KINDS.items() if p.has(role) for k in ks]
        if kind:
            if kind not in domain.STEP_ROLE or kind == domain.S_WINDOW:
                raise InvalidArgument("kind", "环节应为 review、department_review 或 decision")
            if kind not in allowed:
                raise PermissionDenied(f"当前用户没有所需角色（{domain.STEP_ROLE[kind].label}）")
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
            uow.emit(ev.ReviewCompleted(
                case_id=case.id, case_number=case.case_number, tenant=case.tenant, reviewer=p.username,
                opinion=step.opinion, at=now.isoformat(),
                department=step.desk if step.kind == domain.S_DEPARTMENT else "", conclusion=step.conclusion,
                late=late, all_concluded=all_done), correlation_id=case.case_number)
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
            kind = "XK" if code == domain.APPROVED else "BY"
            placeholder = _PENDING_NUMBER.format(case=case.id)
            completed = case.record_decision(
                actor, code, clean, opinion, now=now, today=today, document_number=placeholder,
                seal=case.seal, remedies=domain.remedies_text(reconsideration_body, court), immediate=immediate)
            cal = self.calendars.get(case.tenant)
            proj = case.projection(cal)
            delivery = case.delivery_deadline(cal)
            late, late_departments = case.is_late(cal, today), case.late_departments(cal, today)
            decided = ev.CaseDecided(
                case_id=case.id, case_number=case.case_number, tenant=case.tenant, outcome=code,
                decider=p.username, at=now.isoformat(), has_fees=case.has_fees, item_id=case.item_id,
                item_version=case.item_version, government_invested=case.government_invested,
                key_project=case.key_project, applicant_name=case.applicant_name, reasons=list(clean), late=late,
                late_departments=late_departments, immediate=immediate, fee_codes=list(case.fee_codes),
                delivery=deadline_pb(delivery) if delivery else None)
            decided.document_number = placeholder
            uow.emit(decided, correlation_id=case.case_number)
            if case.certificate is not None:
                c = case.certificate
                uow.emit(ev.CertificateIssued(
                    case_id=case.id, case_number=case.case_number, tenant=case.tenant, certificate_number=c.number,
                    at=now.isoformat(), seal_name=c.seal_name, title=c.title, holder=c.holder),
                    correlation_id=case.case_number)
            if completed:
                uow.emit(self._completed_event(case, cal, today), correlation_id=case.case_number)
            # The number is the tenant's next of the year, without gaps: its counter row stays locked until
            # commit. So everything is written first with a placeholder (unique to the case), and the last
            # statement takes the number and puts it in their place, sent together with the COMMIT.
            repo.save(case, proj)
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
            notice = self._number(repo, case.tenant, "TZ", today.year)   # rolled back if refused
            entry = case.suspend(Actor.of(p), procedure, reason, days, today=today, now=now, notice_number=notice)
            self._save(repo, case)
            uow.emit(ev.ClockSuspended(
                case_id=case.id, case_number=case.case_number, tenant=case.tenant, procedure=entry.procedure,
                reason=entry.reason, days=entry.days, at=now.isoformat(),
                procedure_name=domain.PROCEDURES[entry.procedure], suspended_on=today.isoformat(),
                notice_number=entry.notice_number), correlation_id=case.case_number)
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
            uow.emit(ev.ClockResumed(
                case_id=case.id, case_number=case.case_number, tenant=case.tenant, at=now.isoformat(),
                promised=deadline_pb(case.promised_deadline(cal)), statutory=deadline_pb(case.statutory_deadline(cal)),
                resumed_on=_iso(entry.on_date), paused_working_days=paused), correlation_id=case.case_number)
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
            uow.emit(ev.DeadlineExtended(
                case_id=case.id, case_number=case.case_number, tenant=case.tenant, days=entry.days,
                approved_by=p.username, reason=entry.reason, statutory=deadline_pb(case.statutory_deadline(cal))),
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
            notice = self._number(repo, case.tenant, "TZ", today.year) if suspends else ""
            insp = case.request_inspection(Actor.of(p), mode, list(departments), day, inspectors, note, today=today,
                                           now=now, notice_number=notice, cal=cal)
            self._save(repo, case)
            uow.emit(ev.InspectionRequested(
                case_id=case.id, case_number=case.case_number, tenant=case.tenant, inspection_id=insp.id,
                mode=insp.mode, departments=list(insp.departments), scheduled_on=day.isoformat(),
                suspends_clock=bool(insp.suspension_id), at=now.isoformat()), correlation_id=case.case_number)
            if insp.suspension_id:
                entry = next(e for e in case.ledger if e.id == insp.suspension_id)
                uow.emit(ev.ClockSuspended(
                    case_id=case.id, case_number=case.case_number, tenant=case.tenant, procedure=entry.procedure,
                    reason=entry.reason, days=entry.days, at=now.isoformat(),
                    procedure_name=domain.PROCEDURES[entry.procedure], suspended_on=today.isoformat(),
                    notice_number=entry.notice_number), correlation_id=case.case_number)
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
            resumed_before = len([e for e in case.ledger if e.kind == domain.RESUME])
            insp = case.record_inspection(Actor.of(p), inspection_id, findings, conclusion, today=today, now=now,
                                          cal=cal)
            self._save(repo, case)
            uow.emit(ev.InspectionRecorded(
                case_id=case.id, case_number=case.case_number, tenant=case.tenant, inspection_id=insp.id,
                conclusion=insp.conclusion, findings=insp.findings, at=now.isoformat()),
                correlation_id=case.case_number)
            if len([e for e in case.ledger if e.kind == domain.RESUME]) > resumed_before:
                uow.emit(ev.ClockResumed(
                    case_id=case.id, case_number=case.case_number, tenant=case.tenant, at=now.isoformat(),
                    promised=deadline_pb(case.promised_deadline(cal)),
                    statutory=deadline_pb(case.statutory_deadline(cal)), resumed_on=today.isoformat()),
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
        uow.emit(ev.CaseDelivered(case_id=case.id, case_number=case.case_number, tenant=case.tenant,
                                  method=case.delivery_method, at=now.isoformat(), late=late,
                                  tracking_number=case.delivery_tracking), correlation_id=case.case_number)

    def on_result_picked_up(self, env: Envelope, uow: UnitOfWork) -> None:
        """intake's 出件 (result_picked_up) is the delivery (送达) of the completed case: recorded once,
        by the clerk who handed it out, on the day it happened."""
        body = env.body
        number = str(body.get("case_number") or "")
        if not number:
            raise PoisonMessage("result_picked_up without a case number")
        if body.get("tenant") and body["tenant"] != env.tenant:
            raise PoisonMessage(f"body tenant {body['tenant']!r} differs from the envelope's {env.tenant!r}")
        try:
            at = dt.datetime.fromisoformat(body["picked_up_at"]) if body.get("picked_up_at") else None
        except ValueError:
            raise PoisonMessage(f"picked_up_at is not an ISO 8601 time: {body['picked_up_at']!r}") from None
        today, now = self._today_now()
        at = at or now
        repo = ApprovalRepository(uow)
        case = repo.load(case_number=number)
        if case is None or case.tenant != env.tenant:
            log.warning("result_picked_up %s for case %s unknown here", env.event_id, number)
            return
        if case.status != domain.COMPLETED:
            log.info("case %s is %s: hand-out %s not recorded as delivery", number, case.status, env.event_id)
            return
        clerk = str(body.get("recorded_by") or "system")
        actor = Actor(clerk, clerk, frozenset({str(Role.WINDOW_CLERK)}))
        case.deliver(actor, str(body.get("channel") or "window"), str(body.get("picked_up_by") or ""),
                     str(body.get("tracking_number") or ""), now=at)
        self._delivered(uow, repo, case, at.astimezone(CHINA_TZ).date(), at)

    # -- administration ------------------------------------------------------------------------------
    def assign_desks(self, p: Principal, username: str, desks: Sequence[str], display_name: str) -> list[str]:
        p.require(Role.TENANT_ADMIN)
        username = (username or "").strip()
        if not username:
            raise InvalidArgument("username", "请填写工作人员账号")
        clean = sorted({d.strip() for d in desks if d and d.strip()})
        for i, d in enumerate(clean):
            if len(d) > 100:
                raise InvalidArgument(f"desks[{i}]", "岗位名称过长")
        with self.db.unit_of_work(p, subtree=False) as uow:
            ApprovalRepository(uow).assign_desks(str(p.tenant), username, clean, display_name.strip(),
                                                         p.username)
            uow.commit()
        return clean

    def list_desks(self, p: Principal) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
        p.require(*STAFF_ROLES)
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            mine = sorted(repo.desks_of(str(p.tenant), p.username))
            everyone = repo.desk_assignments(str(p.tenant)) if p.has(Role.TENANT_ADMIN) else []
        return everyone, mine

    def register_seal(self, p: Principal, name: str, code: str) -> tuple[Seal, dt.datetime, str]:
        p.require(Role.TENANT_ADMIN)
        name, code = (name or "").strip(), (code or "").strip()
        if not name:
            raise InvalidArgument("name", "请填写印章名称（如：××县行政审批局行政审批专用章）")
        if not code:
            raise InvalidArgument("code", "请填写印章编码")
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            if not repo.register_seal(str(p.tenant), Seal(name, code), p.username):
                raise AlreadyExists("本单位已登记行政审批专用章（一枚印章管审批），不能再登记第二枚", field="name")
            found = repo.seal(str(p.tenant))
            uow.commit()
        assert found is not None
        return found

    def get_seal(self, p: Principal) -> tuple[Seal, dt.datetime, str]:
        p.require(*STAFF_ROLES)
        with self.db.unit_of_work(p, subtree=False) as uow:
            found = ApprovalRepository(uow).seal(str(p.tenant))
        if found is None:
            raise NotFound("本单位尚未登记行政审批专用章")
        return found

    def categories(self) -> list[tuple[str, str]]:
        return list(self.category_names().items())

    # -- the calendar and re-projection --------------------------------------------------------------
    def publish_calendar_year(self, p: Principal, year: int, holidays: dict[str, str], makeup: dict[str, str],
                              region: str, reason: str) -> ReprojectionReport:
        p.require(Role.TENANT_ADMIN)
        region = (region or "").strip() or str(p.tenant)
        code = DivisionCode.parse(region, "region")
        if not p.tenant.contains(code):
            raise PermissionDenied("只能为本单位及下级单位发布工作日历")
        cy = CalendarYear(year=year, holidays=holidays, makeup_workdays=makeup)
        if not cy.holidays:
            raise InvalidArgument("holidays", "请填写该年的法定节假日")
        self.calendars.store.publish(cy, str(code), by=p.username)
        self.calendars.invalidate()
        why = (reason or "").strip()
        cause = f"{year} 年节假日安排发布（{p.display_name or p.username}）" + (f"：{why}" if why else "")
        return self.reproject(str(code), cause)

    def reproject_mine(self, p: Principal, cause: str) -> ReprojectionReport:
        p.require(Role.TENANT_ADMIN)
        self.calendars.invalidate()
        text_ = (cause or "").strip() or f"工作日历更新（{p.display_name or p.username}）"
        return self.reproject(str(p.tenant), text_)

    def reproject(self, region: str, cause: str) -> ReprojectionReport:
        """Recompute the due dates of every open case under `region` on the current calendar; record
        each change on its case and publish it. Runs per tenant, in chunks, as machine work."""
        with self.db.unit_of_work(tenant=region, subtree=True) as uow:
            tenants = ApprovalRepository(uow).tenants_with_open_cases(region)
        report = ReprojectionReport(cause=cause, tenants=tenants)
        _, now = self._today_now()
        for tenant in tenants:
            cal = self.calendars.store.load(tenant)
            after = "00000000-0000-0000-0000-000000000000"
            while True:
                with self.db.unit_of_work(tenant=tenant) as uow:
                    repo = ApprovalRepository(uow)
                    rows = repo.open_cases(tenant, after, REPROJECT_CHUNK)
                    if not rows:
                        break
                    changes = _changes(cal, rows)
                    repo.apply_projections(tenant, changes, cause)
                    for row, proj in changes:
                        uow.emit(_reprojected(row, proj, tenant, cause, now), correlation_id=row.case_number)
                    uow.commit()
                report.examined += len(rows)
                report.changed += len(changes)
                report.provisional += sum(1 for _, proj in changes if proj.provisional)
                after = rows[-1].id
                if len(rows) < REPROJECT_CHUNK:
                    break
        return report

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
            title = f"{domain.OUTCOME_NAMES[case.decision.outcome]}决定书"
            return render_decision(case), f"{title}-{case.case_number}.pdf", title
        if kind == "suspension_notice":
            entries = [e for e in case.ledger if e.kind == domain.SUSPEND]
            if ledger_id:
                entries = [e for e in entries if e.id == ledger_id]
            if not entries:
                raise NotFound("该办件没有暂停计时的记录")
            entry = entries[-1]
            title = "特别程序（暂停计时）告知书"
            return (render_suspension_notice(case, entry, view.promised, view.statutory),
                    f"{title}-{entry.notice_number}.pdf", title)
        raise InvalidArgument("kind", "文书类型应为 certificate、decision 或 suspension_notice")


def _changes(cal: WorkingCalendar, rows: list[OpenCaseRow]) -> list[tuple[OpenCaseRow, Projection]]:
    out = []
    for r in rows:
        proj = domain.project(cal, r.accepted_on, r.promised_days, r.statutory_total,
                              domain.pauses_from_pairs(r.pauses), r.decided_on)
        if (proj.promised_due, proj.statutory_due, proj.delivery_due, proj.provisional) != (
                r.promised_due, r.statutory_due, r.delivery_due, r.provisional):
            out.append((r, proj))
    return out


def _reprojected(row: OpenCaseRow, proj: Projection, tenant: str, cause: str, now: dt.datetime):
    from sanji.common.v1 import common_pb2

    def dl(start: dt.date, days: int, due: dt.date | None) -> common_pb2.Deadline:
        return common_pb2.Deadline(start=start.isoformat(), working_days=days, due=_iso(due),
                                   provisional=proj.provisional)

    return ev.DueDateReprojected(
        case_id=row.id, case_number=row.case_number, tenant=tenant, cause=cause,
        previous_promised_due=_iso(row.promised_due), previous_statutory_due=_iso(row.statutory_due),
        promised=dl(row.accepted_on, row.promised_days, proj.promised_due),
        statutory=dl(row.accepted_on, row.statutory_total, proj.statutory_due), at=now.isoformat(),
        previous_delivery_due=_iso(row.delivery_due), delivery_due=_iso(proj.delivery_due))
