"""Persistence of the working-day calendar, and its command line (`python -m shared.calendar_store …`).

One row per (region, year). Region '' is the national calendar; a region that is a division-code
prefix (e.g. '64' for a province) carries only its *additions* to the year (issue 23, item 4): for a tenant,
the years are LAYERED at load — national → province (→ any longer prefix stored) → the county's approved
local days — each layer adding its holidays and make-up working days to the one below it. A layer never
removes what a lower layer set: its holiday on a lower layer's make-up working day and its make-up day on a
lower layer's holiday are dropped (the national arrangement wins), so a province does not repeat the
national days (Ningxia publishes 开斋节 and 古尔邦节; 国庆节 comes from the national year). When publishing
a region's year, the days the national year already has are left out of the stored row. A year the nation
has not stored yet stands on what the regions published (a province that publishes such a year publishes
its whole arrangement, as before).

The calendar is public reference data, not tenant data: no row-level security.

Holidays and make-up working days are set at the national and provincial level only (a year published for a
region of 2 digits or none). A county adds at most local holidays, whole days, each approved by a second
person (services/approval/administration.py): those live in `calendar_local_days` (region → day → name) of
the schemas that have it (`CalendarStore(..., local_days=True)`), and are laid over the year that applies —
never over a make-up working day, and they never remove a holiday.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import pathlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from shared.calendar import CalendarYear, WorkingCalendar, seed_year_from_package
from shared.errors import DomainError, InvalidArgument

__all__ = ["calendar_table_statements", "calendar_rls_statements", "calendar_rls_drop_statements", "PUBLISH_SETTING",
           "CalendarStore", "CalendarCache", "main"]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_REGION = re.compile(r"^$|^\d{2}$|^\d{4}$|^\d{6}$|^\d{9}$|^\d{12}$")
DEFAULT_SEED_YEARS = range(2020, 2027)


def _ident(name: str, field_name: str) -> str:
    if not _IDENT.match(name or ""):
        raise InvalidArgument(field_name, f"名称不合法：{name!r}")
    return name


def _region(region: str) -> str:
    region = (region or "").strip()
    if not _REGION.match(region):
        raise InvalidArgument("region", f"地区应为空（全国）或 2、4、6、9、12 位区划代码：{region!r}")
    return region


# Writes to `calendar_years` are open only to a transaction that names the region it publishes (issue 15,
# item 4): CalendarStore sets it after the authority checks of its callers (services/approval/administration.py:
# holidays and make-up days at the national and provincial level only). Reading is public.
PUBLISH_SETTING = "app.calendar_region"


def calendar_rls_statements(schema: str) -> list[str]:
    """Row-level security on `<schema>.calendar_years` (idempotent): everyone reads; a row is written only by a
    transaction that publishes its region (`PUBLISH_SETTING`), so no tenant-bound statement can rewrite a calendar."""
    schema = _ident(schema, "schema")
    table = f"{schema}.calendar_years"
    # 'region:' + the region: a custom setting reads '' (not NULL) after a transaction on the same connection set
    # it, and '' is the national region's name
    publishing = f"current_setting('{PUBLISH_SETTING}', true) = 'region:' || region"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        *(f"DROP POLICY IF EXISTS calendar_years_{verb} ON {table}" for verb in ("read", "insert", "update", "delete")),
        f"CREATE POLICY calendar_years_read ON {table} FOR SELECT USING (true)",
        f"CREATE POLICY calendar_years_insert ON {table} FOR INSERT WITH CHECK ({publishing})",
        f"CREATE POLICY calendar_years_update ON {table} FOR UPDATE USING ({publishing}) WITH CHECK ({publishing})",
        f"CREATE POLICY calendar_years_delete ON {table} FOR DELETE USING ({publishing})",
    ]


def calendar_rls_drop_statements(schema: str) -> list[str]:
    """What `calendar_rls_statements` did, undone (a revision's downgrade)."""
    table = f"{_ident(schema, 'schema')}.calendar_years"
    return [*(f"DROP POLICY calendar_years_{verb} ON {table}" for verb in ("read", "insert", "update", "delete")),
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY", f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"]


def calendar_table_statements(schema: str, app_role: str = "sanji_app", *, rls: bool = True) -> list[str]:
    """DDL for `<schema>.calendar_years` (run as the owner role), walled (`calendar_rls_statements`). `rls=False`:
    what the first migrations of intake and approval ran; their later revision adds the walls."""
    schema, app_role = _ident(schema, "schema"), _ident(app_role, "app_role")
    return [
        f"""CREATE TABLE IF NOT EXISTS {schema}.calendar_years (
            region text NOT NULL DEFAULT '',
            year integer NOT NULL CHECK (year BETWEEN 1 AND 9999),
            data jsonb NOT NULL,
            source text,
            published_at timestamptz,
            published_by text,
            PRIMARY KEY (region, year)
        )""",
        f"GRANT SELECT, INSERT, UPDATE ON {schema}.calendar_years TO {app_role}",
        *(calendar_rls_statements(schema) if rls else []),
    ]


class CalendarStore:
    """The calendar years of one schema, through an engine (the application role is enough)."""

    def __init__(self, engine: Engine, schema: str, *, local_days: bool = False,
                 province_region: Callable[[str], str] | None = None):
        self.engine = engine
        self.schema = _ident(schema, "schema")
        self.local_days = local_days
        # tenant → the 2-digit region whose years stand for its province's layer (the province's record at the
        # catalogue: `calendar_region`, shared.provinces.ProvinceBook); None: the province's own code
        self.province_region = province_region

    def region_of(self, tenant_code: str) -> str:
        """The province layer's region for a tenant ('' for the national calendar)."""
        code = (tenant_code or "").strip()
        if len(code) < 2:
            return ""
        region = self.province_region(code) if self.province_region is not None else code[:2]
        return _region(region) if len(region or "") == 2 else code[:2]

    def load(self, tenant_code: str = "", *, replacing: tuple[str, CalendarYear] | None = None) -> WorkingCalendar:
        """The calendar that applies to a tenant: per year, the layers of every region that is a prefix of the
        tenant's code ('' — national — is a prefix of every code), national first (`layer_years`), then the
        approved local days; the province's layer is the region its record names (`region_of`: a province may
        count on another's published year, as 新疆生产建设兵团 (66) on 新疆's (65)). `replacing=(region, year)`:
        as if that region's row for that year were `year` (what a publication would make of the calendar,
        before it is written)."""
        code = (tenant_code or "").strip()
        if code and not (code.isascii() and code.isdigit()):
            raise InvalidArgument("tenant", f"区划代码格式不正确：{tenant_code!r}")
        province = self.region_of(code)
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT region, year, data FROM {self.schema}.calendar_years"
                     " WHERE (length(region) <> 2 AND left(:code, length(region)) = region) OR region = :province"
                     " ORDER BY year, length(region)"),
                {"code": code, "province": province or "-"},
            ).all()
            local = conn.execute(
                text(f"SELECT day, name FROM {self.schema}.calendar_local_days"
                     " WHERE left(:code, length(region)) = region ORDER BY day"),
                {"code": code},
            ).all() if self.local_days and code else []
        layers: dict[int, dict[str, CalendarYear]] = {}
        for row in rows:
            layers.setdefault(row.year, {})[row.region] = CalendarYear.from_dict(row.data)
        if replacing is not None:
            region, cy = _region(replacing[0]), replacing[1]
            if region == province if len(region) == 2 else code.startswith(region):
                layers.setdefault(cy.year, {})[region] = cy
        years = [layer_years([by_region[r] for r in sorted(by_region, key=len)])
                 for _, by_region in sorted(layers.items())]
        return WorkingCalendar(_with_local_days(years, [(r.day, r.name) for r in local]))

    def national_year(self, year: int) -> CalendarYear | None:
        with self.engine.connect() as conn:
            data = conn.execute(text(f"SELECT data FROM {self.schema}.calendar_years WHERE region = '' AND year = :y"),
                                {"y": year}).scalar()
        return CalendarYear.from_dict(data) if data is not None else None

    def regions(self, year: int) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(
                text(f"SELECT region FROM {self.schema}.calendar_years WHERE year = :y ORDER BY region"),
                {"y": year}).scalars())

    def publish(self, calendar_year: CalendarYear, region: str = "", *, by: str,
                now: dt.datetime | None = None) -> CalendarYear:
        """Insert or replace one year for a region, stamped with who published it and when."""
        with self.engine.begin() as conn:
            return self.publish_on(conn, calendar_year, region, by=by, now=now)

    def publish_on(self, conn, calendar_year: CalendarYear, region: str = "", *, by: str,
                   now: dt.datetime | None = None) -> CalendarYear:
        """`publish` inside the caller's transaction (`conn`: a SQLAlchemy connection on it): the year and
        what the caller writes beside it (the event that tells the other services, in the outbox) commit or
        vanish together."""
        if not isinstance(calendar_year, CalendarYear):
            raise InvalidArgument("calendar_year", "应为日历年度")
        if not by or not by.strip():
            raise InvalidArgument("published_by", "须写明发布人")
        region = _region(region)
        cy = dataclasses.replace(calendar_year, published_by=by.strip(),
                                 published_at=now or dt.datetime.now(dt.UTC))
        if region:
            national = conn.execute(text(f"SELECT data FROM {self.schema}.calendar_years"
                                         " WHERE region = '' AND year = :y"), {"y": cy.year}).scalar()
            if national is not None:
                cy = additions_over(CalendarYear.from_dict(national), cy)
        self._write(conn, cy, region, replace=True)
        return cy

    def seed_from_package(self, years: Iterable[int] = DEFAULT_SEED_YEARS) -> list[int]:
        """Insert the national years the package knows that are not stored yet; never overwrites a
        year already there (an administrator's correction wins). Returns the years inserted."""
        inserted: list[int] = []
        with self.engine.begin() as conn:
            for year in years:
                if self._write(conn, seed_year_from_package(year), "", replace=False):
                    inserted.append(year)
        return inserted

    def _write(self, conn, cy: CalendarYear, region: str, *, replace: bool) -> bool:
        conn.execute(text(f"SELECT set_config('{PUBLISH_SETTING}', :region, true)"), {"region": f"region:{region}"})
        conflict = ("DO UPDATE SET data = EXCLUDED.data, source = EXCLUDED.source,"
                    " published_at = EXCLUDED.published_at, published_by = EXCLUDED.published_by"
                    if replace else "DO NOTHING")
        result = conn.execute(
            text(f"INSERT INTO {self.schema}.calendar_years (region, year, data, source, published_at,"
                 " published_by) VALUES (:region, :year, CAST(:data AS jsonb), :source, :published_at,"
                 f" :published_by) ON CONFLICT (region, year) {conflict}"),
            {"region": region, "year": cy.year, "data": json.dumps(cy.to_dict(), ensure_ascii=False),
             "source": cy.source, "published_at": cy.published_at, "published_by": cy.published_by},
        )
        return result.rowcount > 0


