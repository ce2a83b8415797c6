"""Money and what people type, for the fee rules: plain Python, no I/O.

Money is integer fen (分) everywhere. Decimals appear only where the catalogue or the applicant says
so — declared quantities (1234.56 平方米) and formula rates (1.5 分/平方米) — and are carried as
`Decimal`, never as float. Rounding is explicit (`round_fen`, half up) and happens once per line
(assessment.py). Text fields are stripped and bounded, and refused naming the field.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from shared.errors import InvalidArgument

MAX_FEN = 10**13                 # 1,000 亿元: far above any fee, far below int64
MAX_TEXT = 2000
MAX_NAME = 200
FEN_PER_YUAN = 100


def round_fen(amount: Decimal) -> int:
    """An exact decimal amount of fen → integer fen, half up (0.5 分 rounds to 1 分)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan(fen: int) -> str:
    """12345 → '123.45' (for people; sign kept)."""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // FEN_PER_YUAN:,}.{fen % FEN_PER_YUAN:02d}"


def checked_fen(value, field_name: str, *, allow_zero: bool = True) -> int:
    """An amount of fen as given (an int or its digits): not negative, not absurd; zero only if allowed."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except (TypeError, ValueError):
            raise InvalidArgument(field_name, "金额应为整数（单位：分）") from None
    if value < 0:
        raise InvalidArgument(field_name, "金额不能为负数")
    if value == 0 and not allow_zero:
        raise InvalidArgument(field_name, "金额应大于零")
    if value > MAX_FEN:
        raise InvalidArgument(field_name, "金额过大")
    return value


def parse_decimal(value: str, field_name: str, *, what: str = "数量") -> Decimal:
    """A non-negative decimal given as text, at most 4 decimal places."""
    text = str(value).strip()
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        raise InvalidArgument(field_name, f"{what}应为数字，例如 120.5") from None
    if not d.is_finite():
        raise InvalidArgument(field_name, f"{what}应为数字，例如 120.5")
    if d < 0:
        raise InvalidArgument(field_name, f"{what}不能为负数")
    if d.as_tuple().exponent < -4:  # type: ignore[operator]
        raise InvalidArgument(field_name, f"{what}最多保留 4 位小数")
    if d > Decimal(10**9):
        raise InvalidArgument(field_name, f"{what}过大")
    return d


def checked_text(value: str, field_name: str, *, required: bool = True, limit: int = MAX_TEXT,
                 label: str = "") -> str:
    """Text as typed, stripped; refused when required and empty, or longer than `limit`."""
    text = (value or "").strip()
    if required and not text:
        raise InvalidArgument(field_name, f"{label or field_name}不能为空")
    if len(text) > limit:
        raise InvalidArgument(field_name, f"{label or field_name}过长（最多 {limit} 字）")
    return text
