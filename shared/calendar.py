"""The working-day calendar (工作日历) and deadline arithmetic on it (DESIGN §6, the deadline ledger).

China's calendar has weekends, statutory holidays (法定节假日) *and* make-up working days on weekends
(调休上班; 2026-10-10, a Saturday, was a working day). The platform keeps the calendar as data: one
`CalendarYear` per year, seeded from the `chinese-calendar` package (which knows years up to 2026 and
raises for 2027) or published by an administrator when the State Council announces the next year.

A deadline is a budget of working days plus a ledger of pauses (专家评审, 检验检测, the applicant's
corrections …), computed on a `WorkingCalendar`. Days in a year that nobody has published yet fall
back to "Monday–Friday work, Saturday/Sunday off", and any deadline that looks at such a day is
*provisional* (暂定): it is re-projected once the year is published. Nothing here raises for an
unpublished year.

Pure Python: the only I/O-ish import (`chinese_calendar`) happens inside `seed_year_from_package`.
Persistence lives in `shared.calendar_store`; `python -m shared.calendar_store …` is its small CLI.
"""

from __future__ import annotations

import datetime as dt
import json
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from shared.errors import InvalidArgument

__all__ = [
    "CalendarYear", "Pause", "TraceDay", "DeadlineResult", "WorkingCalendar", "seed_year_from_package",
    "HOLIDAY_NAMES_ZH", "PACKAGE_SOURCE_PREFIX", "WEEKDAY_ZH",
]

WEEKDAY_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")

# The package's English holiday names (chinese_calendar.constants.Holiday values) → the names people read.
HOLIDAY_NAMES_ZH: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}

PACKAGE_SOURCE_PREFIX = "chinese-calendar"
ADMIN_SOURCE = "admin"

# Reasons a day counted or not (the proto's DeadlineTraceDay.reason uses the same strings).
R_WORKDAY = "workday"
R_WEEKEND = "weekend"
R_HOLIDAY = "holiday:"
R_MAKEUP = "makeup_workday:"
R_UNPUBLISHED = "unpublished_year"
R_PAUSED = "paused:"


# ---------------------------------------------------------------------------------------------
# One year of the calendar
# ---------------------------------------------------------------------------------------------

