"""What a unit's administrator (单位管理员) sets up for its back office, as use cases: the desks (岗位) each
member of staff sits at, the one approval seal (一枚印章管审批), the categories the desks are named after,
and the working-day calendar — whose publication re-projects the due dates of every open case under it.

Each use case owns its unit of work, like `handlers.py`'s; the re-projection is machine work, per tenant
and in chunks, each chunk one transaction with its `due_date_reprojected` events. Every time recorded
comes from the platform's clock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.approval.categories import SharedState
from services.approval.deadlines import Projection, pauses_from_pairs, project
from services.approval.domain import LOCAL_HOLIDAY_LEVELS, STAFF_ROLES, Seal, check_local_holiday
from services.approval.repository import ApprovalRepository, CalendarChangeRow, OpenCaseRow
from shared.calendar import CalendarYear, WorkingCalendar
from shared.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from shared.tenancy import DivisionCode, Principal, Role, UnitKind

REPROJECT_CHUNK = 10_000
# the code of the seal a unit gets at onboarding until its administrator registers the real one
PLACEHOLDER_SEAL_PREFIX = "PENDING-"
ONBOARDING = "onboarding"


def _onboarding_unit(p: Principal, unit: str) -> str:
    """The onboarding service on its own credential (the interceptor admits no other caller to these internal
    methods; checked here again so a handler called otherwise refuses too), acting in the unit it names."""
    p.require_calling_service(ONBOARDING)
    return str(DivisionCode.parse((unit or "").strip(), "unit"))


@dataclass
class ReprojectionReport:
    cause: str
    tenants: list[str]
    examined: int = 0
    changed: int = 0
    provisional: int = 0
    moved: list[str] = field(default_factory=list)   # the case numbers whose deadlines changed


class AdministrationHandlers(SharedState):
    """`calendars` and `categories` are the case handlers' own (the composition root builds them once), so a
    published calendar is counted on at once; `events_out` builds `due_date_reprojected`."""

    # -- desks ---------------------------------------------------------------------------------------
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
            repo = ApprovalRepository(uow)
            # Approval keeps no user directory; it knows a user belongs to the unit when that user has called
            # it with a verified token of the unit (`saw`: the console's first calls). The token is the only
            # source of a user's unit the service trusts, and it needs no admin credential for the identity
            # provider. A new member of staff logs in once, then gets desks.
            if not repo.is_staff(str(p.tenant), username):
                raise InvalidArgument("username", f"“{username}”不是本单位已登录过本系统的工作人员，不能分配本单位岗位"
                                                  "（新工作人员请先登录一次）")
            repo.assign_desks(str(p.tenant), username, clean, display_name.strip(), p.username, self.clock.now())
            uow.commit()
        return clean

    def saw(self, p: Principal) -> None:
        """Note that a person of the unit has used approval (the unit and name from the verified token)."""
        if p.machine:
            return
        with self.db.unit_of_work(p, subtree=False) as uow:
            ApprovalRepository(uow).saw_staff(str(p.tenant), p.username, p.display_name or "", self.clock.now())
            uow.commit()

    def list_desks(self, p: Principal) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
        p.require(*STAFF_ROLES)
        self.saw(p)
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            mine = sorted(repo.desks_of(str(p.tenant), p.username))
            everyone = repo.desk_assignments(str(p.tenant)) if p.has(Role.TENANT_ADMIN) else []
        return everyone, mine

    # -- the seal ------------------------------------------------------------------------------------
    def register_seal(self, p: Principal, name: str, code: str) -> tuple[Seal, dt.datetime, str]:
        p.require(Role.TENANT_ADMIN)
        name, code = (name or "").strip(), (code or "").strip()
        if not name:
            raise InvalidArgument("name", "请填写印章名称（如：××县行政审批局行政审批专用章）")
        if not code:
            raise InvalidArgument("code", "请填写印章编码")
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            if not repo.register_seal(str(p.tenant), Seal(name, code), p.username, self.clock.now()):
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

    # -- a new unit's day one (the onboarding service's internal call, issue 23) ----------------------
    def set_up_unit_back_office(self, p: Principal, unit: str, unit_name: str,
                                staff: Sequence[tuple[str, str, bool]]) -> tuple[dict[str, list[str]], bool]:
        """Every desk for each listed reviewer and decider (username, name, decider?) of `unit`, recorded as the
        unit's staff first (the onboarding service has just provisioned them into the unit: approval otherwise
        learns that only from a person's first call), and a placeholder seal when the unit has a decider and no
        seal yet — a real one is never replaced. Desks and seal are `unit`'s: one transaction bound to it."""
        code = _onboarding_unit(p, unit)
        clean: list[tuple[str, str, bool]] = []
        for i, (username, name, decider) in enumerate(staff):
            username, name = (username or "").strip(), (name or "").strip()
            if not username or len(username) > 100:
                raise InvalidArgument(f"staff[{i}].username", "请填写工作人员账号（不超过 100 个字符）")
            if len(name) > 100:
                raise InvalidArgument(f"staff[{i}].name", "姓名过长")
            clean.append((username, name, bool(decider)))
        all_desks = sorted(key for key, _ in self.list_categories())
        now = self.clock.now()
        desks: dict[str, list[str]] = {}
        with self.db.unit_of_work(tenant=code, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            for username, name, _ in clean:
                repo.saw_staff(code, username, name, now)
                repo.assign_desks(code, username, all_desks, name, p.username, now)
                desks[username] = all_desks
            sealed = False
            if any(decider for *_, decider in clean):
                seal = Seal(f"{(unit_name or '').strip()[:80] or code}行政审批专用章（占位，待登记）",
                            f"{PLACEHOLDER_SEAL_PREFIX}{code}")
                sealed = repo.register_seal(code, seal, p.username, now)
            uow.commit()
        return desks, sealed

    def back_office_readiness(self, p: Principal, unit: str) -> tuple[bool, bool]:
        """(a seal is registered, it is the onboarding's placeholder) for `unit`."""
        code = _onboarding_unit(p, unit)
        with self.db.unit_of_work(tenant=code, subtree=False) as uow:
            found = ApprovalRepository(uow).seal(code)
        return (found is not None,
                found is not None and found[0].code.startswith(PLACEHOLDER_SEAL_PREFIX))

    # -- categories ----------------------------------------------------------------------------------
    def list_categories(self) -> list[tuple[str, str]]:
        return list(self.categories.names().items())

    # -- the calendar and re-projection --------------------------------------------------------------
    def publish_calendar_year(self, p: Principal, year: int, holidays: dict[str, str], makeup: dict[str, str],
                              region: str, reason: str) -> ReprojectionReport:
        p.require(Role.TENANT_ADMIN)
        # Holidays and make-up working days are the State Council's and the province's (the national years
        # through `python -m shared.calendar_store publish` by the operators); a city or county only adds a
        # local holiday, under two-person control (propose_local_holiday).
        if p.tenant.kind is not UnitKind.PROVINCE:
            raise PermissionDenied("节假日和调休上班日由国家、省统一发布；市县只能申请增设地方节假日（须另一人批准）",
                                   field="region")
        region = (region or "").strip() or str(p.tenant)
        code = DivisionCode.parse(region, "region")
        if code != p.tenant:
            raise PermissionDenied("省级只能发布本省的节假日安排", field="region")
        store = self.calendars.store
        follows = store.region_of(str(code))
        if follows != str(code):
            # the province's record names another region's calendar: a year published under its own code would
            # be counted on by nobody (issue 23, item 3)
            raise PermissionDenied(f"本省按地区 {follows} 发布的节假日安排计算工作日（省级配置的日历地区）；"
                                   "请由该地区发布，或先在省级配置中把日历地区改回本省", field="region")
        # the provinces whose record names this region count on the year too: their dates are re-projected with
        # this province's (asked before anything is written: an unreachable catalogue publishes nothing)
        followers = self.provinces.following(str(code)) if self.provinces is not None else []
        cy = CalendarYear(year=year, holidays=holidays, makeup_workdays=makeup)
        # the province's year is layered over the national one (shared/calendar_store.py): it carries only its
        # additions (宁夏: 开斋节, 古尔邦节) — unless the nation's year is not stored yet, then it stands alone
        if not cy.holidays and self.calendars.store.national_year(year) is None:
            raise InvalidArgument("holidays", f"{year} 年全国节假日安排尚未发布，请填写该年的法定节假日")
        past = _changed_days_up_to(store.load(str(code)).year(year),
                                   store.load(str(code), replacing=(str(code), cy)).year(year), self.clock.today())
        if past:
            raise InvalidArgument("holidays", f"不能更改今天及以前日期的安排（{past[0].isoformat()}）："
                                              "已过的工作日不能改为休息日，反之亦然")
        why = (reason or "").strip()
        cause = f"{year} 年节假日安排发布（{p.display_name or p.username}）" + (f"：{why}" if why else "")
        # published once: the year and the event that carries it to every other service that computes a date
        # (intake re-projects its decision dates from it) commit together (issue 23, item 4)
        with self.db.unit_of_work(p, subtree=False) as uow:
            published = self.calendars.store.publish_on(uow.session.connection(), cy, str(code), by=p.username,
                                                        now=self.clock.now())
            uow.emit(self.events_out.calendar_year_published(published, str(code), cause),
                     correlation_id=f"calendar:{code}:{year}")
            uow.commit()
        self.calendars.invalidate()
        report = self.reproject(str(code), cause)
        for province in followers:
            more = self.reproject(province, cause)
            report.tenants.extend(more.tenants)
            report.examined += more.examined
            report.changed += more.changed
            report.provisional += more.provisional
            report.moved.extend(more.moved)
        return report

    # -- local holidays: proposed by one, approved by another, audited -------------------------------
    def propose_local_holiday(self, p: Principal, day: str, name: str, reason: str) -> CalendarChangeRow:
        p.require(Role.TENANT_ADMIN)
        if p.tenant.kind.value not in LOCAL_HOLIDAY_LEVELS:
            raise PermissionDenied("只有市、县（区）可以增设地方节假日；乡镇（街道）、村（社区）按县级日历执行",
                                   field="day")
        when = _day(day)
        name, reason = (name or "").strip(), (reason or "").strip()
        if not name:
            raise InvalidArgument("name", "请填写地方节假日名称")
        if len(name) > 50:
            raise InvalidArgument("name", "地方节假日名称不能超过 50 个字")
        if len(reason) > 500:
            raise InvalidArgument("reason", "依据不能超过 500 个字")
        tenant = str(p.tenant)
        year = self.calendars.store.load(tenant).year(when.year)
        change_id = str(uuid.uuid4())
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            check_local_holiday(when, self.clock.today(), year, repo.local_holiday_policy(p.tenant.province),
                                repo.local_holidays_in_year(tenant, when.year))
            repo.propose_local_holiday(change_id, tenant, when, name, reason, p.username, p.display_name or "",
                                       self.clock.now())
            found = repo.calendar_change(tenant, change_id)
            uow.commit()
        assert found is not None
        return found

    def approve_local_holiday(self, p: Principal, change_id: str) -> CalendarChangeRow:
        """A second person (head or tenant_admin of the same unit, not the proposer) approves; the rules are
        checked again on the day of approval; the day joins the calendar and the open cases are re-projected,
        and what moved is recorded on the change."""
        p.require(Role.HEAD, Role.TENANT_ADMIN)
        change_id = _uuid(change_id, "change_id")
        tenant = str(p.tenant)
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            change = repo.lock_calendar_change(tenant, change_id)
            if change is None:
                raise NotFound("没有找到该地方节假日申请")
            if change.status != "proposed":
                raise FailedPrecondition("该地方节假日申请已经批准", field="change_id")
            if change.proposed_by == p.username:
                raise PermissionDenied("不能批准本人提出的地方节假日申请，须由本单位另一名负责人或管理员批准",
                                       field="change_id")
            year = self.calendars.store.load(tenant).year(change.day.year)
            check_local_holiday(change.day, self.clock.today(), year, repo.local_holiday_policy(p.tenant.province),
                                repo.local_holidays_in_year(tenant, change.day.year, besides=change_id))
            repo.approve_local_holiday(change, p.username, p.display_name or "", self.clock.now())
            uow.commit()
        self.calendars.invalidate()
        proposer = change.proposed_by_name or change.proposed_by
        cause = (f"增设地方节假日 {change.day.isoformat()} {change.name}（{proposer}提出，"
                 f"{p.display_name or p.username}批准）")
        report = self.reproject(tenant, cause)
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ApprovalRepository(uow)
            repo.record_calendar_change_effect(tenant, change_id, report.examined, report.changed, report.moved)
            found = repo.calendar_change(tenant, change_id)
            uow.commit()
        assert found is not None
        return found

    def list_calendar_changes(self, p: Principal, limit: int, offset: int) -> list[CalendarChangeRow]:
        """The unit's changes; a supervisor's unit of work also reads those of the units below (RLS)."""
        p.require(Role.SUPERVISOR, Role.HEAD, Role.TENANT_ADMIN)
        if limit < 0 or offset < 0:
            raise InvalidArgument("limit" if limit < 0 else "offset", "不能为负数")
        limit = min(limit or 50, 200)
        with self.db.unit_of_work(p) as uow:
            return ApprovalRepository(uow).calendar_changes(limit, offset)

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
        now = self.clock.now()
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
                    repo.apply_projections(tenant, changes, cause, now)
                    for row, proj in changes:
                        uow.emit(self.events_out.due_date_reprojected(row, proj, tenant, cause, now),
                                 correlation_id=row.case_number)
                    uow.commit()
                report.examined += len(rows)
                report.changed += len(changes)
                report.provisional += sum(1 for _, proj in changes if proj.provisional)
                report.moved.extend(row.case_number for row, _ in changes)
                after = rows[-1].id
                if len(rows) < REPROJECT_CHUNK:
                    break
        return report


def _changed_days_up_to(before: CalendarYear | None, after: CalendarYear, today: dt.date) -> list[dt.date]:
    """The days up to today whose kind (holiday, make-up working day, or neither) a new arrangement changes."""
    def kind(cy: CalendarYear | None, d: dt.date) -> str:
        if cy is None:
            return ""
        return "holiday" if d in cy.holidays else "makeup" if d in cy.makeup_workdays else ""
    days = set(after.holidays) | set(after.makeup_workdays)
    if before is not None:
        days |= set(before.holidays) | set(before.makeup_workdays)
    return sorted(d for d in days if d <= today and kind(before, d) != kind(after, d))


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidArgument("day", f"日期格式应为 YYYY-MM-DD：{value!r}") from None


def _uuid(value: str, field_name: str) -> str:
    try:
        return str(uuid.UUID((value or "").strip()))
    except ValueError:
        raise InvalidArgument(field_name, "编号格式不正确") from None


def _changes(cal: WorkingCalendar, rows: list[OpenCaseRow]) -> list[tuple[OpenCaseRow, Projection]]:
    out = []
    for r in rows:
        proj = project(cal, r.accepted_on, r.promised_days, r.statutory_total, pauses_from_pairs(r.pauses),
                       r.decided_on)
        if (proj.promised_due, proj.statutory_due, proj.delivery_due, proj.provisional) != (
                r.promised_due, r.statutory_due, r.delivery_due, r.provisional):
            out.append((r, proj))
    return out
