"""Complaint use cases (投诉 · 吐槽找茬). Each takes a command, runs it in one unit of work, records its events.

Ownership: a complaint belongs to the HANDLING unit — the level above the unit complained about (domain.
handling_unit). Whoever receives it (a hall's window, a village agent, the public page, the 12345 hotline) files
it into that unit's transaction (`db.unit_of_work(tenant=handling)`), stamped with who filed it
(`filed_by_tenant`, which row-level security lets read it back). A second 不满意 escalates it: the complaint is
marked escalated here, and the level above opens its own from the `complaint_escalated` event in its own
transaction (`open_escalated`), so no transaction ever writes two units' rows.

Ratings (好差评), their rectification and appeals are in rating_handlers.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from services.complaints import domain as d
from services.complaints import signing
from services.complaints.commands import Escalation, FileComplaint
from services.complaints.repository import FOLLOW_UP, ComplaintRow, ComplaintsRepository
from services.complaints.units import ProvinceRules, UnitDirectory
from shared.calendar import CalendarYear
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.db import Database, UnitOfWork
from shared.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.messaging import Envelope, PoisonMessage
from shared.tenancy import Principal, Role
from shared.validation import page, uuid_field

log = logging.getLogger("sanji.complaints")

NOT_FOUND = "投诉不存在或无权查看"
# who reads complaints: the handling unit's handlers, its admin and head, supervision, and the village agent
# for what it filed (row-level security narrows each to its rows)
READERS = (Role.COMPLAINT_HANDLER, Role.TENANT_ADMIN, Role.HEAD, Role.SUPERVISOR, Role.AGENT)
# who files at a hall's 吐槽找茬 window
HALL = (Role.WINDOW_CLERK, Role.COMPLAINT_HANDLER, Role.CHIEF_REPRESENTATIVE, Role.TENANT_ADMIN)
WORKERS = (Role.COMPLAINT_HANDLER, Role.TENANT_ADMIN, Role.HEAD)


class ComplaintHandlers:
    def __init__(self, db: Database, clock: Clock, events_out: Any, *, calendars: CalendarCache | None = None,
                 public_base_url: str = "http://127.0.0.1:8000", hotline: signing.Verifier | None = None,
                 hotline_skew: dt.timedelta = dt.timedelta(minutes=5), units: UnitDirectory | None = None):
        self.hotline = hotline
        self.units = units          # None: every level above is taken to be on the platform
        self.rules = ProvinceRules(units)   # the province's record over the defaults (issue 23)
        self.hotline_skew = hotline_skew
        self.db = db
        self.clock = clock
        self.events_out = events_out
        self.calendars = calendars or CalendarCache(CalendarStore(db.engine, db.schema))
        self.public_base_url = public_base_url.rstrip("/")

    # -- filing --------------------------------------------------------------------------------------
    def file(self, p: Principal, cmd: FileComplaint) -> ComplaintRow:
        """Staff record a complaint: the hall's 吐槽找茬 window, or a village agent for a resident."""
        channel = d.parse(d.Channel, cmd.channel, "channel", "登记渠道")
        if channel == d.Channel.HALL:
            p.require(*HALL)
        elif channel == d.Channel.AGENT:
            p.require(Role.AGENT)
        else:
            raise InvalidArgument("channel", "工作人员登记的渠道应为 hall（吐槽找茬窗口）或 agent（代办员代为登记）")
        subject = d.check_subject(cmd.subject)
        if subject.tenant[:6] != str(p.tenant)[:6]:
            raise InvalidArgument("subject.tenant", "只能登记本县范围内单位的投诉")
        return self._file(cmd, channel, filed_by_tenant=str(p.tenant), filed_by=p.username)

    def file_public(self, cmd: FileComplaint) -> ComplaintRow:
        """The public page, without login (举报 may be anonymous)."""
        return self._file(cmd, d.Channel.PUBLIC, filed_by_tenant="", filed_by="")

    def hand_over_from_hotline(self, fields: dict[str, str], signature: str) -> ComplaintRow:
        """The 12345 hotline hands a complaint over, signed (signing.py); no user token."""
        if self.hotline is None:
            raise FailedPrecondition("本系统未配置 12345 热线的验签公钥")
        f = signing.check_hand_over(self.hotline, fields, signature, self.clock.now(), self.hotline_skew)
        anonymous = f.get("anonymous", "").strip().lower() in ("1", "true", "yes")
        return self.file_from_hotline(FileComplaint(
            channel="hotline", kind=f.get("kind", ""), category=f.get("category", ""), content=f.get("content", ""),
            subject=d.Subject(tenant=f.get("subject_tenant", ""), department=f.get("subject_department", ""),
                              staff=f.get("subject_staff", "")),
            complainant=d.Complainant(name=f.get("complainant_name", ""), phone=f.get("complainant_phone", ""),
                                      anonymous=anonymous),
            external_id=f"12345:{f['handover_id'].strip()[:100]}"))

    def file_from_hotline(self, cmd: FileComplaint) -> ComplaintRow:
        """A verified hand-over: idempotent by its hand-over id (a retry answers the same receipt)."""
        if cmd.external_id:
            with self.db.unit_of_work(tenant=d.handling_unit(d.check_subject(cmd.subject).tenant)) as uow:
                existing = ComplaintsRepository(uow).find_external(cmd.external_id)
            if existing is not None:
                return existing
        try:
            return self._file(cmd, d.Channel.HOTLINE, filed_by_tenant="", filed_by="12345")
        except IntegrityError:
            with self.db.unit_of_work(tenant=d.handling_unit(cmd.subject.tenant)) as uow:
                existing = ComplaintsRepository(uow).find_external(cmd.external_id or "")
            if existing is None:
                raise
            return existing

    def _file(self, cmd: FileComplaint, channel: d.Channel, *, filed_by_tenant: str, filed_by: str) -> ComplaintRow:
        kind = d.parse(d.Kind, cmd.kind, "kind", "类型（complaint 投诉 / report 举报）", default="complaint")
        category = d.check_category(cmd.category)
        content = d.check_text(cmd.content, "content", "投诉内容", max_len=d.MAX_CONTENT, required=True)
        subject = d.check_subject(cmd.subject)
        who = d.check_complainant(cmd.complainant, kind)
        lead = d.check_text(cmd.lead_department, "lead_department", "牵头部门", max_len=d.MAX_SHORT)
        co = [d.check_text(x, f"co_departments[{i}]", "协办部门", max_len=d.MAX_SHORT, required=True)
              for i, x in enumerate(cmd.co_departments)]
        if co and not lead:
            raise InvalidArgument("lead_department", "涉及多个部门的，须指定牵头部门")
        if len(co) > 20:
            raise InvalidArgument("co_departments", "协办部门最多 20 个")
        handling = d.handling_unit(subject.tenant)
        follow_code = d.phone_last4(who.phone) if who.phone else f"{secrets.randbelow(10_000):04d}"
        return self._open(handling=handling, channel=channel, kind=kind, category=category, content=content,
                          subject=subject, who=who, filed_by_tenant=filed_by_tenant, filed_by=filed_by,
                          follow_code=follow_code, lead=lead, co=co, external_id=cmd.external_id)

    def _open(self, *, handling: str, channel: d.Channel, kind: d.Kind, category: str, content: str,
              subject: d.Subject, who: d.Complainant, filed_by_tenant: str, filed_by: str, follow_code: str,
              lead: str = "", co: Sequence[str] = (), external_id: str | None = None, escalated_from: str = "",
              round_: int = 1, uow: UnitOfWork | None = None) -> ComplaintRow:
        now = self.clock.now()
        today = now.date()
        limits = d.time_limits(self.calendars.get(handling), today, self.rules(handling))
        complaint_id = str(uuid.uuid4())

        def write(u: UnitOfWork) -> ComplaintRow:
            repo = ComplaintsRepository(u)
            number = d.complaint_number(handling, today, repo.next_number_seq(handling, today))
            repo.add_complaint(
                id=complaint_id, tenant_code=handling, number=number, follow_code=follow_code, external_id=external_id,
                channel=str(channel), kind=str(kind), status=str(d.Status.RECEIVED), category=category,
                content=content, anonymous=who.anonymous, complainant_name=who.name, complainant_phone=who.phone,
                complainant_id_number=who.id_number, subject_tenant=subject.tenant,
                subject_department=subject.department, subject_case_number=subject.case_number,
                subject_item_id=subject.item_id, subject_window=subject.window, subject_staff=subject.staff,
                filed_by_tenant=filed_by_tenant, filed_by=filed_by, received_at=now, received_on=today,
                progress_due=limits.progress_due, result_due=limits.result_due, due_trace=limits.trace,
                provisional=limits.provisional, extension=None, round=round_, escalated_from=escalated_from)
            if lead:
                repo.add_department(handling, complaint_id, lead, True)
            for dept in co:
                if dept != lead:
                    repo.add_department(handling, complaint_id, dept, False)
            repo.add_record(handling, complaint_id, "received", now, by=filed_by, public=True,
                            text=f"已登记（{d.CATEGORIES[category]}），{limits.progress_due.isoformat()} 前报告"
                                 f"办理动态，{limits.result_due.isoformat()} 前答复办理结果")
            row = repo.complaint(complaint_id)
            u.emit(self.events_out.complaint_received(row), correlation_id=number)
            return row

        if uow is not None:
            return write(uow)
        with self.db.unit_of_work(tenant=handling) as u:
            row = write(u)
            u.commit()
        return row

    def receipt_url(self, row: ComplaintRow) -> str:
        return f"{self.public_base_url}/complaints/follow?number={row.number}"

    # -- reading -------------------------------------------------------------------------------------
    def get(self, p: Principal, complaint_id: str) -> ComplaintRow:
        p.require(*READERS)
        complaint_id = uuid_field(complaint_id, "complaint_id", "投诉标识")
        with self.db.unit_of_work(p) as uow:
            row = ComplaintsRepository(uow).complaint(complaint_id)
        if row is None or not self._may_read(p, row):
            raise NotFound(NOT_FOUND)
        return row

    @staticmethod
    def _may_read(p: Principal, row: ComplaintRow) -> bool:
        """Beside RLS: an agent reads only its unit's filings; the others read their unit's complaints
        (supervisors, their subtree)."""
        me = str(p.tenant)
        if row.filed_by_tenant == me and p.has(Role.AGENT):
            return True
        if row.tenant_code == me:
            return p.has(Role.COMPLAINT_HANDLER) or p.has(Role.TENANT_ADMIN) or p.has(Role.HEAD) \
                or p.has(Role.SUPERVISOR)
        return p.has(Role.SUPERVISOR) and row.tenant_code.startswith(me)

    def list(self, p: Principal, status: str, unassigned_only: bool, limit: int,
             offset: int) -> tuple[list[ComplaintRow], int]:
        p.require(*READERS)
        if status:
            status = str(d.parse(d.Status, status, "status", "状态"))
        limit, offset = page(limit, offset)
        with self.db.unit_of_work(p) as uow:
            rows, total = ComplaintsRepository(uow).list_complaints(status, unassigned_only, limit, offset)
        return [r for r in rows if self._may_read(p, r)], total

    def follow(self, number: str, last4: str) -> ComplaintRow:
        """The public follow-up: the number and the phone's last four digits (an anonymous report: the code on
        its receipt). Both are in the RLS policy: a wrong code finds nothing, like an unknown number."""
        number = d.check_number(number)
        last4 = d.check_last4(last4)
        with self.db.unit_of_work() as uow:
            uow.widen(FOLLOW_UP, number=number, code=last4)
            row = ComplaintsRepository(uow).by_number(number)
        if row is None:
            raise NotFound("投诉编号或电话后四位不正确", field="number")
        return row

    # -- handling ------------------------------------------------------------------------------------
    def _load(self, repo: ComplaintsRepository, p: Principal, complaint_id: str) -> ComplaintRow:
        complaint_id = uuid_field(complaint_id, "complaint_id", "投诉标识")
        if repo.lock(complaint_id):
            row = repo.complaint(complaint_id)
            if row is not None:
                if p.username and p.username == row.subject_staff:
                    raise PermissionDenied("被投诉的工作人员不能办理针对本人的投诉")
                return row
        row = repo.complaint(complaint_id)
        if row is None or not self._may_read(p, row):
            raise NotFound(NOT_FOUND)
        raise PermissionDenied("只能办理本单位受理的投诉")

    @staticmethod
    def _open_for_work(row: ComplaintRow) -> None:
        if row.status in (d.Status.CLOSED, d.Status.ESCALATED):
            raise FailedPrecondition(f"该投诉{d.Status(row.status).label}，不能再办理", field="complaint_id")

    def _acting(self, p: Principal, row: ComplaintRow) -> None:
        """The assigned handler (专人), or the unit's admin or head."""
        if p.has(Role.TENANT_ADMIN) or p.has(Role.HEAD):
            return
        if not p.has(Role.COMPLAINT_HANDLER) or row.handler != p.username:
            raise PermissionDenied("只有指派的投诉处理人员或单位负责人可以办理")

    def assign(self, p: Principal, complaint_id: str, handler: str, handler_name: str) -> ComplaintRow:
        """第一时间安排专人负责: a handler takes it, or the admin/head assigns one."""
        p.require(*WORKERS)
        handler = d.check_text(handler, "handler", "处理人员账号", max_len=d.MAX_SHORT) or p.username
        if handler != p.username and not (p.has(Role.TENANT_ADMIN) or p.has(Role.HEAD)):
            raise PermissionDenied("投诉处理人员只能指派自己；指派他人须由单位管理员或负责人操作")
        name = d.check_text(handler_name, "handler_name", "处理人员姓名", max_len=d.MAX_NAME)
        name = name or (p.display_name if handler == p.username else handler)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._load(repo, p, complaint_id)
            self._open_for_work(row)
            if handler == row.subject_staff:
                raise InvalidArgument("handler", "不能指派被投诉的工作人员办理")
            status = d.Status.ASSIGNED if row.status == d.Status.RECEIVED else row.status
            repo.update_complaint(row.id, handler=handler, handler_name=name, assigned_at=now, status=str(status))
            repo.add_record(row.tenant_code, row.id, "assigned", now, by=p.username, by_name=p.display_name,
                            text=f"已安排专人办理：{name}")
            row = repo.complaint(row.id)
            uow.emit(self.events_out.complaint_assigned(row, now), correlation_id=row.number)
            uow.commit()
        return row

    def report_progress(self, p: Principal, complaint_id: str, text: str) -> ComplaintRow:
        """3日报动态: a progress report told to the complainant."""
        p.require(*WORKERS)
        text = d.check_text(text, "text", "办理动态", max_len=d.MAX_TEXT, required=True)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._load(repo, p, complaint_id)
            self._open_for_work(row)
            self._acting(p, row)
            if row.status == d.Status.REPLIED:
                raise FailedPrecondition("已答复的投诉不再报告动态", field="complaint_id")
            changes: dict = {"status": str(d.Status.PROGRESSING)}
            if row.progress_reported_at is None:
                changes["progress_reported_at"] = now
            repo.update_complaint(row.id, **changes)
            repo.add_record(row.tenant_code, row.id, "progress", now, by=p.username, by_name=p.display_name,
                            text=text, public=True)
            late = now.date() > row.progress_due
            row = repo.complaint(row.id)
            uow.emit(self.events_out.complaint_progress_reported(row, now, late), correlation_id=row.number)
            uow.commit()
        return row

    def record_investigation(self, p: Principal, complaint_id: str, method: str, on: str, by_name: str,
                             text: str) -> ComplaintRow:
        """调查核实: 走访群众、现场查看, with the date and who."""
        p.require(*WORKERS)
        m = d.parse(d.InvestigationMethod, method, "method", "调查方式")
        day = d.parse_date(on, "on", "调查日期")
        now = self.clock.now()
        if day > now.date():
            raise InvalidArgument("on", "调查日期不能晚于今天")
        by_name = d.check_text(by_name, "by_name", "调查人员", max_len=d.MAX_SHORT) or p.display_name or p.username
        text = d.check_text(text, "text", "调查情况", max_len=d.MAX_CONTENT, required=True)
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._load(repo, p, complaint_id)
            self._open_for_work(row)
            self._acting(p, row)
            repo.add_record(row.tenant_code, row.id, "investigation", now, by=p.username, by_name=by_name, text=text,
                            on_day=day, method=str(m))
            row = repo.complaint(row.id)
            uow.commit()
        return row

    def report_department_part(self, p: Principal, complaint_id: str, department: str,
                               report: str) -> ComplaintRow:
        """A co-handling (or the lead) department reports its part (联合办理)."""
        p.require(*WORKERS)
        department = d.check_text(department, "department", "部门", max_len=d.MAX_SHORT, required=True)
        report = d.check_text(report, "report", "部门办理情况", max_len=d.MAX_CONTENT, required=True)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._load(repo, p, complaint_id)
            self._open_for_work(row)
            if not repo.report_department(row.id, department, report, now, p.username):
                raise InvalidArgument("department", "该部门不是本投诉的牵头或协办部门")
            repo.add_record(row.tenant_code, row.id, "department_report", now, by=p.username, by_name=department,
                            text=report)
            row = repo.complaint(row.id)
            uow.commit()
        return row

    def request_extension(self, p: Principal, complaint_id: str, reason: str, days: int) -> ComplaintRow:
        """延期办理: asked within the time limit, the reason told to the complainant."""
        p.require(*WORKERS)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._load(repo, p, complaint_id)
            self._open_for_work(row)
            self._acting(p, row)
            if row.status == d.Status.REPLIED:
                raise FailedPrecondition("已答复的投诉不能申请延期", field="complaint_id")
            rules = self.rules(row.tenant_code)
            reason, days = d.check_extension_request(self._ext_state(row), now.date(), reason, days, rules)
            ext = {"reason": reason, "days": days, "requested_by": p.username, "requested_at": now.isoformat(),
                   "approved_by": "", "approved_at": ""}
            repo.update_complaint(row.id, extension=ext)
            repo.add_record(row.tenant_code, row.id, "extension_requested", now, by=p.username,
                            by_name=p.display_name, public=True,
                            text=f"因{reason}，申请延期办理 {days} 个工作日（待单位负责人批准）")
            row = repo.complaint(row.id)
            uow.commit()
        return row

    @staticmethod
    def _ext_state(row: ComplaintRow) -> d.ExtensionState:
        pending = bool(row.extension) and not row.extension.get("approved_by")
        return d.ExtensionState(extensions=row.extensions, pending=pending, result_due=row.result_due)

    def approve_extension(self, p: Principal, complaint_id: str) -> ComplaintRow:
        """The unit's head approves the extension; the result is due that many working days later."""
        p.require(Role.HEAD)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._load(repo, p, complaint_id)
            self._open_for_work(row)
            ext = dict(row.extension or {})
            d.check_extension_approval(self._ext_state(row), now.date(), p, ext.get("requested_by", ""))
            rules = self.rules(row.tenant_code)
            due, ext_prov, trace = d.extension_due(self.calendars.get(row.tenant_code), row.result_due,
                                                   int(ext["days"]), rules)
            ext |= {"approved_by": p.username, "approved_at": now.isoformat(),
                    "result_due_before": row.result_due.isoformat(), "round": row.reopened}
            repo.update_complaint(row.id, extension=ext, extensions=row.extensions + 1, result_due=due,
                                  due_trace=f"{row.due_trace}\n{trace}", provisional=row.provisional or ext_prov)
            repo.add_record(row.tenant_code, row.id, "extension_approved", now, by=p.username, by_name=p.display_name,
                            public=True, text=f"延期已批准：{ext['reason']}；答复期限延至 {due.isoformat()}")
            row = repo.complaint(row.id)
            uow.emit(self.events_out.complaint_extended(row, now), correlation_id=row.number)
            uow.commit()
        return row

    def reply(self, p: Principal, complaint_id: str, outcome: str, channel: str, text: str,
              promises: Sequence[d.PromiseInput]) -> ComplaintRow:
        """7日报结果: the reply, with its outcome and channel; each promise becomes a follow-up task."""
        p.require(*WORKERS)
        now = self.clock.now()
        o, c, text, checked = d.check_reply(outcome, channel, text, promises, now.date())
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._load(repo, p, complaint_id)
            self._open_for_work(row)
            self._acting(p, row)
            if row.status == d.Status.REPLIED:
                raise FailedPrecondition("该投诉已答复，等待投诉人评价", field="complaint_id")
            repo.update_complaint(row.id, status=str(d.Status.REPLIED), outcome=str(o), reply_channel=str(c),
                                  reply=text, replied_at=now)
            repo.add_record(row.tenant_code, row.id, "reply", now, by=p.username, by_name=p.display_name,
                            method=str(c), public=True, text=f"{o.label}：{text}")
            follow_ids = []
            for what, due in checked:
                fid = str(uuid.uuid4())
                repo.add_follow_up(row.tenant_code, fid, row.id, what, due)
                follow_ids.append((fid, due))
            row = repo.complaint(row.id)
            late = now.date() > row.result_due
            lates = d.late_departments([(x.department, x.lead, x.reported_at) for x in row.departments],
                                       row.result_due, now.date())
            uow.emit(self.events_out.complaint_replied(row, now, late, lates), correlation_id=row.number)
            for fid, due in follow_ids:
                uow.emit(self.events_out.follow_up_due(row, fid, due), correlation_id=row.number)
            uow.commit()
        return row

    def record_return_visit(self, p: Principal, complaint_id: str, follow_up_id: str, method: str,
                            result: str) -> ComplaintRow:
        """回访: 电话回访、实地督查、暗访 of a promise made in the reply."""
        p.require(*WORKERS, Role.SUPERVISOR)
        follow_up_id = uuid_field(follow_up_id, "follow_up_id", "跟踪事项标识")
        m = d.parse(d.VisitMethod, method, "method", "回访方式")
        result = d.check_text(result, "result", "回访情况", max_len=d.MAX_TEXT, required=True)
        now = self.clock.now()
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._load(repo, p, complaint_id)
            fu = next((f for f in row.follow_ups if f.id == follow_up_id), None)
            if fu is None:
                raise NotFound("该投诉没有这项承诺事项", field="follow_up_id")
            if fu.visited_at is not None:
                raise FailedPrecondition("这项承诺事项已经回访过了", field="follow_up_id")
            repo.visit_follow_up(follow_up_id, str(m), now, p.username, result)
            repo.add_record(row.tenant_code, row.id, "return_visit", now, by=p.username, by_name=p.display_name,
                            method=str(m), text=f"{fu.promise}：{result}")
            row = repo.complaint(row.id)
            uow.emit(self.events_out.return_visit_recorded(row, follow_up_id, str(m), now), correlation_id=row.number)
            uow.commit()
        return row

    # -- satisfaction: close, reopen once, escalate ---------------------------------------------------------
    def record_satisfaction(self, p: Principal, complaint_id: str, satisfaction: str, comment: str) -> ComplaintRow:
        """The complainant's rating of the handling as told to the unit (e.g. on the return call)."""
        p.require(*WORKERS)
        s = d.parse(d.Satisfaction, satisfaction, "satisfaction", "满意度")
        comment = d.check_text(comment, "comment", "评价意见", max_len=d.MAX_TEXT)
        with self.db.unit_of_work(p) as uow:
            repo = ComplaintsRepository(uow)
            row = self._load(repo, p, complaint_id)
            row = self._satisfaction(uow, repo, row, s, comment, by=p.username)
            uow.commit()
        return row

    def rate_handling(self, number: str, last4: str, satisfaction: str, comment: str) -> ComplaintRow:
        """The complainant rates the handling on the public page (number + the phone's last four digits)."""
        s = d.parse(d.Satisfaction, satisfaction, "satisfaction", "满意度")
        comment = d.check_text(comment, "comment", "评价意见", max_len=d.MAX_TEXT)
        found = self.follow(number, last4)
        with self.db.unit_of_work(tenant=found.tenant_code) as uow:
            repo = ComplaintsRepository(uow)
            if not repo.lock(found.id):
                raise NotFound("投诉编号或电话后四位不正确", field="number")
            row = self._satisfaction(uow, repo, repo.complaint(found.id), s, comment, by="complainant")
            uow.commit()
        return row

    def _satisfaction(self, uow: UnitOfWork, repo: ComplaintsRepository, row: ComplaintRow, s: d.Satisfaction,
                      comment: str, *, by: str) -> ComplaintRow:
        d.check_may_rate_handling(d.Status(row.status))
        now = self.clock.now()
        rules = self.rules(row.tenant_code)
        then = d.after_satisfaction(s, row.reopened, rules)
        label = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}[str(s)]
        repo.add_record(row.tenant_code, row.id, "satisfaction", now, by=by, public=True,
                        text=f"投诉人评价：{label}" + (f"（{comment}）" if comment else ""))
        if then == d.AfterSatisfaction.CLOSE:
            repo.update_complaint(row.id, status=str(d.Status.CLOSED), satisfaction=str(s))
            row = repo.complaint(row.id)
            uow.emit(self.events_out.complaint_resolved(row, now), correlation_id=row.number)
        elif then == d.AfterSatisfaction.REOPEN:
            limits = d.time_limits(self.calendars.get(row.tenant_code), now.date(), rules)
            repo.update_complaint(row.id, status=str(d.Status.ASSIGNED if row.handler else d.Status.RECEIVED),
                                  satisfaction=str(s), reopened=row.reopened + 1, progress_due=limits.progress_due,
                                  result_due=limits.result_due,
                                  due_trace=f"{row.due_trace}\n{d.REOPENED_HEADING}\n{limits.trace}",
                                  counted_from=now.date(), provisional=limits.provisional, progress_reported_at=None,
                                  outcome="", reply_channel="", reply="", replied_at=None)
            repo.add_record(row.tenant_code, row.id, "reopened", now, public=True,
                            text=f"投诉人不满意，重新办理：{limits.result_due.isoformat()} 前答复")
            row = repo.complaint(row.id)
            uow.emit(self.events_out.complaint_reopened(row, now), correlation_id=row.number)
        else:
            above = d.level_above(row.tenant_code)
            route = d.escalation_route(row.tenant_code, self.units is None or self.units.exists(above))
            to = route.to_tenant
            repo.update_complaint(row.id, status=str(d.Status.ESCALATED), satisfaction=str(s), escalated_to=to)
            repo.add_record(row.tenant_code, row.id, "escalated", now, public=True, text=route.notice)
            row = repo.complaint(row.id)
            uow.emit(self.events_out.complaint_escalated(row, to, now, to_supervision=route.to_supervision),
                     tenant=to, correlation_id=row.number)
        return row

    def apply_calendar_year(self, region: str, year: CalendarYear) -> int:
        """calendar_year_published (approval: a province's year, published once) → this schema's copy of the
        calendar, and the time limits of every open complaint under the region that were provisional (counted
        into a year not yet published), counted again — each round from its start: the day of receipt, the day of
        reopening, an approved extension from its round's due date (domain.recount) — with the trace written
        again; the number re-projected. The year is
        written in its own transaction and each tenant's complaints in theirs (machine work), before the consumer
        records the event: a redelivery does it all again, to the same result."""
        if len(region) != 2 or not region.isdigit():
            raise PoisonMessage(f"calendar_year_published for region {region!r}: only a province publishes a year")
        self.calendars.store.publish(year, region, by=year.published_by or "approval", now=year.published_at)
        self.calendars.invalidate()
        with self.db.unit_of_work(tenant=region, subtree=True) as uow:
            tenants = ComplaintsRepository(uow).tenants_with_provisional(region)
        moved = 0
        for tenant in tenants:
            calendar = self.calendars.get(tenant)
            rules = self.rules(tenant)
            with self.db.unit_of_work(tenant=tenant) as uow:
                repo = ComplaintsRepository(uow)
                for row in repo.provisional_open(tenant):
                    limits = d.recount(calendar, row.received_on, rules, reopened_on=self._reopened_on(row),
                                       extension=self._approved_extension(row))
                    repo.update_complaint(row.id, progress_due=limits.progress_due,
                                          result_due=limits.result_due, due_trace=limits.trace,
                                          provisional=limits.provisional)
                    moved += 1
                uow.commit()
        log.info("calendar %s/%d applied: %d complaint(s) re-projected in %d unit(s)", region, year.year, moved,
                 len(tenants))
        return moved

    @staticmethod
    def _reopened_on(row: ComplaintRow) -> dt.date | None:
        if not row.reopened:
            return None
        # complaints 0003 filled the day in from the reopening's record; the day of receipt only if none was kept
        return row.counted_from or row.received_on

    @staticmethod
    def _approved_extension(row: ComplaintRow) -> d.Extension | None:
        ext = row.extension or {}
        if not row.extensions or not ext.get("approved_by"):
            return None
        if "round" in ext:
            current = int(ext["round"]) == row.reopened
        else:   # approved before the round was kept: it belongs to the current round if approved after reopening
            approved = dt.datetime.fromisoformat(ext["approved_at"]).date()
            current = not row.reopened or (row.counted_from is not None and approved >= row.counted_from)
        return d.Extension(days=int(ext["days"]), current_round=current)

    def open_escalated(self, cmd: Escalation, env: Envelope, uow: UnitOfWork) -> None:
        """complaints.events / complaint_escalated, envelope tenant = the level above: open its own complaint
        (in the consumer's unit of work, bound to that tenant, inbox row in the same transaction)."""
        if cmd.to_supervision:
            return      # taken by the unit's own supervision, on the complaint as it stands: nothing to open
        if cmd.to_tenant != env.tenant:
            raise PoisonMessage(f"to_tenant {cmd.to_tenant} is not the envelope tenant {env.tenant}")
        if not cmd.from_tenant.startswith(cmd.to_tenant) or cmd.from_tenant == cmd.to_tenant:
            raise PoisonMessage(f"escalation from {cmd.from_tenant} to {cmd.to_tenant} is not upward")
        try:
            kind, channel = d.Kind(cmd.kind), d.Channel(cmd.channel)
        except ValueError as exc:
            raise PoisonMessage(str(exc)) from None
        row = self._open(handling=cmd.to_tenant, channel=channel, kind=kind, category=cmd.category,
                         content=cmd.content, subject=cmd.subject, who=cmd.complainant,
                         filed_by_tenant=cmd.filed_by_tenant, filed_by="escalation", follow_code=cmd.follow_code,
                         escalated_from=cmd.number, round_=cmd.round + 1, uow=uow)
        log.info("complaint %s escalated from %s: opened as %s at %s", cmd.number, cmd.from_tenant, row.number,
                 cmd.to_tenant)