def _parse_date(value: Any, field_name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise InvalidArgument(field_name, f"应为日期而不是时间：{value!r}")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidArgument(field_name, f"日期格式不正确：{value!r}（应为 YYYY-MM-DD）") from None


def _clean_days(year: int, days: Mapping[Any, Any], field_name: str) -> dict[dt.date, str]:
    if not isinstance(days, Mapping):
        raise InvalidArgument(field_name, "应为“日期 → 节日名称”的映射")
    out: dict[dt.date, str] = {}
    for key, name in days.items():
        d = _parse_date(key, field_name)
        if d.year != year:
            raise InvalidArgument(field_name, f"{d.isoformat()} 不在 {year} 年内")
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgument(field_name, f"{d.isoformat()} 缺少节日名称")
        out[d] = name.strip()
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class CalendarYear:
    """One year's holiday arrangement (节假日安排), as announced by the State Council.

    `holidays`: day → holiday name (e.g. 国庆节); a holiday may fall on a weekend.
    `makeup_workdays`: Saturdays/Sundays that are working days (调休上班) → the holiday they make up for.
    Days in neither follow the week: Monday–Friday work, Saturday/Sunday off.
    """

    year: int
    holidays: dict[dt.date, str] = field(default_factory=dict)
    makeup_workdays: dict[dt.date, str] = field(default_factory=dict)
    published_at: dt.datetime | None = None
    published_by: str = ""
    source: str = ADMIN_SOURCE

    def __post_init__(self) -> None:
        if isinstance(self.year, bool) or not isinstance(self.year, int) or not 1 <= self.year <= 9999:
            raise InvalidArgument("year", f"年份不正确：{self.year!r}")
        holidays = _clean_days(self.year, self.holidays, "holidays")
        makeup = _clean_days(self.year, self.makeup_workdays, "makeup_workdays")
        for d in makeup:
            if d.weekday() < 5:
                wd = WEEKDAY_ZH[d.weekday()]
                raise InvalidArgument("makeup_workdays", f"{d.isoformat()} 是{wd}，调休上班日只能是周六或周日")
        both = sorted(set(holidays) & set(makeup))
        if both:
            raise InvalidArgument("makeup_workdays",
                                  f"{both[0].isoformat()} 不能既是节假日又是调休上班日")
        if self.published_at is not None and not isinstance(self.published_at, dt.datetime):
            raise InvalidArgument("published_at", f"发布时间格式不正确：{self.published_at!r}")
        if not isinstance(self.published_by, str):
            raise InvalidArgument("published_by", "发布人应为文本")
        if not isinstance(self.source, str) or not self.source.strip():
            raise InvalidArgument("source", "来源不能为空")
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "makeup_workdays", makeup)

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "holidays": {d.isoformat(): n for d, n in self.holidays.items()},
            "makeup_workdays": {d.isoformat(): n for d, n in self.makeup_workdays.items()},
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "published_by": self.published_by,
            "source": self.source,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalendarYear:
        if not isinstance(data, Mapping):
            raise InvalidArgument("calendar_year", "日历数据应为 JSON 对象")
        if "year" not in data:
            raise InvalidArgument("year", "缺少年份")
        year = data["year"]
        if isinstance(year, str) and year.strip().isdigit():
            year = int(year)
        published_at = data.get("published_at")
        if isinstance(published_at, str) and published_at:
            try:
                published_at = dt.datetime.fromisoformat(published_at)
            except ValueError:
                raise InvalidArgument("published_at", f"发布时间格式不正确：{published_at!r}") from None
        return cls(
            year=year,
            holidays=data.get("holidays") or {},
            makeup_workdays=data.get("makeup_workdays") or {},
            published_at=published_at or None,
            published_by=data.get("published_by") or "",
            source=data.get("source") or ADMIN_SOURCE,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> CalendarYear:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidArgument("calendar_year", f"不是有效的 JSON：{exc}") from None
        return cls.from_dict(data)

    def describe(self) -> str:
        """The year's arrangement in Chinese, grouped by holiday (for the CLI and the console)."""
        lines = [f"{self.year} 年节假日安排（来源：{self.source}）"]
        groups: dict[str, tuple[list[dt.date], list[dt.date]]] = {}
        for d, n in self.holidays.items():
            groups.setdefault(n, ([], []))[0].append(d)
        for d, n in self.makeup_workdays.items():
            groups.setdefault(n, ([], []))[1].append(d)
        for name, (off, work) in sorted(groups.items(), key=lambda kv: min(kv[1][0] or kv[1][1])):
            text = f"  {name}："
            if off:
                text += f"{_fmt_range(off)} 放假，共 {len(off)} 天"
            if work:
                text += "；" if off else ""
                text += "、".join(f"{d.isoformat()}（{WEEKDAY_ZH[d.weekday()]}）" for d in work) + " 调休上班"
            lines.append(text)
        if len(lines) == 1:
            lines.append("  （无节假日，按周一至周五上班）")
        return "\n".join(lines)


def _fmt_range(days: list[dt.date]) -> str:
    days = sorted(days)
    if days[-1].toordinal() - days[0].toordinal() == len(days) - 1:
        return days[0].isoformat() if len(days) == 1 else f"{days[0].isoformat()} 至 {days[-1].isoformat()}"
    return "、".join(d.isoformat() for d in days)


def seed_year_from_package(year: int, *, now: dt.datetime | None = None) -> CalendarYear:
    """The year as the `chinese-calendar` package knows it (only named holidays and make-up days:
    the package also calls plain weekends holidays, which the calendar does not store).

    Raises InvalidArgument("year", …) for a year the package has no data for (e.g. 2027 with 1.11.0).
    """
    import chinese_calendar  # only the seeding needs the package

    version = getattr(chinese_calendar, "__version__", "")
    try:
        chinese_calendar.get_holiday_detail(dt.date(year, 1, 1))
    except NotImplementedError:
        raise InvalidArgument(
            "year", f"chinese-calendar {version} 没有 {year} 年的节假日安排，"
                    "请由管理员按国务院通知发布该年日历",
        ) from None

    def zh(name: object) -> str:
        key = getattr(name, "value", name)
        if key not in HOLIDAY_NAMES_ZH:
            raise InvalidArgument("year", f"chinese-calendar 中的节日名称未配置中文：{key!r}")
        return HOLIDAY_NAMES_ZH[str(key)]

    return CalendarYear(
        year=year,
        holidays={d: zh(n) for d, n in chinese_calendar.holidays.items() if d.year == year},
        makeup_workdays={d: zh(n) for d, n in chinese_calendar.workdays.items() if d.year == year},
        published_at=now or dt.datetime.now(dt.UTC),
        published_by=PACKAGE_SOURCE_PREFIX,
        source=f"{PACKAGE_SOURCE_PREFIX} {version}".strip(),
    )


# ---------------------------------------------------------------------------------------------
# Deadlines
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pause:
    """A suspension of the clock (暂停计时), inclusive of both ends: working days in it are not counted.

    Special procedures (听证、招标、拍卖、检验、检测、检疫、鉴定、专家评审) and the applicant's
    correction time (补正). `end=None`: still open, so the deadline cannot be a date yet.
    """

    start: dt.date
    end: dt.date | None
    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.start, dt.date) or isinstance(self.start, dt.datetime):
            raise InvalidArgument("pauses", f"暂停开始日期不正确：{self.start!r}")
        if self.end is not None:
            if not isinstance(self.end, dt.date) or isinstance(self.end, dt.datetime):
                raise InvalidArgument("pauses", f"暂停结束日期不正确：{self.end!r}")
            if self.end < self.start:
                raise InvalidArgument(
                    "pauses", f"暂停结束日 {self.end.isoformat()} 早于开始日 {self.start.isoformat()}")
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise InvalidArgument("pauses", "暂停须写明原因")


