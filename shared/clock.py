"""The platform's clock: what day it is for deadlines, in China Standard Time (UTC+8, no DST).

Government deadlines are counted in local calendar days, so "today" is the date in Beijing time,
not in UTC. A drill or test deployment may pin the date (`SANJI_FIXED_TODAY=YYYY-MM-DD` in the
service's settings): `today()` then returns that date, and `now()` that date at the current local
time of day. The value is read from the settings object in the composition root
(`Clock.from_settings(settings)`) — nothing here reads the environment (DESIGN §7 habit 6).
Tests build a `Clock` directly and move it with `set_today`.
"""

from __future__ import annotations

import datetime as dt
import threading

CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")


class Clock:
    """System time in Beijing, unless a date is pinned."""

    def __init__(self, fixed_today: dt.date | None = None):
        self._lock = threading.Lock()
        self._fixed = fixed_today

    @classmethod
    def from_settings(cls, settings) -> Clock:
        """`settings.fixed_today` (a date, an ISO string or empty) pins the date."""
        value = getattr(settings, "fixed_today", None)
        if isinstance(value, str):
            value = dt.date.fromisoformat(value.strip()) if value.strip() else None
        if isinstance(value, dt.datetime):
            value = value.date()
        return cls(value)

    @property
    def fixed(self) -> bool:
        return self._fixed is not None

    def set_today(self, day: dt.date | None) -> None:
        """Pin (or, with None, unpin) the date — drills and tests."""
        with self._lock:
            self._fixed = day

    def now(self) -> dt.datetime:
        real = dt.datetime.now(CHINA_TZ)
        with self._lock:
            fixed = self._fixed
        if fixed is None:
            return real
        return dt.datetime.combine(fixed, real.timetz())

    def today(self) -> dt.date:
        with self._lock:
            fixed = self._fixed
        return fixed if fixed is not None else dt.datetime.now(CHINA_TZ).date()


__all__ = ["Clock", "CHINA_TZ"]
