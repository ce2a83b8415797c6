"""What a unit's administrator (单位管理员) sets up for its back office, as use cases: the desks (岗位) each
member of staff sits at, the one approval seal (一枚印章管审批), the categories the desks are named after,
and the working-day calendar — whose publication re-projects the due dates of every open case under it.

Each use case owns its unit of work, like `handlers.py`'s; the re-projection is machine work, per tenant
and in chunks, each chunk one transaction with its `due_date_reprojected` events. Every time recorded
comes from the platform's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.approval.categories import Categories
from services.approval.deadlines import Projection, pauses_from_pairs, project
from services.approval.domain import STAFF_ROLES, Seal
from services.approval.repository import ApprovalRepository, OpenCaseRow
from shared.calendar import CalendarYear, WorkingCalendar
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.db import Database
from shared.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from shared.tenancy import DivisionCode, Principal, Role

REPROJECT_CHUNK = 10_000


@dataclass
class ReprojectionReport:
    cause: str
    tenants: list[str]
    examined: int = 0
    changed: int = 0
    provisional: int = 0


class AdministrationHandlers:
    """`calendars` and `categories` are the case handlers' own (the composition root builds them once), so a
    published calendar is counted on at once; `events_out` builds `due_date_reprojected`."""

    def __init__(self, db: Database, clock: Clock, events_out: Any, *, calendars: CalendarCache | None = None,
                 categories: Categories | None = None):
        self.db = db
        self.clock = clock
        self.events_out = events_out
        self.calendars = calendars or CalendarCache(CalendarStore(db.engine, db.schema), ttl=60.0)
        self.categories = categories or Categories(db)

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
            ApprovalRepository(uow).assign_desks(str(p.tenant), username, clean, display_name.strip(), p.username,
                                                 self.clock.now())
            uow.commit()
        return clean

    def list_desks(self, p: Principal) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
        p.require(*STAFF_ROLES)
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

    # -- categories ----------------------------------------------------------------------------------
    def list_categories(self) -> list[tuple[str, str]]:
        return list(self.categories.names().items())

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
        self.calendars.store.publish(cy, str(code), by=p.username, now=self.clock.now())
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
                after = rows[-1].id
                if len(rows) < REPROJECT_CHUNK:
                    break
        return report


def _changes(cal: WorkingCalendar, rows: list[OpenCaseRow]) -> list[tuple[OpenCaseRow, Projection]]:
    out = []
    for r in rows:
        proj = project(cal, r.accepted_on, r.promised_days, r.statutory_total, pauses_from_pairs(r.pauses),
                       r.decided_on)
        if (proj.promised_due, proj.statutory_due, proj.delivery_due, proj.provisional) != (
                r.promised_due, r.statutory_due, r.delivery_due, r.provisional):
            out.append((r, proj))
    return out