def additions_over(base: CalendarYear, cy: CalendarYear) -> CalendarYear:
    """`cy` without the days `base` already has as the same kind (what a region adds to the national year);
    a make-up working day on a national holiday is refused (a region never takes a national holiday away)."""
    taken = sorted(d for d in cy.makeup_workdays if d in base.holidays)
    if taken:
        day = taken[0]
        raise InvalidArgument("makeup_workdays",
                              f"{day.isoformat()} 是全国法定节假日（{base.holidays[day]}），地方不能把它改为调休上班日")
    return dataclasses.replace(
        cy, holidays={d: n for d, n in cy.holidays.items() if d not in base.holidays},
        makeup_workdays={d: n for d, n in cy.makeup_workdays.items() if d not in base.makeup_workdays})


def layer_years(layers: list[CalendarYear]) -> CalendarYear:
    """One year from its layers, the least specific first (national, province, …): each layer adds its
    holidays and make-up working days; a holiday on a lower layer's make-up day, or a make-up day on a lower
    layer's holiday, is dropped (the lower — national — arrangement wins). The result carries the most
    specific layer's publisher, time and source."""
    if not layers:
        raise InvalidArgument("calendar_year", "没有可叠加的日历年度")
    holidays: dict[dt.date, str] = {}
    makeup: dict[dt.date, str] = {}
    for cy in layers:
        holidays.update({d: n for d, n in cy.holidays.items() if d not in makeup and d not in holidays})
        makeup.update({d: n for d, n in cy.makeup_workdays.items() if d not in holidays and d not in makeup})
    return dataclasses.replace(layers[-1], holidays=holidays, makeup_workdays=makeup)


