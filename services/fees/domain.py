"""The rules of one-window fees (一个窗口收费): plain Python, no I/O. Here: a case's fees, its status and the
identifiers that carry their tenant; beside it, one module per concern —

- money.py       money in integer fen, declared decimals, checked text
- catalogue.py   the fee catalogue (收费目录): standards, definitions, fee items and their versions
- assessment.py  assessing a case's lines (核定), 收费从低, reductions and waivers (减免)
- payments.py    the province's payment callbacks, matching, receipts, reconciliation and refunds

Identifiers that carry their tenant: a case number (intake's format: the tenant code right-padded to
12 digits, the 8-digit acceptance date and a 6-digit sequence) and a notice number, so a callback of the
province, which carries only the notice number, is bound to the right tenant and a cashier can never
issue a notice for another tenant's case.

A notice number is 25 digits a payer can read aloud or key in at a bank counter:
`{tenant padded to 12}{yyyy}{8 random digits}{Luhn check digit}`. The 8 digits are drawn at random
(10⁸ per unit and year; a draw that hits an existing notice is drawn again), so a number says nothing
about the next one (issue 15: sequential numbers let anyone walk a county's notices). The unit's gapless
yearly count of notices is kept beside it as the notice's serial (序号), for the books, not in the number.
Beside the number every notice gets a verification code (查验码, `new_verification_code`), printed on it
and in its QR code: the public payment status answers only to the number with its code.
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from services.fees.assessment import FeeLine, LineStatus
from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from shared.tenancy import DivisionCode, Role

CASE_NUMBER_RE = re.compile(r"^(\d{12})(\d{8})(\d{6})$")
NOTICE_NUMBER_RE = re.compile(r"^(\d{12})(\d{4})(\d{8})(\d)$")
NOTICE_RANDOM_SPACE = 10 ** 8          # the 8 random digits of a notice number
NOTICE_SERIAL_MAX = 99_999_999
# the verification code's symbols: digits and capitals without the ones people misread (0/O, 1/I/L)
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_MIN_LENGTH, CODE_MAX_LENGTH = 8, 16
_CODE_SEPARATORS = re.compile(r"[\s\-]+")
# who reads a unit's fees: its cashiers, its head, and supervisors (a supervisor also the units below)
READERS = (Role.CASHIER, Role.HEAD, Role.SUPERVISOR)


class CaseStatus(enum.StrEnum):
    AWAITING = "awaiting_assessment"   # 待核定（审批决定后）
    ASSESSED = "assessed"              # 已核定，待开具缴款书
    NOTICED = "noticed"                # 已开具缴款书，待缴款
    SETTLED = "settled"                # 已缴清或已减免
    CLOSED = "closed"                  # 不予许可等，终止收费


CASE_STATUS_LABELS = {CaseStatus.AWAITING: "待核定", CaseStatus.ASSESSED: "已核定待开票",
                      CaseStatus.NOTICED: "已开具缴款书待缴款", CaseStatus.SETTLED: "已结清",
                      CaseStatus.CLOSED: "已终止"}


class NoticeStatus(enum.StrEnum):
    ISSUED = "issued"       # 待缴款
    PAID = "paid"           # 已缴款: the notice, countersigned, is the receipt
    VOID = "void"           # 已作废 (the case was denied before it was paid)


@dataclass(frozen=True)
class CaseDecision:
    """Approval's decision on a case, as far as its fees go (case_decided): an approved case with fees waits
    at the fee window, or is assessed at once; a denied one's unpaid notice is voided."""

    case_number: str
    outcome: str                         # approved | denied
    has_fees: bool = False
    government_invested: bool = False
    key_project: bool = False
    applicant_name: str = ""
    item_id: str = ""
    item_version: int = 0
    fee_codes: tuple[str, ...] = ()
    at: str = ""                         # when it was decided (ISO 8601), as approval wrote it