class TraceDay(NamedTuple):
    """One day looked at while computing a deadline, and why it counted or not."""

    date: dt.date
    counted: bool
    # workday | weekend | holiday:<name> | makeup_workday:<name> | unpublished_year | paused:<why>
    reason: str


@dataclass(frozen=True)
class DeadlineResult:
    start: dt.date
    working_days: int
    due: dt.date | None
    provisional: bool
    unpublished_years: tuple[int, ...]
    trace: tuple[TraceDay, ...]
    paused_open: bool = False
    pauses: tuple[Pause, ...] = ()

    def explain(self) -> str:
        """The deadline explained to people, one line per day looked at (Chinese)."""
        s = self.start
        head = (f"起算日 {s.isoformat()} {WEEKDAY_ZH[s.weekday()]}（受理当日不计），"
                f"期限 {self.working_days} 个工作日")
        lines = [head]
        n = 0
        for day in self.trace:
            d, wd = day.date.isoformat(), WEEKDAY_ZH[day.date.weekday()]
            r = day.reason
            if r.startswith(R_PAUSED):
                what = f"暂停计时（{r[len(R_PAUSED):]}）"
            elif r.startswith(R_MAKEUP):
                what = f"调休上班（{r[len(R_MAKEUP):]}）"
            elif r.startswith(R_HOLIDAY):
                what = f"法定节假日（{r[len(R_HOLIDAY):]}）"
            elif r == R_WEEKEND:
                what = "周末"
            elif r == R_UNPUBLISHED:
                what = f"{day.date.year} 年日历未发布，暂按{'工作日' if day.counted else '周末'}"
            else:
                what = "工作日"
            if day.counted:
                n += 1
                lines.append(f"{d} {wd} {what}，计第{n}个工作日")
            else:
                lines.append(f"{d} {wd} {what}，不计")
        if self.paused_open:
            open_ = next((p for p in self.pauses if p.end is None), None)
            why = f"（{open_.reason}）" if open_ else ""
            lines.append(f"暂停{why}尚未结束，已计 {n} 个工作日，截止日期待暂停结束后确定")
        elif self.due is not None:
            lines.append(f"截止日期：{self.due.isoformat()} {WEEKDAY_ZH[self.due.weekday()]}")
        if self.provisional:
            years = "、".join(str(y) for y in self.unpublished_years)
            lines.append(f"注意：{years} 年节假日安排尚未发布，暂按周一至周五上班计算，截止日期为暂定，"
                         "发布后将重新计算")
        return "\n".join(lines)