def _with_local_days(years: list[CalendarYear], local: list[tuple[dt.date, str]]) -> list[CalendarYear]:
    """Lay approved local holidays over the published years: added as holidays, never over a make-up
    working day (the national or provincial arrangement wins), never in a year not yet published (the
    year's own arrangement is not known, so it stays provisional as before)."""
    by_year = {cy.year: cy for cy in years}
    for day, name in local:
        cy = by_year.get(day.year)
        if cy is None or day in cy.makeup_workdays or day in cy.holidays:
            continue
        by_year[day.year] = dataclasses.replace(cy, holidays={**cy.holidays, day: name})
    return [by_year[y] for y in sorted(by_year)]


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

class CalendarCache:
    """Each tenant's working-day calendar, reloaded after `ttl` seconds (so a year published by
    another process shows up) and dropped at once by `invalidate()` (in the process that published)."""

    def __init__(self, store: CalendarStore, ttl: float = 300.0):
        self.store = store
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, WorkingCalendar]] = {}

    def get(self, tenant: str) -> WorkingCalendar:
        now = time.monotonic()
        hit = self._cache.get(tenant)
        if hit and now - hit[0] < self._ttl:
            return hit[1]
        cal = self.store.load(tenant)
        with self._lock:
            self._cache[tenant] = (now, cal)
        return cal

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m shared.calendar_store", description="工作日历：查看、发布、初始化")
    sub = ap.add_subparsers(dest="command", required=True)

    def db_args(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("--database-url", required=required, help="SQLAlchemy URL (应用角色即可)")
        p.add_argument("--schema", default="catalogue")

    show = sub.add_parser("show", help="显示某年的节假日安排")
    show.add_argument("--year", type=int, required=True)
    show.add_argument("--region", default="", help="租户区划代码（取最具体的地区日历）")
    db_args(show, required=False)

    pub = sub.add_parser("publish", help="发布（或更正）某年的节假日安排")
    pub.add_argument("--year", type=int, required=True)
    pub.add_argument("--file", type=pathlib.Path, required=True, help="CalendarYear JSON")
    pub.add_argument("--region", default="", help="空为全国；否则为区划代码前缀")
    pub.add_argument("--by", default="admin", help="发布人")
    db_args(pub, required=True)

    seed = sub.add_parser("seed", help="从 chinese-calendar 初始化尚未保存的年份")
    seed.add_argument("--from-year", type=int, default=DEFAULT_SEED_YEARS.start)
    seed.add_argument("--to-year", type=int, default=DEFAULT_SEED_YEARS.stop - 1)
    db_args(seed, required=True)

    args = ap.parse_args(argv)
    engine = create_engine(args.database_url) if args.database_url else None
    try:
        if args.command == "show":
            if engine is None:
                cy: CalendarYear | None = seed_year_from_package(args.year)
            else:
                cy = CalendarStore(engine, args.schema).load(args.region).year(args.year)
            if cy is None:
                print(f"{args.year} 年日历尚未发布（暂按周一至周五上班计算）")
                return 1
            print(cy.describe())
        elif args.command == "publish":
            cy = CalendarYear.from_json(args.file.read_text(encoding="utf-8"))
            if cy.year != args.year:
                raise InvalidArgument("year", f"文件中的年份 {cy.year} 与 --year {args.year} 不一致")
            assert engine is not None
            stored = CalendarStore(engine, args.schema).publish(cy, args.region, by=args.by)
            where = f"地区 {args.region}" if args.region else "全国"
            print(f"已发布 {stored.year} 年日历（{where}），"
                  f"节假日 {len(stored.holidays)} 天，调休上班 {len(stored.makeup_workdays)} 天")
        else:
            assert engine is not None
            years = range(args.from_year, args.to_year + 1)
            done = CalendarStore(engine, args.schema).seed_from_package(years)
            print("已初始化：" + ("、".join(map(str, done)) if done else "无（均已存在）"))
    except DomainError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    finally:
        if engine is not None:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
