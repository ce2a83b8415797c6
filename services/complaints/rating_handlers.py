"""Rating use cases (好差评): ratings, their rectification (差评整改, 谁办理、谁负责) and appeals (申诉复核), and the
case read model they stand on (from intake's and approval's events).

A rating belongs to the RATED unit. The public rates a case (一事一评) with its number and the applicant's ID
suffix; the proof is found through a named RLS scope whose policy holds both (repository.CASE_PROOF), then the
rating is written in the rated unit's own transaction. An appeal belongs to the rated unit; its decision is
written by the supervising unit above in its own row (appeal_decisions), never into the unit's.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.complaints import domain as d
from services.complaints.commands import CaseAccepted, RatingInput, SubmitRating
from services.complaints.repository import (
    CASE_PROOF,
    AppealRow,
    ComplaintsRepository,
    RatingRow,
    RectificationRow,
)
from shared.calendar_store import CalendarCache
from shared.clock import Clock
from shared.db import Database, UnitOfWork
from shared.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.messaging import Envelope
from shared.tenancy import DivisionCode, Principal, Role
from shared.validation import page, uuid_field

log = logging.getLogger("sanji.complaints")

RATING_READERS = (Role.COMPLAINT_HANDLER, Role.TENANT_ADMIN, Role.HEAD, Role.SUPERVISOR)
RECTIFIERS = (Role.COMPLAINT_HANDLER, Role.TENANT_ADMIN, Role.HEAD)
SECOND_RATING = "该办件已通过此渠道评价过（一事一评，每个办件每个渠道只能评价一次）"


def _when(value: str, fallback: dt.datetime) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value) if value else fallback
    except ValueError:
        return fallback


class RatingHandlers:
    def __init__(self, db: Database, clock: Clock, events_out: Any, calendars: CalendarCache,
                 rules: Callable[[str], d.ComplaintRules] = d.rules_for):
        self.rules = rules          # tenant → its province's rules (ComplaintHandlers.rules: the province record)
        self.db = db
        self.clock = clock
        self.events_out = events_out
        self.calendars = calendars

    # -- the case read model (event consumers) --------------------------------------------------------
    def record_case_accepted(self, cmd: CaseAccepted, env: Envelope, uow: UnitOfWork) -> None:
        if not cmd.case_number:
            return
        ComplaintsRepository(uow).upsert_case_accepted(
            case_number=cmd.case_number, tenant=env.tenant, id_suffix=cmd.id_suffix.upper(), item_id=cmd.item_id,
            item_name=cmd.item_name, department=cmd.department, accepted_by=cmd.accepted_by,
            accepted_at=_when(cmd.accepted_at, self.clock.now()))

    def record_case_decided(self, case_number: str, decider: str, env: Envelope, uow: UnitOfWork) -> None:
        if case_number:
            ComplaintsRepository(uow).case_decided(case_number, env.tenant, decider)

    def record_case_completed(self, case_number: str, at: str, env: Envelope, uow: UnitOfWork) -> None:
        if case_number:
            ComplaintsRepository(uow).case_completed(case_number, env.tenant, _when(at, self.clock.now()))

    # -- rating ---------------------------------------------------------------------------------------
    def rate_case(self, case_number: str, id_suffix: str, r: RatingInput) -> RatingRow:
        """一事一评 from the QR code on the case's notices or the public progress page (case number + ID suffix)."""
        case_number = d.check_text(case_number, "case_number", "办件编号", max_len=64, required=True)
        suffix = d.check_id_suffix(id_suffix)
        level, indicators, text, name, phone = self._check_rating(r, d.RatingChannel.CASE)
        with self.db.unit_of_work() as uow:
            uow.widen(CASE_PROOF, case_number=case_number, suffix=suffix)
            row = ComplaintsRepository(uow).case(case_number)
        facts = None if row is None else d.CaseFacts(
            case_number=row.case_number, tenant=row.tenant_code, accepted=row.accepted_at is not None,
            id_suffix=row.id_suffix, item_id=row.item_id, item_name=row.item_name,
            handled_by=row.decided_by or row.accepted_by, department=row.department,
            completed=row.completed_at is not None)
        case = d.check_case_rating(facts, suffix)
        return self._add(case.tenant, d.RatingChannel.CASE, level, indicators, text, name, phone,
                         case_number=case.case_number, id_suffix=suffix, item_id=case.item_id,
                         item_name=case.item_name, staff=case.handled_by, department=case.department, rated_by="")

    def submit(self, p: Principal | None, cmd: SubmitRating) -> RatingRow:
        """一次一评 at the window (the clerk's screen opens it for the applicant in front of them), 综合点评 on a
        unit (anyone, no login), 监督查评 by supervision staff."""
        channel = d.parse(d.RatingChannel, cmd.channel, "channel", "评价渠道")
        level, indicators, text, name, phone = self._check_rating(cmd.rating, channel)
        case_number = d.check_text(cmd.case_number, "case_number", "办件编号", max_len=64)
        item_id = d.check_text(cmd.item_id, "item_id", "事项标识", max_len=64)
        staff = d.check_text(cmd.staff, "staff", "被评价的工作人员", max_len=d.MAX_SHORT)
        department = d.check_text(cmd.department, "department", "部门", max_len=d.MAX_SHORT)
        if channel == d.RatingChannel.CASE:
            raise InvalidArgument("channel", "一事一评请凭办件编号和身份证号码后 6 位评价")
        if channel == d.RatingChannel.WINDOW:
            if p is None:
                raise PermissionDenied("一次一评由窗口评价器发起，须窗口人员登录")
            p.require(Role.WINDOW_CLERK, Role.CHIEF_REPRESENTATIVE)
            tenant, staff, by = str(p.tenant), staff or p.username, p.username
        elif channel == d.RatingChannel.SUPERVISION:
            if p is None:
                raise PermissionDenied("监督查评须监察人员登录")
            p.require(Role.SUPERVISOR)
            tenant = str(DivisionCode.parse((cmd.tenant or "").strip() or str(p.tenant), "tenant"))
            if not tenant.startswith(str(p.tenant)):
                raise PermissionDenied("只能评价本单位及下级单位")
            by = p.username
        else:
            if not (cmd.tenant or "").strip():
                raise InvalidArgument("tenant", "请选择被点评的单位")
            tenant, by = str(DivisionCode.parse(cmd.tenant.strip(), "tenant")), (p.username if p else "")
            case_number = ""    # 综合点评 is about a unit, not a case
        return self._add(tenant, channel, level, indicators, text, name, phone, case_number=case_number,
                         id_suffix="", item_id=item_id, item_name="", staff=staff, department=department, rated_by=by)

    @staticmethod
    def _check_rating(r: RatingInput, channel: d.RatingChannel) -> tuple[int, dict, str, str, str]:
        level = d.check_level(r.level)
        indicators = d.check_indicators(dict(r.indicators), channel)
        text = d.check_text(r.text, "text", "评价内容", max_len=d.MAX_TEXT)
        name = d.check_text(r.rater_name, "rater_name", "评价人姓名", max_len=d.MAX_NAME)
        phone = d.check_phone(r.phone, "phone", required=False)
        return level, indicators, text, name, phone

    def _add(self, tenant: str, channel: d.RatingChannel, level: int, indicators: dict, text: str, name: str,
             phone: str, *, case_number: str, id_suffix: str, item_id: str, item_name: str, staff: str,
             department: str, rated_by: str) -> RatingRow:
        now = self.clock.now()
        rating_id = str(uuid.uuid4())
        try:
            with self.db.unit_of_work(tenant=tenant) as uow:
                repo = ComplaintsRepository(uow)
                if case_number and repo.case_rating(case_number, str(channel)) is not None:
                    raise AlreadyExists(SECOND_RATING, field="case_number")
                repo.add_rating(id=rating_id, tenant_code=tenant, channel=str(channel), level=level,
                                case_number=case_number, id_suffix=id_suffix, item_id=item_id, item_name=item_name,
                                staff=staff, department=department, indicators=indicators, text=text, rater_name=name,
                                rater_phone=phone, rated_by=rated_by, created_at=now)
                repo.count_figure(tenant, item_id, level, 1, 1,
                                  real_name_bad=int(d.is_bad(level) and d.visit_required(bool(name))))
                row = repo.rating(rating_id)
                uow.emit(self.events_out.rating_submitted(row), correlation_id=case_number or rating_id)
                if d.is_bad(level):
                    self._open_rectification(uow, repo, row, now)
                row = repo.rating(rating_id)
                uow.commit()
        except IntegrityError:
            raise AlreadyExists(SECOND_RATING, field="case_number") from None
        return row

    def _open_rectification(self, uow: UnitOfWork, repo: ComplaintsRepository, rating: RatingRow,
                            now: dt.datetime) -> None:
        """差评 → a rectification ticket for the unit and the staff member who handled the case, due in N working
        days (per province, default 15); a real-name 差评 gets a return visit."""
        due, trace = d.rectification_due(self.calendars.get(rating.tenant_code), now.date(),
                                         self.rules(rating.tenant_code))
        rid = str(uuid.uuid4())
        repo.add_rectification(id=rid, tenant_code=rating.tenant_code, rating_id=rating.id, staff=rating.staff,
                               case_number=rating.case_number, id_suffix=rating.id_suffix, status="open", due_on=due,
                               due_trace=trace, visit_required=d.visit_required(bool(rating.rater_name)),
                               created_at=now)
        uow.emit(self.events_out.rectification_due(repo.rectification(rid), now),
                 correlation_id=rating.case_number or rating.id)

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, p: Principal, rating_id: str) -> RatingRow:
        p.require(*RATING_READERS)
        rating_id = uuid_field(rating_id, "rating_id", "评价标识")
        with self.db.unit_of_work(p) as uow:
            row = ComplaintsRepository(uow).rating(rating_id)
        if row is None:
            raise NotFound("评价不存在或无权查看")
        return row

    def list(self, p: Principal, bad_only: bool, limit: int, offset: int) -> tuple[list[RatingRow], int]:
        p.require(*RATING_READERS)
        limit, offset = page(limit, offset)
        with self.db.unit_of_work(p) as uow:
            return ComplaintsRepository(uow).list_ratings(bad_only, limit, offset)

    @staticmethod
    def rater_visible(p: Principal, r: RatingRow) -> bool:
        """The rater's name and phone: as a complainant's (never to the staff member rated)."""
        return d.identity_visible(p, r.tenant_code, r.staff)

    def public_figures(self, item_id: str, unit: str) -> tuple[str, str, list[int], tuple[int, int]]:
        item_id = d.check_text(item_id, "item_id", "事项标识", max_len=64)
        unit = d.check_text(unit, "unit", "单位", max_len=12)
        if bool(item_id) == bool(unit):
            raise InvalidArgument("item_id", "请指明事项（item_id）或单位（unit）之一")
        if unit:
            if len(unit) not in (6, 9, 12):
                raise InvalidArgument("unit", "单位应为县、乡镇（街道）或村（社区）的区划代码")
            unit = str(DivisionCode.parse(unit, "unit"))
        with self.db.unit_of_work() as uow:
            repo = ComplaintsRepository(uow)
            return item_id, unit, repo.figures(item_id=item_id, unit=unit), repo.visit_figures(item_id=item_id,
                                                                                                unit=unit)

    # -- rectification ------------------------------------------------------------------------------------
    def list_rectifications(self, p: Principal, status: str) -> list[RectificationRow]:
        p.require(*RATING_READERS)
        if status:
            status = str(d.parse(d.RectificationStatus, status, "status", "整改状态"))
        with self.db.unit_of_work(p) as uow:
            return ComplaintsRepository(uow).list_rectifications(status)

    def get_rectification(self, p: Principal, rectification_id: str) -> RectificationRow:
        p.require(*RATING_READERS)
        rectification_id = uuid_field(rectification_id, "rectification_id", "整改单标识")
        with self.db.unit_of_work(p) as uow:
            row = ComplaintsRepository(uow).rectification(rectification_id)
        if row is None:
            raise NotFound("整改单不存在或无权查看")
        return row

    def _own_rectification(self, repo: ComplaintsRepository, p: Principal, rectification_id: str) -> RectificationRow:
        rectification_id = uuid_field(rectification_id, "rectification_id", "整改单标识")
        row = repo.rectification(rectification_id, lock=True)
        if row is None:
            raise NotFound("整改单不存在或无权查看")
        if row.tenant_code != str(p.tenant):
            raise PermissionDenied("只能整改本单位的差评")
        return row

    def rectify(self, p: Principal, rectification_id: str, verification: str, measures: str,
                answer: str) -> RectificationRow:
        """核实、整改、反馈: what was verified, what was done, and the answer to the rater."""
        p.require(*RECTIFIERS)
        verification = d.check_text(verification, "verification", "核实情况", max_len=d.MAX_CONTENT, required=True)
        measures = d.check_text(measures, "measures", "整改措施", max_len=d.MAX_CONTENT, required=True)
        answer = d.check_text(answer, "answer", "反馈评价人的答复", max_len=d.MAX_CONTENT, required=True)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._own_rectification(repo, p, rectification_id)
            if row.status != "open":
                raise FailedPrecondition("该差评已整改反馈", field="rectification_id")
            repo.update_rectification(row.id, status="answered", verification=verification, measures=measures,
                                      answer=answer, answered_at=now, answered_by=p.username)
            row = repo.rectification(row.id)
            uow.emit(self.events_out.rectification_done(row, now, now.date() > row.due_on),
                     correlation_id=row.case_number or row.rating_id)
            uow.commit()
        return row

    def record_visit(self, p: Principal, rectification_id: str, method: str, result: str) -> RectificationRow:
        """The return visit of a real-name 差评 (100 %)."""
        p.require(*RECTIFIERS)
        m = d.parse(d.VisitMethod, method, "method", "回访方式")
        result = d.check_text(result, "result", "回访情况", max_len=d.MAX_TEXT, required=True)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._own_rectification(repo, p, rectification_id)
            d.check_may_visit(d.RectificationStatus(row.status), row.visited_at is not None)
            repo.update_rectification(row.id, visit_method=str(m), visited_at=now, visit_result=result)
            row = repo.rectification(row.id)
            if row.visit_required:
                rating = repo.rating(row.rating_id)
                repo.count_visit(rating.tenant_code, rating.item_id, rating.level)
            uow.commit()
        return row

    def rate_rectification(self, case_number: str, id_suffix: str, satisfaction: str,
                           comment: str) -> RectificationRow:
        """The rater rates the rectification of their 差评 (满意 / 基本满意 / 不满意), with the same proof."""
        case_number = d.check_text(case_number, "case_number", "办件编号", max_len=64, required=True)
        suffix = d.check_id_suffix(id_suffix)
        s = d.parse(d.Satisfaction, satisfaction, "satisfaction", "满意度")
        comment = d.check_text(comment, "comment", "评价意见", max_len=d.MAX_TEXT)
        with self.db.unit_of_work() as uow:
            uow.widen(CASE_PROOF, case_number=case_number, suffix=suffix)
            rating = ComplaintsRepository(uow).case_rating(case_number)
        if rating is None:
            raise InvalidArgument("case_number", "办件编号与身份证号码后 6 位不匹配，或该办件没有评价")
        now = self.clock.now()
        with self.db.unit_of_work(tenant=rating.tenant_code) as uow:
            repo = ComplaintsRepository(uow)
            row = repo.rectification_of_rating(rating.id)
            if row is None:
                raise FailedPrecondition("该评价不是差评，没有整改可评价", field="case_number")
            row = repo.rectification(row.id, lock=True)
            d.check_may_rate_rectification(d.RectificationStatus(row.status), row.visit_required,
                                           row.visited_at is not None)
            repo.update_rectification(row.id, status="rated", satisfaction=str(s), rated_at=now,
                                      visit_result=row.visit_result or comment)
            row = repo.rectification(row.id)
            uow.emit(self.events_out.rectification_rated(row, now), correlation_id=case_number)
            uow.commit()
        return row

    # -- appeals (申诉复核) -------------------------------------------------------------------------------
    def appeal(self, p: Principal, rating_id: str, reason: str, evidence: str) -> AppealRow:
        """The rated unit appeals a rating it believes mistaken or malicious, with evidence."""
        p.require(Role.TENANT_ADMIN, Role.HEAD)
        rating_id = uuid_field(rating_id, "rating_id", "评价标识")
        reason = d.check_text(reason, "reason", "申诉理由", max_len=d.MAX_CONTENT, required=True)
        evidence = d.check_text(evidence, "evidence", "申诉证据", max_len=d.MAX_CONTENT, required=True)
        now = self.clock.now()
        appeal_id = str(uuid.uuid4())
        try:
            with self.db.unit_of_work(p) as uow:
                repo = ComplaintsRepository(uow)
                rating = repo.rating(rating_id)
                if rating is None:
                    raise NotFound("评价不存在或无权查看", field="rating_id")
                if rating.tenant_code != str(p.tenant):
                    raise PermissionDenied("只能对本单位收到的评价申诉")
                if not d.is_bad(rating.level):
                    raise FailedPrecondition("只能对差评申诉复核", field="rating_id")
                if rating.appeal_status != "none":
                    raise AlreadyExists("该评价已申诉过", field="rating_id")
                repo.add_appeal(id=appeal_id, tenant_code=rating.tenant_code, rating_id=rating.id, reason=reason,
                                evidence=evidence, filed_by=p.username, filed_at=now)
                row = repo.appeal(appeal_id)
                uow.commit()
        except IntegrityError:
            raise AlreadyExists("该评价已申诉过", field="rating_id") from None
        return row

    def decide_appeal(self, p: Principal, appeal_id: str, upheld: bool, note: str) -> AppealRow:
        """A supervisor of a level above decides; upheld: the rating stays in the record, out of the figures."""
        p.require(Role.SUPERVISOR)
        appeal_id = uuid_field(appeal_id, "appeal_id", "申诉标识")
        note = d.check_text(note, "note", "复核意见", max_len=d.MAX_CONTENT, required=True)
        now = self.clock.now()
        try:
            with self.db.unit_of_work(p) as uow:
                repo = ComplaintsRepository(uow)
                appeal = repo.appeal(appeal_id)
                if appeal is None:
                    raise NotFound("申诉不存在或无权查看", field="appeal_id")
                d.check_appeal_decider(p, appeal.tenant_code)
                if appeal.upheld is not None:
                    raise AlreadyExists("该申诉已复核", field="appeal_id")
                rating = repo.rating(appeal.rating_id)
                repo.add_decision(appeal_id=appeal.id, tenant_code=str(p.tenant), rated_tenant=appeal.tenant_code,
                                  rating_id=appeal.rating_id, upheld=upheld, note=note, decided_by=p.username,
                                  decided_at=now)
                if upheld and rating is not None:
                    repo.count_figure(rating.tenant_code, rating.item_id, rating.level, 0, -1)
                row = repo.appeal(appeal.id)
                uow.emit(self.events_out.appeal_decided(row), tenant=appeal.tenant_code,
                         correlation_id=rating.case_number if rating else appeal.rating_id)
                uow.commit()
        except IntegrityError:
            raise AlreadyExists("该申诉已复核", field="appeal_id") from None
        return row

    def list_appeals(self, p: Principal, pending_only: bool) -> list[AppealRow]:
        p.require(Role.TENANT_ADMIN, Role.HEAD, Role.SUPERVISOR)
        with self.db.unit_of_work(p) as uow:
            return ComplaintsRepository(uow).list_appeals(pending_only)