def _weekdays_upto(o: int) -> int:
    """Mon–Fri days among ordinals 1..o (ordinal 1, 0001-01-01, is a Monday)."""
    w, r = divmod(o, 7)
    return 5 * w + (r if r < 5 else 5)


def _weekday_inverse(t: int) -> int:
    """The smallest ordinal o with _weekdays_upto(o) >= t (t >= 1)."""
    w, r = divmod(t - 1, 5)
    return 7 * w + r + 1


def _merge_pauses(start_ord: int, pauses: Sequence[Pause]) -> list[tuple[int, int | None]]:
    """Pause ranges as ordinals, clipped to days after the start, merged; an open one ends the list."""
    spans: list[tuple[int, int | None]] = []
    for p in pauses:
        if not isinstance(p, Pause):
            raise InvalidArgument("pauses", f"暂停记录格式不正确：{p!r}")
        e = None if p.end is None else p.end.toordinal()
        if e is not None and e <= start_ord:
            continue
        spans.append((max(p.start.toordinal(), start_ord + 1), e))
    if len(spans) > 1:
        spans.sort(key=lambda s: s[0])
    merged: list[tuple[int, int | None]] = []
    for s, e in spans:
        if merged:
            ps, pe = merged[-1]
            if pe is None:
                break
            if s <= pe + 1:
                merged[-1] = (ps, None if e is None else max(pe, e))
                continue
        merged.append((s, e))
    return merged


