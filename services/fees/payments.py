"""Payments, plain Python, no I/O: the provincial payment platform's callbacks (the canonical form it signs,
the fields it sends), how a verified payment relates to its notice, the receipt's text, and the checks of
reconciliation (对账) and refunds (退费).

Only an exact match is ever recorded as paid; anything else waits in the reconciliation queue.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from services.fees.assessment import FeeLine
from services.fees.domain import NoticeStatus
from services.fees.money import MAX_NAME, checked_fen, checked_text, yuan
from shared.errors import FailedPrecondition, InvalidArgument

PAYMENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_]{5,63}$")

# The fields of a callback in the order they are signed (the Callback below); a field the province adds
# is signed too, after these, in key order.
CALLBACK_FIELDS = ("payment_id", "notice_number", "amount_fen", "paid_at", "payee_account", "payer_name",
                   "channel")


def _escaped(text: str) -> str:
    """RFC 3986 percent-encoding of the UTF-8 text, every character but A-Z a-z 0-9 - . _ ~ escaped: an
    escaped key or value never contains `=` or `&`."""
    return quote(text, safe="")


def canonical_form(fields: Mapping[str, str]) -> bytes:
    """What the provincial platform signs (and its simulator and our tests, with this one function):
    every field as `key=value`, key and value percent-encoded (`_escaped`), joined by `&`, in a fixed
    order — CALLBACK_FIELDS first (one left out is signed as empty), then every other field the callback
    carries, in key order, empty or not. The signature itself is never part of it.

    One text is one set of fields: a value holding `&` or `=` cannot move a field boundary (issue 15,
    item 7: with `key=value` joined unescaped, `channel` = `unionpay&notice_number=…` signed the same
    text as a separate notice_number field).
    """
    keys = [*CALLBACK_FIELDS, *sorted(str(k) for k in fields if k not in CALLBACK_FIELDS and k != "signature")]
    return "&".join(f"{_escaped(k)}={_escaped(str(fields.get(k, '')))}" for k in keys).encode("ascii")


@dataclass(frozen=True)
class Callback:
    payment_id: str
    notice_number: str
    amount_fen: int
    paid_at: dt.datetime
    payee_account: str
    payer_name: str = ""
    channel: str = ""


def parse_callback(fields: Mapping[str, str]) -> Callback:
    def get(name: str) -> str:
        return str(fields.get(name, "")).strip()

    pid = get("payment_id")
    if not PAYMENT_ID_RE.match(pid):
        raise InvalidArgument("payment_id", "支付流水号格式不正确")
    notice = get("notice_number")
    if not notice or len(notice) > 64:
        raise InvalidArgument("notice_number", "缴款书编号缺失或过长")
    amount = checked_fen(get("amount_fen") or "x", "amount_fen", allow_zero=False)
    try:
        paid_at = dt.datetime.fromisoformat(get("paid_at"))
    except ValueError:
        raise InvalidArgument("paid_at", "缴款时间格式不正确（应为 ISO 8601）") from None
    if paid_at.tzinfo is None:
        raise InvalidArgument("paid_at", "缴款时间须带时区")
    account = get("payee_account")
    if not account:
        raise InvalidArgument("payee_account", "收款账户缺失")
    return Callback(pid, notice, amount, paid_at, account, get("payer_name")[:MAX_NAME], get("channel")[:32])


def check_paid_at(paid_at: dt.datetime, now: dt.datetime, skew: dt.timedelta,
                  issued_at: dt.datetime | None = None) -> None:
    """A payment is not made in the future, nor before its notice was issued; `skew` allows for the
    province's clock and ours differing (FeesSettings.fees_paid_at_clock_skew_seconds, a default)."""
    if paid_at > now + skew:
        raise InvalidArgument("paid_at", "缴款时间晚于当前时间，已拒绝")
    if issued_at is not None and paid_at < issued_at - skew:
        raise InvalidArgument("paid_at", "缴款时间早于缴款书开具时间，已拒绝")


PAYEE_MISMATCH = "收款账户与缴款书载明的国库或非税收入账户不符，已拒绝并记录"


def check_payee(notice_account: str, account: str) -> None:
    """The money went to the notice's treasury account, or the payment is not the notice's (收缴分离)."""
    if account != notice_account:
        raise FailedPrecondition(PAYEE_MISMATCH)


class MatchKind(enum.StrEnum):
    MATCHED = "matched"
    UNKNOWN_NOTICE = "unknown_notice"      # no such notice (yet): queued, matched once it exists
    AMOUNT_MISMATCH = "amount_mismatch"
    ALREADY_PAID = "already_paid"          # a second payment for a paid notice
    NOTICE_VOID = "notice_void"
    ACCOUNT_MISMATCH = "account_mismatch"  # a queued payment made to another account than its notice's


