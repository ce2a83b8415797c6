"""Deadline arithmetic on the working-day calendar: 100,000 due dates, fast path and with trace.

Baseline, measured in the same run on the same inputs: the naive loop everyone writes first — add a
day with `datetime` arithmetic, skip Saturday and Sunday, count until N (it knows no holidays and no
调休, so it is also wrong; it is here only as the cost of the obvious approach).
"""

from __future__ import annotations

import datetime as dt
import random

from shared.calendar import WorkingCalendar, seed_year_from_package
from tests.bench.common import Figure, timed

N = 100_000


def naive_due(start: dt.date, days: int) -> dt.date:
    d, n = start, 0
    one = dt.timedelta(days=1)
    while n < days:
        d += one
        if d.weekday() < 5:
            n += 1
    return d


def inputs(n: int = N, seed: int = 20260918) -> list[tuple[dt.date, int]]:
    rng = random.Random(seed)
    lo, hi = dt.date(2024, 1, 1).toordinal(), dt.date(2026, 12, 31).toordinal()
    return [(dt.date.fromordinal(rng.randint(lo, hi)), rng.randint(1, 60)) for _ in range(n)]


def run() -> list[Figure]:
    cal = WorkingCalendar(seed_year_from_package(y) for y in range(2020, 2027))
    work = inputs()
    due_date, add_working_days = cal.due_date, cal.add_working_days

    def baseline() -> None:
        for start, days in work:
            naive_due(start, days)

    def fast() -> None:
        for start, days in work:
            due_date(start, days)

    def traced() -> None:
        for start, days in work:
            add_working_days(start, days)

    fast()  # warm up (and the calendar's tables are already built)
    base_s = timed(baseline)
    fast_s = timed(fast)
    trace_s = timed(traced)
    provisional = sum(due_date(s, d)[1] for s, d in work)
    note = (f"{N:,} starts in 2024–2026, 1–60 working days; {provisional:,} run into unpublished 2027 "
            "(provisional)")
    return [
        Figure("calendar due_date ×100k (fast path, no trace)", fast_s, "s",
               baseline_name="naive Sat/Sun-skipping datetime loop ×100k", baseline_value=base_s,
               higher_is_better=False, note=note),
        Figure("calendar add_working_days ×100k (with trace)", trace_s, "s",
               baseline_name="naive Sat/Sun-skipping datetime loop ×100k", baseline_value=base_s,
               higher_is_better=False, note=note),
    ]


if __name__ == "__main__":
    for f in run():
        print(f"{f.name}: {f.value:.3f} {f.unit} (baseline {f.baseline_name}: "
              f"{f.baseline_value:.3f} {f.unit}, ratio {f.ratio:.3f}) — {f.note}")