class WorkingCalendar:
    """The published years, precomputed for fast deadline arithmetic. Immutable: `publish_year`
    returns a new calendar, so a calendar shared between threads never changes under them.

    Internally W(o) — the number of working days among ordinals 1..o — is a monotone function: a
    prefix-count array over the span of published years (unpublished years inside the span use the
    weekday fallback) and closed-form Mon–Fri arithmetic outside it. Counting is W(b) − W(a); the due
    date is the inverse of W, a bisection in the array (O(log n), no per-day loop).
    """

    def __init__(self, years: Iterable[CalendarYear] = ()):
        by_year: dict[int, CalendarYear] = {}
        for cy in years:
            if not isinstance(cy, CalendarYear):
                raise InvalidArgument("years", f"不是日历年度：{cy!r}")
            by_year[cy.year] = cy
        self._years = dict(sorted(by_year.items()))
        self._published = frozenset(self._years)
        if self._years:
            first, last = min(self._years), max(self._years)
            self._t0 = dt.date(first, 1, 1).toordinal()
            self._t1 = dt.date(last, 12, 31).toordinal()
        else:  # empty table: everything is the weekday fallback
            self._t0, self._t1 = 1, 0
        n = self._t1 - self._t0 + 1
        base = _weekdays_upto(self._t0 - 1)
        # per day in the table: (is_working, reason); cum[i] = base + working days among the first i days
        kinds: list[tuple[bool, str]] = []
        tdays: list[TraceDay] = []            # the same, ready-made for traces without pauses
        cum = [base] * (n + 1)
        c = base
        fallback_work, fallback_off = (True, R_UNPUBLISHED), (False, R_UNPUBLISHED)
        weekday, weekend = (True, R_WORKDAY), (False, R_WEEKEND)
        for i in range(n):
            o = self._t0 + i
            d = dt.date.fromordinal(o)
            cy = self._years.get(d.year)
            is_weekday = (o - 1) % 7 < 5
            if cy is None:
                k = fallback_work if is_weekday else fallback_off
            elif d in cy.holidays:
                k = (False, R_HOLIDAY + cy.holidays[d])
            elif d in cy.makeup_workdays:
                k = (True, R_MAKEUP + cy.makeup_workdays[d])
            else:
                k = weekday if is_weekday else weekend
            kinds.append(k)
            tdays.append(TraceDay(d, k[0], k[1]))
            c += k[0]
            cum[i + 1] = c
        self._kinds = kinds
        self._tdays = tdays
        self._cum = cum
        # every year between the first and the last published one is published (the usual case)
        self._gapless = len(self._years) == (max(self._years) - min(self._years) + 1 if self._years else 0)
        self._end_w = c                       # W(t1)
        self._end_k = _weekdays_upto(self._t1)

    # -- the calendar as data --------------------------------------------------------------------

    @property
    def years(self) -> dict[int, CalendarYear]:
        return dict(self._years)

    def year(self, year: int) -> CalendarYear | None:
        return self._years.get(year)

    def is_published(self, year: int) -> bool:
        return year in self._published

    def publish_year(self, calendar_year: CalendarYear) -> WorkingCalendar:
        """A new calendar with this year added or replaced (this one is left as it was)."""
        return WorkingCalendar([*(cy for y, cy in self._years.items() if y != calendar_year.year),
                                calendar_year])

    def day_kind(self, d: dt.date) -> tuple[bool, str]:
        """(is_working, reason): workday, weekend, holiday:<name>, makeup_workday:<name>, or
        unpublished_year (then Mon–Fri counts as working, Sat/Sun not)."""
        return self._kind(d.toordinal())

    def is_working_day(self, d: dt.date) -> bool:
        return self._kind(d.toordinal())[0]

    def _kind(self, o: int) -> tuple[bool, str]:
        if self._t0 <= o <= self._t1:
            return self._kinds[o - self._t0]
        return ((o - 1) % 7 < 5, R_UNPUBLISHED)

    # -- W and its inverse ----------------------------------------------------------------------

    def _w(self, o: int) -> int:
        """Working days among ordinals 1..o."""
        if o < self._t0:
            return _weekdays_upto(o)
        if o <= self._t1:
            return self._cum[o - self._t0 + 1]
        return self._end_w + _weekdays_upto(o) - self._end_k

    def _w_inverse(self, t: int) -> int:
        """The smallest ordinal o with W(o) >= t."""
        cum = self._cum
        if t <= cum[0]:
            return _weekday_inverse(t)
        if t <= self._end_w:
            return self._t0 + bisect_left(cum, t) - 1
        return _weekday_inverse(t - self._end_w + self._end_k)

    def _solve(self, start_ord: int, days: int, pauses: Sequence[Pause]) -> tuple[int | None, int]:
        """(due ordinal or None when an open pause is reached, last ordinal looked at)."""
        if days == 0:
            return start_ord, start_ord
        cur = start_ord
        remaining = days
        for ps, pe in _merge_pauses(start_ord, pauses) if pauses else ():
            wc = self._w(cur)
            cand = self._w_inverse(wc + remaining)
            if cand < ps:
                return cand, cand
            remaining -= self._w(ps - 1) - wc      # < remaining, since cand >= ps
            if pe is None:
                return None, ps
            cur = pe
        due = self._w_inverse(self._w(cur) + remaining)
        return due, due

    def _check(self, start: dt.date, days: int) -> int:
        if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
            raise InvalidArgument("start", f"起算日期不正确：{start!r}")
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise InvalidArgument("working_days", f"工作日数应为非负整数：{days!r}")
        return start.toordinal()

    def _unpublished_between(self, first_ord: int, last_ord: int) -> tuple[int, ...]:
        if last_ord < first_ord or (self._gapless and self._t0 <= first_ord and last_ord <= self._t1):
            return ()
        y0 = dt.date.fromordinal(first_ord).year
        y1 = dt.date.fromordinal(last_ord).year
        pub = self._published
        return tuple(y for y in range(y0, y1 + 1) if y not in pub)

    # -- the public arithmetic ---------------------------------------------------------------

    def due_date(self, start: dt.date, days: int,
                 pauses: Sequence[Pause] = ()) -> tuple[dt.date | None, bool]:
        """The fast path of `add_working_days`: (due, provisional), no trace built."""
        so = self._check(start, days)
        due, last = self._solve(so, days, pauses)
        try:
            due_d = None if due is None else dt.date.fromordinal(due)
        except ValueError:
            raise InvalidArgument("working_days", "截止日期超出可表示的日期范围") from None
        return due_d, bool(self._unpublished_between(so + 1, last))

    def add_working_days(self, start: dt.date, days: int, pauses: Sequence[Pause] = ()) -> DeadlineResult:
        """The day on which a budget of `days` working days runs out, with the trace of every day.

        - `start` is the day of receipt/acceptance and does not count; counting begins the next day.
        - The due date is the day on which the `days`-th counted working day falls; `days=0` → `start`.
        - A working day counts unless it lies in a pause (inclusive range). A pause still open
          (`end=None`) that is reached before the budget runs out leaves the deadline without a date:
          `due=None`, `paused_open=True`, the trace stopping at the pause's first day.
        - Days in a year not published fall back to Mon–Fri work, Sat/Sun off; if any day looked at
          (after `start`, up to the due date) lies in such a year the result is `provisional`.
        """
        so = self._check(start, days)
        pauses = tuple(pauses)
        due, last = self._solve(so, days, pauses)
        if due is not None:
            try:
                dt.date.fromordinal(due)
            except ValueError:
                raise InvalidArgument("working_days", "截止日期超出可表示的日期范围") from None
        trace = self._trace(so, last, pauses)
        unpublished = self._unpublished_between(so + 1, last)
        return DeadlineResult(
            start=start, working_days=days, due=None if due is None else dt.date.fromordinal(due),
            provisional=bool(unpublished), unpublished_years=unpublished, trace=trace,
            paused_open=due is None, pauses=pauses,
        )

    def _trace(self, start_ord: int, last_ord: int, pauses: tuple[Pause, ...]) -> tuple[TraceDay, ...]:
        spans = [(p.start.toordinal(), p.end.toordinal() if p.end else last_ord, R_PAUSED + p.reason)
                 for p in pauses if (p.end is None or p.end.toordinal() > start_ord)]
        t0, t1, tdays, fromordinal = self._t0, self._t1, self._tdays, dt.date.fromordinal
        if not spans and t0 <= start_ord + 1 and last_ord <= t1:
            return tuple(tdays[start_ord + 1 - t0:last_ord + 1 - t0])
        spans.sort()
        out: list[TraceDay] = []
        si = 0
        for o in range(start_ord + 1, last_ord + 1):
            paused = None
            if spans:
                while si < len(spans) and spans[si][1] < o:
                    si += 1
                for s, e, why in spans[si:]:
                    if s > o:
                        break
                    if o <= e:
                        paused = why
                        break
            if paused is not None:
                out.append(TraceDay(fromordinal(o), False, paused))
                continue
            if t0 <= o <= t1:
                out.append(tdays[o - t0])
            else:
                out.append(TraceDay(fromordinal(o), (o - 1) % 7 < 5, R_UNPUBLISHED))
        return tuple(out)

    def working_days_between(self, a: dt.date, b: dt.date, pauses: Sequence[Pause] = ()) -> int:
        """Counted working days in (a, b] — "how many working days have passed" since `a` by `b`.
        Working days inside pauses (an open pause runs on through `b`) are not counted; 0 if b <= a."""
        ao, bo = a.toordinal(), b.toordinal()
        if bo <= ao:
            return 0
        n = self._w(bo) - self._w(ao)
        for ps, pe in _merge_pauses(ao, pauses) if pauses else ():
            if ps > bo:
                break
            e = bo if pe is None or pe > bo else pe
            n -= self._w(e) - self._w(ps - 1)
        return n