MATCH_LABELS = {MatchKind.UNKNOWN_NOTICE: "缴款书不存在或尚未生成", MatchKind.AMOUNT_MISMATCH: "缴款金额与缴款书不符",
                MatchKind.ALREADY_PAID: "缴款书已缴清（重复缴款）", MatchKind.NOTICE_VOID: "缴款书已作废",
                MatchKind.ACCOUNT_MISMATCH: "收款账户与缴款书不符", MatchKind.MATCHED: "已匹配"}


def match(notice_status: str | None, notice_total: int, amount: int, notice_account: str | None = None,
          account: str | None = None) -> MatchKind:
    """How a verified payment relates to its notice. Only an exact match is ever recorded as paid: the
    amount, and (where both are known) the account it was paid to."""
    if notice_status is None:
        return MatchKind.UNKNOWN_NOTICE
    if notice_status == NoticeStatus.PAID:
        return MatchKind.ALREADY_PAID
    if notice_status == NoticeStatus.VOID:
        return MatchKind.NOTICE_VOID
    if notice_account is not None and account is not None and account != notice_account:
        return MatchKind.ACCOUNT_MISMATCH
    if amount != notice_total:
        return MatchKind.AMOUNT_MISMATCH
    return MatchKind.MATCHED


# ---------------------------------------------------------------------------------------------
# refused callbacks: what one refusal keeps
# ---------------------------------------------------------------------------------------------

def rejection_record(reason: str, fields: Mapping[str, str], signature: str, body_bytes: int) -> dict:
    """What the log of refused callbacks keeps of one refusal, bounded whatever was sent: the fields as JSON
    (keys sorted) cut to `body_bytes` bytes at a character boundary, the whole body's length and SHA-256
    (to recognise a body seen elsewhere without keeping it), and short identifying fields."""
    body = json.dumps({str(k): str(v) for k, v in fields.items()}, ensure_ascii=False, sort_keys=True)
    data = body.encode("utf-8", "replace")
    return {"reason": reason[:500], "payment_id": str(fields.get("payment_id", ""))[:64],
            "notice_number": str(fields.get("notice_number", ""))[:64],
            "body": data[:body_bytes].decode("utf-8", "ignore"), "body_bytes": len(data),
            "body_sha256": hashlib.sha256(data).hexdigest(), "signature": str(signature or "")[:256]}


def receipt_text(notice: Mapping, lines: Iterable[FeeLine], payment: Callback) -> str:
    """The canonical text of a receipt: the notice and the payment, one `key=value` per line, in a
    fixed order. Its SM3 digest and the fees service's SM2 signature over it make the receipt."""
    rows = [("notice_number", notice["notice_number"]), ("case_number", notice["case_number"]),
            ("tenant", notice["tenant"]), ("total_fen", str(notice["total_fen"])),
            ("payee_name", notice["payee_name"]), ("payee_account", notice["payee_account"]),
            ("issued_at", notice["issued_at"])]
    for x in lines:
        rows.append((f"line.{x.line_no}", f"{x.fee_code}|{x.amount_fen}|{x.waived_fen}|{x.collecting_unit}"))
    rows += [("payment_id", payment.payment_id), ("amount_fen", str(payment.amount_fen)),
             ("paid_at", payment.paid_at.isoformat())]
    return "\n".join(f"{k}={v}" for k, v in rows)


# ---------------------------------------------------------------------------------------------
# reconciliation and refunds
# ---------------------------------------------------------------------------------------------

class EntryStatus(enum.StrEnum):
    """A reconciliation entry's status (对账队列)."""

    OPEN = "open"
    MATCHED = "matched"         # matched to its notice, by hand or once the notice existed
    RESOLVED = "resolved"       # refunded to the payer or closed after checking


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


def check_refund(amount_fen: int, refundable: int, reason: str) -> tuple[int, str]:
    amount = checked_fen(amount_fen, "amount_fen", allow_zero=False)
    reason = checked_text(reason, "reason", label="退费理由")
    if amount > refundable:
        raise InvalidArgument("amount_fen", f"退费金额超过可退金额 {yuan(refundable)} 元")
    return amount, reason


RESOLUTIONS = {"match": "人工匹配到缴款书", "refund": "申请退还缴款人", "close": "核实后关闭"}


def check_resolution(action: str, note: str) -> tuple[str, str]:
    if action not in RESOLUTIONS:
        raise InvalidArgument("action", "处理方式应为 match（匹配）、refund（退费）或 close（关闭）")
    return action, checked_text(note, "note", label="处理说明")


def check_day(value: str, field_name: str = "day") -> dt.date:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidArgument(field_name, "日期格式应为 YYYY-MM-DD") from None
