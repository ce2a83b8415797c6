"""The back office's categories (后台分类: 市场准入, 投资建设, 社会事务, 涉农事务) as the handlers read them.

Categories are reference data: their names change with a migration, the rules that put a new case in
one (by department, item type and region) with the province's configuration. Both are read once and
kept — the names for the life of the process, each rule's answer for `RULE_CACHE_SECONDS` — because
every case opened and every case shown asks for them.
"""

from __future__ import annotations

import time
from typing import Any

from services.approval.domain import WINDOW_DESK
from services.approval.repository import ApprovalRepository
from shared.calendar_store import CalendarCache, CalendarStore
from shared.clock import Clock
from shared.db import Database, UnitOfWork
from shared.provinces import ProvinceBook

RULE_CACHE_SECONDS = 300.0


class Categories:
    def __init__(self, db: Database):
        self.db = db
        self._names: dict[str, str] | None = None
        self._rules: dict[tuple[str, str, str], tuple[float, str]] = {}   # the mapping rules' answers

    def names(self) -> dict[str, str]:
        """Code → name, in the catalogue's order."""
        if self._names is None:
            with self.db.unit_of_work() as uow:
                self._names = dict(ApprovalRepository(uow).categories())
        return self._names

    def name(self, code: str) -> str:
        return self.names().get(code, code)

    def desk_name(self, desk: str) -> str:
        """A desk as people read it: a category's name, the window, or a joint-approval department as is."""
        if desk == WINDOW_DESK:
            return "综合窗口"
        return self.name(desk)

    def for_case(self, uow: UnitOfWork, tenant: str, department: str, item_type: str) -> str:
        """The category a new case of this tenant, department and item type goes to."""
        key = (tenant, department, item_type)
        hit = self._rules.get(key)
        if hit is None or time.monotonic() - hit[0] > RULE_CACHE_SECONDS:
            hit = self._rules[key] = (time.monotonic(), ApprovalRepository(uow).category_for(*key))
        return hit[1]


class SharedState:
    """What the case handlers and the administration's handlers hold alike: the database, the clock, the
    event builder (`translate.EventsOut`), and one calendar cache and one category cache — given by the
    composition root to both, so a calendar published by the administration is the one cases count on."""

    def __init__(self, db: Database, clock: Clock, events_out: Any, *, calendars: CalendarCache | None = None,
                 categories: Categories | None = None, provinces: ProvinceBook | None = None):
        self.db = db
        self.clock = clock
        self.events_out = events_out
        # the province records (issue 23): which region's published years a province's units count on
        self.provinces = provinces
        self.calendars = calendars or CalendarCache(CalendarStore(
            db.engine, db.schema, local_days=True,
            province_region=provinces.calendar_region if provinces is not None else None), ttl=60.0)
        self.categories = categories or Categories(db)