def check_case_number(number: str, tenant: DivisionCode) -> str:
    """A case number of the caller's own tenant (the number carries its tenant)."""
    number = (number or "").strip()
    if not number:
        raise InvalidArgument("case_number", "请输入办件编号")
    m = CASE_NUMBER_RE.match(number)
    if not m:
        raise InvalidArgument("case_number", "办件编号格式不正确（应为 26 位数字）")
    if m.group(1) != str(tenant).ljust(12, "0"):
        raise PermissionDenied("该办件不属于本单位，不能核定收费或开具缴款书")
    return number


def case_tenant(number: str) -> str | None:
    m = CASE_NUMBER_RE.match(number or "")
    return _unpad(m.group(1)) if m else None


def _unpad(padded: str) -> str:
    if padded[6:] == "000000":
        return padded[:6]
    if padded[9:] == "000":
        return padded[:9]
    return padded


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def format_notice_number(tenant: str, year: int, random_part: int) -> str:
    if not 0 <= random_part < NOTICE_RANDOM_SPACE:
        raise ValueError(f"a notice number's random part is 8 digits, not {random_part}")
    body = f"{tenant.ljust(12, '0')}{year:04d}{random_part:08d}"
    return body + luhn_digit(body)


def draw_notice_number(tenant: str, year: int, draw: Callable[[int], int] = secrets.randbelow) -> str:
    """A new notice number with its 8 digits drawn by `draw(n)` (an integer in [0, n): `secrets.randbelow`;
    a test gives a seeded generator to know the number in advance)."""
    return format_notice_number(tenant, year, draw(NOTICE_RANDOM_SPACE))


def check_serial(serial: int, year: int) -> int:
    if not 1 <= serial <= NOTICE_SERIAL_MAX:
        raise serials_used_up(year)
    return serial


def serials_used_up(year: int) -> FailedPrecondition:
    """What the cashier reads when the unit's yearly serials are used up (the database's CHECK refused one)."""
    return FailedPrecondition(f"本单位 {year} 年缴款书序号已用尽")


def new_verification_code(length: int = CODE_MIN_LENGTH, draw: Callable[[int], int] = secrets.randbelow) -> str:
    """The notice's verification code (查验码): `length` symbols of CODE_ALPHABET drawn by `draw`."""
    if not CODE_MIN_LENGTH <= length <= CODE_MAX_LENGTH:
        raise ValueError(f"a verification code has {CODE_MIN_LENGTH} to {CODE_MAX_LENGTH} symbols, not {length}")
    return "".join(CODE_ALPHABET[draw(len(CODE_ALPHABET))] for _ in range(length))


def check_verification_code(code: str, field_name: str = "code") -> str:
    """A code as a payer types it (any case, spaces or hyphens between groups) in its one form; one that
    cannot be a code is refused naming the field. Whether it is the notice's code is for the lookup."""
    c = _CODE_SEPARATORS.sub("", code or "").upper()
    if not c:
        raise InvalidArgument(field_name, "请输入缴款书上的查验码")
    if not CODE_MIN_LENGTH <= len(c) <= CODE_MAX_LENGTH or any(ch not in CODE_ALPHABET for ch in c):
        raise InvalidArgument(field_name, "查验码为缴款书上的字母和数字（8 至 16 位）")
    return c


def same_code(expected: str | None, given: str) -> bool:
    """Constant-time comparison: how long it takes says nothing about how much of the code was right. A notice
    without a code (issued before codes existed, not yet reprinted) matches no code."""
    return hmac.compare_digest((expected or "\x00").encode(), given.encode()) and bool(expected)


def notice_tenant(number: str) -> str | None:
    """The tenant a well-formed notice number belongs to; None when malformed or its check digit fails."""
    m = NOTICE_NUMBER_RE.match((number or "").strip())
    if not m or luhn_digit(number[:-1]) != number[-1]:
        return None
    try:
        return str(DivisionCode(_unpad(m.group(1))))
    except InvalidArgument:
        return None


def check_notice_number(number: str, field_name: str = "notice_number") -> tuple[str, str]:
    number = (number or "").strip()
    if not number:
        raise InvalidArgument(field_name, "请输入缴款书编号")
    tenant = notice_tenant(number)
    if tenant is None:
        raise InvalidArgument(field_name, "缴款书编号格式不正确或校验位不符（应为 25 位数字）")
    return number, tenant


