"""Identity numbers, one rule for every service: 居民身份证号码 (GB 11643-1999) and 统一社会信用代码
(GB 32100-2015). Plain Python, no I/O: a domain module may import it.

Intake (the applicant at the window) and agency (the resident at a village point) check an ID the same
way, so an ID a village agent registers is one the window will take.
"""

from __future__ import annotations

import datetime as dt
import re

from shared.errors import InvalidArgument

_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
# province-level codes of GB/T 2260 (the first two digits of a resident ID)
PROVINCES = frozenset({11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                       50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83})
EARLIEST_BIRTH = dt.date(1900, 1, 1)

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"    # no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_AUTHORITIES = "123456789ANY"                  # 登记管理部门代码


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    return _RID_CHECK[sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True)) % 11]


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character (MOD 31) of the first 17 characters."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def birth_date_of(number: str) -> dt.date | None:
    """The birth date a resident ID number carries (GB 11643: digits 7–14), or None for any other number
    (a USCC, a malformed one)."""
    n = (number or "").strip().upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", n):
        return None
    try:
        return dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return None


def check_resident_id(number: str, field_name: str, today: dt.date) -> str:
    """A plausible 18-character resident ID: digits, a real province code, a real birth date not after
    `today`, the right check character. Returns it normalised (upper-case X)."""
    n = (number or "").strip().upper()
    if not n:
        raise InvalidArgument(field_name, "请填写居民身份证号码")
    if len(n) != 18:
        raise InvalidArgument(field_name, f"居民身份证号码应为 18 位（当前 {len(n)} 位）")
    if not re.fullmatch(r"[0-9]{17}[0-9X]", n):
        raise InvalidArgument(field_name, "居民身份证号码格式不正确：前 17 位应为数字，末位为数字或 X")
    if int(n[:2]) not in PROVINCES:
        raise InvalidArgument(field_name, f"居民身份证号码的地区码不正确：{n[:6]}")
    try:
        birth = dt.date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        raise InvalidArgument(field_name, f"居民身份证号码中的出生日期不存在：{n[6:14]}") from None
    if birth < EARLIEST_BIRTH or birth > today:
        raise InvalidArgument(field_name, f"居民身份证号码中的出生日期不合理：{birth.isoformat()}")
    if resident_id_check_char(n[:17]) != n[17]:
        raise InvalidArgument(field_name, "居民身份证号码校验码不正确，请核对（GB 11643）")
    return n


def check_uscc(number: str, field_name: str) -> str:
    """An 18-character unified social credit code with the right check character."""
    n = (number or "").strip().upper()
    if not n:
        raise InvalidArgument(field_name, "请填写统一社会信用代码")
    if len(n) != 18:
        raise InvalidArgument(field_name, f"统一社会信用代码应为 18 位（当前 {len(n)} 位）")
    bad = next((c for c in n if c not in _USCC_CHARS), None)
    if bad is not None:
        raise InvalidArgument(field_name, f"统一社会信用代码含有不允许的字符：{bad}（不使用 I、O、S、V、Z）")
    if n[0] not in _USCC_AUTHORITIES or not n[2:8].isdigit():
        raise InvalidArgument(field_name, "统一社会信用代码格式不正确（登记管理部门代码或行政区划码有误）")
    if uscc_check_char(n[:17]) != n[17]:
        raise InvalidArgument(field_name, "统一社会信用代码校验码不正确，请核对（GB 32100）")
    return n


def check_id_number(id_type: str, number: str, field_name: str, today: dt.date) -> str:
    """`uscc` for an organisation, anything else a resident ID."""
    if id_type == "uscc":
        return check_uscc(number, field_name)
    return check_resident_id(number, field_name, today)
