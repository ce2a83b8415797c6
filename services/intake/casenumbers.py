"""Case numbers (办件编号, GB/T 39046 an..50), plain Python: no I/O.

The number a case is known by from its acceptance on: on every notice, in the approval service, at
the fee window and in the public progress lookup. The sequence behind it lives in PostgreSQL
(`IntakeRepository.next_sequence`); here only its shape and the checks of a number someone types.
"""

from __future__ import annotations

import datetime as dt
import re

from shared.errors import FailedPrecondition, InvalidArgument

CASE_NUMBER_MAX_DEFAULT = 50       # GB/T 39046-2020: 办件编号 an..50
CASE_SEQUENCE_MAX = 999_999
CASE_NUMBER_RE = re.compile(r"^(\d{12})(\d{8})(\d{6})$")


def format_case_number(tenant: str, on: dt.date, seq: int, max_length: int = CASE_NUMBER_MAX_DEFAULT) -> str:
    """`{tenant code right-padded to 12 with 0}{yyyymmdd of acceptance}{6-digit per-tenant yearly sequence}`
    — 26 characters, e.g. 620602001000 20260302 000017 (no separators). The sequence restarts each year
    per tenant, has no gaps and is never reused; the date makes the number readable at a glance."""
    if not 1 <= seq <= CASE_SEQUENCE_MAX:
        raise FailedPrecondition(f"本单位 {on.year} 年办件编号已用尽（每年最多 {CASE_SEQUENCE_MAX} 件）")
    if not tenant.isdigit() or len(tenant) > 12:
        raise FailedPrecondition(f"单位代码不能用于办件编号：{tenant}")
    number = f"{tenant.ljust(12, '0')}{on:%Y%m%d}{seq:06d}"
    if len(number) > max_length:
        raise FailedPrecondition(f"办件编号长度 {len(number)} 超过本省规定的最大长度 {max_length}")
    return number


def parse_case_number(number: str) -> tuple[str, dt.date, int] | None:
    m = CASE_NUMBER_RE.match(number or "")
    if not m:
        return None
    try:
        day = dt.date(int(m[2][:4]), int(m[2][4:6]), int(m[2][6:]))
    except ValueError:
        return None
    return m[1], day, int(m[3])


def check_case_number(number: str, max_length: int = CASE_NUMBER_MAX_DEFAULT) -> str:
    n = (number or "").strip()
    if not n:
        raise InvalidArgument("case_number", "请输入办件编号")
    if len(n) > max_length or not re.fullmatch(r"[0-9A-Za-z\-]+", n):
        raise InvalidArgument("case_number", "办件编号格式不正确")
    return n