def case_totals(lines: Iterable[FeeLine]) -> tuple[int, int, int]:
    """(assessed, waived, due) in fen."""
    lines = list(lines)
    return saved_totals(sum(x.amount_fen for x in lines), sum(x.waived_fen for x in lines))


def saved_totals(total: int, waived: int) -> tuple[int, int, int]:
    """(assessed, waived, due) in fen of a case's assessed and waived sums (as `case_totals` of its lines, or as a
    case row keeps them: a list that reads no line)."""
    return total, waived, total - waived


@dataclass
class CaseFees:
    """The fees of one case: its lines (every department's), its status and its money."""

    tenant: str
    case_number: str
    status: CaseStatus
    source: str = "cashier"
    government_invested: bool = False
    key_project: bool = False
    applicant_name: str = ""
    item_id: str = ""
    item_version: int = 0
    item_name: str = ""
    expected_fee_codes: tuple[str, ...] = ()
    lines: list[FeeLine] = field(default_factory=list)
    paid_fen: int = 0
    refunded_fen: int = 0
    assessed_by: str = ""
    assessed_at: dt.datetime | None = None
    settled_at: dt.datetime | None = None
    decided_at: dt.datetime | None = None

    @property
    def favoured(self) -> bool:
        """Government-invested and key projects pay the lower bound (收费从低)."""
        return self.government_invested or self.key_project

    @property
    def totals(self) -> tuple[int, int, int]:
        return case_totals(self.lines)

    def check_assessable(self) -> None:
        if self.status in (CaseStatus.NOTICED, CaseStatus.SETTLED, CaseStatus.CLOSED):
            raise FailedPrecondition(f"该办件收费{CASE_STATUS_LABELS[self.status]}，不能重新核定")

    def assess(self, lines: list[FeeLine], *, by: str, at: dt.datetime) -> None:
        self.check_assessable()
        if not lines:
            raise InvalidArgument("lines", "请至少核定一项收费")
        self.lines = lines
        self.status = CaseStatus.ASSESSED
        self.assessed_by, self.assessed_at = by, at

    def line(self, line_no: int) -> FeeLine:
        found = next((x for x in self.lines if x.line_no == line_no), None)
        if found is None:
            raise InvalidArgument("line_no", f"该办件没有第 {line_no} 项收费")
        return found

    def replace_line(self, new: FeeLine) -> None:
        self.lines = [new if x.line_no == new.line_no else x for x in self.lines]

    def check_waivable(self) -> None:
        if self.status != CaseStatus.ASSESSED:
            raise FailedPrecondition("只有已核定、尚未开具缴款书的收费可以减免"
                                     f"（当前：{CASE_STATUS_LABELS[self.status]}）")

    def check_issuable(self) -> int:
        """The amount the notice will ask for."""
        if self.status == CaseStatus.AWAITING:
            raise FailedPrecondition("该办件尚未核定收费，请先核定")
        if self.status != CaseStatus.ASSESSED:
            raise FailedPrecondition(f"该办件收费{CASE_STATUS_LABELS[self.status]}，不能再开具缴款书")
        due = self.totals[2]
        if due <= 0:
            raise FailedPrecondition("该办件的收费已全部减免，无需开具缴款书")
        return due

    @property
    def fully_waived(self) -> bool:
        return bool(self.lines) and all(x.status == LineStatus.WAIVED for x in self.lines)

    def mark_paid(self, amount: int, at: dt.datetime) -> None:
        for x in self.lines:
            if x.status == LineStatus.UNPAID:
                x.status = LineStatus.PAID
        self.paid_fen += amount
        self.settle(at)

    def settle(self, at: dt.datetime) -> None:
        if all(x.status in (LineStatus.PAID, LineStatus.WAIVED) for x in self.lines):
            self.status = CaseStatus.SETTLED
            self.settled_at = at
