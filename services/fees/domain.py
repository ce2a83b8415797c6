"""The rules of one-window fees (一个窗口收费): plain Python, no I/O.

Money is integer fen (分) everywhere. Decimals appear only where the catalogue or the applicant says
so — declared quantities (1234.56 平方米) and formula rates (1.5 分/平方米) — and are carried as
`Decimal`, never as float. Rounding is explicit and happens once per line: the exact decimal amount
of a line is rounded **half up to the fen** (`ROUND_HALF_UP`, 0.5 分 → 1 分). Nothing is rounded
before the line total (a per-unit price is multiplied by the exact quantity first), and a notice's
total is the exact sum of its lines' due amounts.

Identifiers that carry their tenant: a case number (intake's format: the tenant code right-padded to
12 digits, the 8-digit acceptance date and a 6-digit sequence) and a notice number
(`{tenant padded to 12}{yyyy}{8-digit per-tenant yearly sequence}{Luhn check digit}`, 25 digits), so
a callback of the province, which carries only the notice number, is bound to the right tenant and a
cashier can never issue a notice for another tenant's case.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from shared.tenancy import DivisionCode

MAX_FEN = 10**13                 # 1,000 亿元: far above any fee, far below int64
MAX_TEXT = 2000
MAX_NAME = 200
MAX_LINES = 50
FEE_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9\-_.]{1,63}$")
QUANTITY_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
REASON_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,63}$")
CASE_NUMBER_RE = re.compile(r"^(\d{12})(\d{8})(\d{6})$")
NOTICE_NUMBER_RE = re.compile(r"^(\d{12})(\d{4})(\d{8})(\d)$")
NOTICE_SEQUENCE_MAX = 99_999_999
FEN_PER_YUAN = 100


# ---------------------------------------------------------------------------------------------
# money
# ---------------------------------------------------------------------------------------------

def round_fen(amount: Decimal) -> int:
    """An exact decimal amount of fen → integer fen, half up (0.5 分 rounds to 1 分)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan(fen: int) -> str:
    """12345 → '123.45' (for people; sign kept)."""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // FEN_PER_YUAN:,}.{fen % FEN_PER_YUAN:02d}"


def _fen(value, field_name: str, *, allow_zero: bool = True) -> int:
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


def _text(value: str, field_name: str, *, required: bool = True, limit: int = MAX_TEXT, label: str = "") -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidArgument(field_name, f"{label or field_name}不能为空")
    if len(text) > limit:
        raise InvalidArgument(field_name, f"{label or field_name}过长（最多 {limit} 字）")
    return text


# ---------------------------------------------------------------------------------------------
# the fee catalogue (收费目录)
# ---------------------------------------------------------------------------------------------

class StandardKind(enum.StrEnum):
    FIXED = "fixed"        # 固定标准
    RANGE = "range"        # 幅度标准（上下限）
    FORMULA = "formula"    # 基数 + Σ 单价 × 申报数量


STANDARD_LABELS = {StandardKind.FIXED: "固定标准", StandardKind.RANGE: "幅度标准",
                   StandardKind.FORMULA: "按申报数量计算"}


@dataclass(frozen=True)
class FormulaTerm:
    quantity: str
    label: str
    rate_fen: Decimal
    unit: str = ""

    def to_dict(self) -> dict:
        return {"quantity": self.quantity, "label": self.label, "rate_fen": str(self.rate_fen), "unit": self.unit}


@dataclass(frozen=True)
class Standard:
    kind: StandardKind
    amount_fen: int = 0
    lower_fen: int = 0
    upper_fen: int = 0
    unit: str = ""
    quantity: str = ""
    base_fen: int = 0
    terms: tuple[FormulaTerm, ...] = ()
    text: str = ""

    @property
    def per_unit(self) -> bool:
        return bool(self.unit)

    def quantities(self) -> list[str]:
        """The declared quantities this standard needs."""
        if self.kind == StandardKind.FORMULA:
            return [t.quantity for t in self.terms]
        return [self.quantity] if self.per_unit else []

    def to_dict(self) -> dict:
        return {"kind": str(self.kind), "amount_fen": self.amount_fen, "lower_fen": self.lower_fen,
                "upper_fen": self.upper_fen, "unit": self.unit, "quantity": self.quantity, "base_fen": self.base_fen,
                "terms": [t.to_dict() for t in self.terms], "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping) -> Standard:
        return cls(kind=StandardKind(d["kind"]), amount_fen=int(d.get("amount_fen", 0)),
                   lower_fen=int(d.get("lower_fen", 0)), upper_fen=int(d.get("upper_fen", 0)),
                   unit=d.get("unit", ""), quantity=d.get("quantity", ""), base_fen=int(d.get("base_fen", 0)),
                   terms=tuple(FormulaTerm(t["quantity"], t.get("label", ""), Decimal(str(t["rate_fen"])),
                                           t.get("unit", "")) for t in d.get("terms", [])),
                   text=d.get("text", ""))

    def describe(self) -> str:
        """The standard in words, when the catalogue gives none."""
        if self.text:
            return self.text
        per = f"/{self.unit}" if self.per_unit else ""
        if self.kind == StandardKind.FIXED:
            return f"{yuan(self.amount_fen)} 元{per}"
        if self.kind == StandardKind.RANGE:
            return f"{yuan(self.lower_fen)}～{yuan(self.upper_fen)} 元{per}"
        parts = [f"{yuan(self.base_fen)} 元"] + [f"{t.label or t.quantity} {t.rate_fen} 分/{t.unit or '单位'}"
                                                 for t in self.terms]
        return " + ".join(parts)


@dataclass(frozen=True)
class WaiverReason:
    code: str
    label: str
    full: bool = True          # 免收
    max_percent: int = 100     # 减收: at most this share
    basis: str = ""

    def to_dict(self) -> dict:
        return {"code": self.code, "label": self.label, "full": self.full, "max_percent": self.max_percent,
                "basis": self.basis}

    @classmethod
    def from_dict(cls, d: Mapping) -> WaiverReason:
        return cls(d["code"], d.get("label", ""), bool(d.get("full", True)), int(d.get("max_percent", 100)),
                   d.get("basis", ""))


@dataclass(frozen=True)
class FeeDefinition:
    """The elements of one fee item version."""

    fee_code: str
    name: str
    basis: str                  # 设定依据
    collecting_unit: str        # 执收单位
    standard: Standard
    category: str = "行政事业性收费"
    waiver_reasons: tuple[WaiverReason, ...] = ()
    notes: str = ""

    def reason(self, code: str) -> WaiverReason | None:
        return next((r for r in self.waiver_reasons if r.code == code), None)

    def to_dict(self) -> dict:
        return {"fee_code": self.fee_code, "name": self.name, "basis": self.basis,
                "collecting_unit": self.collecting_unit, "category": self.category,
                "standard": self.standard.to_dict(), "waiver_reasons": [r.to_dict() for r in self.waiver_reasons],
                "notes": self.notes}

    @classmethod
    def from_dict(cls, d: Mapping) -> FeeDefinition:
        return cls(fee_code=d["fee_code"], name=d["name"], basis=d.get("basis", ""),
                   collecting_unit=d.get("collecting_unit", ""), standard=Standard.from_dict(d["standard"]),
                   category=d.get("category", "行政事业性收费"),
                   waiver_reasons=tuple(WaiverReason.from_dict(r) for r in d.get("waiver_reasons", [])),
                   notes=d.get("notes", ""))


def validate_definition(raw: Mapping, prefix: str = "definition") -> FeeDefinition:
    """A fee definition from loosely typed input, or InvalidArgument naming the field."""
    f = f"{prefix}."
    code = _text(raw.get("fee_code", ""), f + "fee_code", label="收费项目编码").upper()
    if not FEE_CODE_RE.match(code):
        raise InvalidArgument(f + "fee_code", "收费项目编码只能由大写字母、数字、连字符组成（2～64 位）")
    name = _text(raw.get("name", ""), f + "name", limit=MAX_NAME, label="收费项目名称")
    basis = _text(raw.get("basis", ""), f + "basis", label="设定依据")
    unit = _text(raw.get("collecting_unit", ""), f + "collecting_unit", limit=MAX_NAME, label="执收单位")
    category = _text(raw.get("category", "") or "行政事业性收费", f + "category", limit=50, label="收费类别")
    notes = _text(raw.get("notes", ""), f + "notes", required=False, label="备注")
    standard = _validate_standard(raw.get("standard") or {}, f + "standard")
    reasons: list[WaiverReason] = []
    for i, r in enumerate(raw.get("waiver_reasons") or []):
        rf = f"{f}waiver_reasons[{i}]."
        rcode = _text(r.get("code", ""), rf + "code", limit=64, label="减免原因编码")
        if not REASON_CODE_RE.match(rcode):
            raise InvalidArgument(rf + "code", "减免原因编码只能由字母、数字、连字符组成")
        if any(x.code == rcode for x in reasons):
            raise InvalidArgument(rf + "code", f"减免原因编码重复：{rcode}")
        full = bool(r.get("full", False))
        pct = int(r.get("max_percent", 0) or (100 if full else 0))
        if not full and not 0 < pct <= 100:
            raise InvalidArgument(rf + "max_percent", "减收比例上限应在 1～100 之间")
        reasons.append(WaiverReason(rcode, _text(r.get("label", ""), rf + "label", limit=MAX_NAME, label="减免原因"),
                                    full, 100 if full else pct, _text(r.get("basis", ""), rf + "basis",
                                                                      required=False, label="减免依据")))
    return FeeDefinition(fee_code=code, name=name, basis=basis, collecting_unit=unit, standard=standard,
                         category=category, waiver_reasons=tuple(reasons), notes=notes)


def _validate_standard(raw: Mapping, prefix: str) -> Standard:
    f = f"{prefix}."
    try:
        kind = StandardKind(str(raw.get("kind", "")).lower().removeprefix("standard_kind_"))
    except ValueError:
        raise InvalidArgument(f + "kind", "收费标准类型应为固定（fixed）、幅度（range）或公式（formula）") from None
    text = _text(raw.get("text", ""), f + "text", required=False, label="收费标准说明")
    unit = _text(raw.get("unit", ""), f + "unit", required=False, limit=20, label="计费单位")
    quantity = (raw.get("quantity") or "").strip()
    if kind in (StandardKind.FIXED, StandardKind.RANGE) and unit:
        if not QUANTITY_NAME_RE.match(quantity):
            raise InvalidArgument(f + "quantity", "按单位计费的标准须指明申报数量的名称（小写字母、数字、下划线）")
    elif quantity and kind != StandardKind.FORMULA:
        raise InvalidArgument(f + "unit", "指明了申报数量，须同时写明计费单位（如 平方米）")
    if kind == StandardKind.FIXED:
        amount = _fen(raw.get("amount_fen", 0), f + "amount_fen", allow_zero=False)
        return Standard(kind, amount_fen=amount, unit=unit, quantity=quantity, text=text)
    if kind == StandardKind.RANGE:
        lower = _fen(raw.get("lower_fen", 0), f + "lower_fen")
        upper = _fen(raw.get("upper_fen", 0), f + "upper_fen", allow_zero=False)
        if lower > upper:
            raise InvalidArgument(f + "upper_fen", "上限不能低于下限")
        return Standard(kind, lower_fen=lower, upper_fen=upper, unit=unit, quantity=quantity, text=text)
    base = _fen(raw.get("base_fen", 0), f + "base_fen")
    terms: list[FormulaTerm] = []
    for i, t in enumerate(raw.get("terms") or []):
        tf = f"{f}terms[{i}]."
        q = (t.get("quantity") or "").strip()
        if not QUANTITY_NAME_RE.match(q):
            raise InvalidArgument(tf + "quantity", "申报数量名称只能由小写字母、数字、下划线组成")
        if any(x.quantity == q for x in terms):
            raise InvalidArgument(tf + "quantity", f"申报数量重复：{q}")
        rate = parse_decimal(t.get("rate_fen", ""), tf + "rate_fen", what="单价（分）")
        terms.append(FormulaTerm(q, _text(t.get("label", ""), tf + "label", required=False, limit=MAX_NAME),
                                 rate, _text(t.get("unit", ""), tf + "unit", required=False, limit=20)))
    if not terms:
        raise InvalidArgument(f + "terms", "公式标准至少需要一项按数量计费的单价")
    return Standard(kind, base_fen=base, terms=tuple(terms), text=text)


class FeeStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"


FEE_STATUS_LABELS = {FeeStatus.DRAFT: "草稿", FeeStatus.PUBLISHED: "已发布", FeeStatus.SUPERSEDED: "已被新版本替代",
                     FeeStatus.CANCELLED: "已取消"}


@dataclass
class FeeVersion:
    version: int
    status: FeeStatus
    definition: FeeDefinition
    change_reason: str = ""


@dataclass
class FeeItem:
    """A fee item of a tenant's catalogue and its versions; `versions[-1]` is the current one.
    draft → published → (adjusted: a new published version, the old one superseded) | cancelled."""

    id: str
    tenant: DivisionCode
    versions: list[FeeVersion] = field(default_factory=list)

    @property
    def current(self) -> FeeVersion:
        return self.versions[-1]

    @property
    def status(self) -> FeeStatus:
        return self.current.status

    @classmethod
    def create(cls, item_id: str, tenant: DivisionCode, definition: FeeDefinition) -> FeeItem:
        return cls(item_id, tenant, [FeeVersion(1, FeeStatus.DRAFT, definition)])

    def update_draft(self, definition: FeeDefinition) -> FeeVersion:
        if self.status != FeeStatus.DRAFT:
            raise FailedPrecondition("只有草稿可以直接修改；已发布的收费项目请走“调整”流程并说明理由")
        self._same_code(definition)
        self.current.definition = definition
        return self.current

    def publish(self) -> FeeVersion:
        if self.status != FeeStatus.DRAFT:
            raise FailedPrecondition(f"收费项目当前状态为“{FEE_STATUS_LABELS[self.status]}”，不能发布")
        self.current.status = FeeStatus.PUBLISHED
        return self.current

    def adjust(self, definition: FeeDefinition, reason: str) -> tuple[FeeVersion, FeeVersion]:
        if self.status != FeeStatus.PUBLISHED:
            raise FailedPrecondition(f"只有已发布的收费项目可以调整（当前：{FEE_STATUS_LABELS[self.status]}）")
        reason = _text(reason, "reason", label="调整理由", limit=MAX_TEXT)
        self._same_code(definition)
        previous = self.current
        previous.status = FeeStatus.SUPERSEDED
        new = FeeVersion(previous.version + 1, FeeStatus.PUBLISHED, definition, reason)
        self.versions.append(new)
        return previous, new

    def cancel(self, reason: str) -> FeeVersion:
        if self.status not in (FeeStatus.DRAFT, FeeStatus.PUBLISHED):
            raise FailedPrecondition(f"收费项目当前状态为“{FEE_STATUS_LABELS[self.status]}”，不能取消")
        self.current.change_reason = _text(reason, "reason", label="取消理由", limit=MAX_TEXT)
        self.current.status = FeeStatus.CANCELLED
        return self.current

    def _same_code(self, definition: FeeDefinition) -> None:
        if definition.fee_code != self.current.definition.fee_code:
            raise InvalidArgument("definition.fee_code", "收费项目编码不可修改；如需变更请取消后新建")


# ---------------------------------------------------------------------------------------------
# assessment (核定)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LineInput:
    fee_code: str
    quantities: Mapping[str, str] = field(default_factory=dict)
    standard_fen: int | None = None


@dataclass
class FeeLine:
    line_no: int
    fee_code: str
    fee_item_id: str
    fee_version: int
    name: str
    collecting_unit: str
    basis: str
    standard: Standard
    quantities: dict[str, str]
    unit_price_fen: int
    amount_fen: int
    lower_bound_applied: bool = False
    calculation: str = ""
    waived_fen: int = 0
    waiver_reason_code: str = ""
    waiver_reason: str = ""
    waived_by: str = ""
    waiver_note: str = ""
    waiver_reasons: tuple[WaiverReason, ...] = ()
    status: str = "unpaid"          # unpaid | paid | waived

    @property
    def due_fen(self) -> int:
        return self.amount_fen - self.waived_fen


def assess_line(defn: FeeDefinition, item_id: str, version: int, line: LineInput, *, line_no: int, favoured: bool,
                field_prefix: str) -> FeeLine:
    """One fee line from the published standard and the declared quantities.

    - fixed: the amount (× quantity when per unit); a different amount given is refused;
    - range: the amount chosen must lie within [lower, upper]; for government-invested and key
      projects (`favoured`) the lower bound applies automatically (收费从低) and any other amount is
      refused; per unit, the chosen unit price × quantity;
    - formula: base + Σ rate × quantity, computed exactly;
    then rounded once, half up, to the fen.
    """
    st = defn.standard
    f = field_prefix
    quantities = _quantities(st, line.quantities, f + ".quantities")
    lower_applied = False
    if st.kind == StandardKind.FIXED:
        price = st.amount_fen
        if line.standard_fen is not None and _fen(line.standard_fen, f + ".standard_fen") != price:
            raise InvalidArgument(f + ".standard_fen", f"“{defn.name}”为固定标准 {yuan(price)} 元，不能另定金额")
    elif st.kind == StandardKind.RANGE:
        if favoured:
            price = st.lower_fen
            lower_applied = True
            if line.standard_fen is not None and _fen(line.standard_fen, f + ".standard_fen") != price:
                raise InvalidArgument(f + ".standard_fen", f"政府投资和重点建设项目按下限征收（收费从低）："
                                      f"“{defn.name}”应为 {yuan(price)} 元{'/' + st.unit if st.unit else ''}")
        else:
            if line.standard_fen is None:
                raise InvalidArgument(f + ".standard_fen", f"“{defn.name}”为幅度标准，请在 {yuan(st.lower_fen)}～"
                                      f"{yuan(st.upper_fen)} 元{'/' + st.unit if st.unit else ''} 之间核定金额")
            price = _fen(line.standard_fen, f + ".standard_fen")
            if not st.lower_fen <= price <= st.upper_fen:
                raise InvalidArgument(f + ".standard_fen", f"核定金额 {yuan(price)} 元超出收费标准范围（"
                                      f"{yuan(st.lower_fen)}～{yuan(st.upper_fen)} 元"
                                      f"{'/' + st.unit if st.unit else ''}），不予核定")
    else:
        if line.standard_fen is not None:
            raise InvalidArgument(f + ".standard_fen", f"“{defn.name}”按申报数量计算，不能另定金额")
        price = 0
    exact, calc = _exact_amount(st, price, quantities)
    amount = round_fen(exact)
    if amount > MAX_FEN:
        raise InvalidArgument(f + ".quantities", "计算所得金额过大，请核对申报数量")
    if exact != amount:
        calc += f" = {_fen_text(exact)} 分，四舍五入到分为 {amount} 分"
    calc += f"，计 {yuan(amount)} 元"
    if lower_applied:
        calc = "收费从低（政府投资或重点建设项目按下限）：" + calc
    return FeeLine(line_no=line_no, fee_code=defn.fee_code, fee_item_id=item_id, fee_version=version, name=defn.name,
                   collecting_unit=defn.collecting_unit, basis=defn.basis, standard=st,
                   quantities={k: str(v) for k, v in quantities.items()}, unit_price_fen=price, amount_fen=amount,
                   lower_bound_applied=lower_applied, calculation=calc, waiver_reasons=defn.waiver_reasons)


def _quantities(st: Standard, given: Mapping[str, str], f: str) -> dict[str, Decimal]:
    needed = st.quantities()
    for name in given:
        if name not in needed:
            allowed = "、".join(needed) if needed else "无"
            raise InvalidArgument(f"{f}.{name}", f"该收费项目不按“{name}”计费（应申报：{allowed}）")
    out: dict[str, Decimal] = {}
    for name in needed:
        if name not in given or str(given[name]).strip() == "":
            raise InvalidArgument(f"{f}.{name}", f"请申报计费数量“{name}”")
        out[name] = parse_decimal(given[name], f"{f}.{name}")
    return out


def _fen_text(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _exact_amount(st: Standard, price: int, q: Mapping[str, Decimal]) -> tuple[Decimal, str]:
    if st.kind == StandardKind.FORMULA:
        total = Decimal(st.base_fen)
        parts = [f"{st.base_fen} 分"] if st.base_fen else []
        for t in st.terms:
            total += t.rate_fen * q[t.quantity]
            parts.append(f"{_fen_text(t.rate_fen)} 分/{t.unit or '单位'} × {_fen_text(q[t.quantity])}"
                         f"{t.unit}（{t.label or t.quantity}）")
        return total, " + ".join(parts) or "0 分"
    if st.per_unit:
        qty = q[st.quantity]
        return Decimal(price) * qty, f"{yuan(price)} 元/{st.unit} × {_fen_text(qty)} {st.unit}"
    return Decimal(price), f"{yuan(price)} 元"


def favour_line(line: FeeLine) -> FeeLine:
    """A range line re-assessed at the lower bound (the decision says: government-invested or key)."""
    if line.standard.kind != StandardKind.RANGE or line.lower_bound_applied:
        return line
    q = {k: Decimal(v) for k, v in line.quantities.items()}
    exact, calc = _exact_amount(line.standard, line.standard.lower_fen, q)
    amount = round_fen(exact)
    waived = min(line.waived_fen, amount)
    return replace(line, unit_price_fen=line.standard.lower_fen, amount_fen=amount, lower_bound_applied=True,
                   waived_fen=waived,
                   calculation=f"收费从低（政府投资或重点建设项目按下限）：{calc}，计 {yuan(amount)} 元")


def waive(line: FeeLine, reason_code: str, amount_fen: int, *, by: str, note: str) -> tuple[FeeLine, WaiverReason]:
    """A reduction (减收) or full waiver (免收) of a line, for a reason the fee item lists.
    The caller has checked the authority (the head's)."""
    reason = next((r for r in line.waiver_reasons if r.code == reason_code), None)
    if reason is None:
        listed = "、".join(f"{r.code}（{r.label}）" for r in line.waiver_reasons) or "无"
        raise InvalidArgument("reason_code", f"减免原因不在“{line.name}”的减免目录中（可用：{listed}）")
    if line.status != "unpaid":
        raise FailedPrecondition(f"“{line.name}”已{ '缴清' if line.status == 'paid' else '减免'}，不能再减免")
    if reason.full:
        waived = line.amount_fen
    else:
        waived = _fen(amount_fen, "amount_fen", allow_zero=False)
        cap = line.amount_fen * reason.max_percent // 100
        if waived > cap:
            raise InvalidArgument("amount_fen", f"“{reason.label}”最多减收 {reason.max_percent}%，即 {yuan(cap)} 元")
    new = replace(line, waived_fen=waived, waiver_reason_code=reason.code, waiver_reason=reason.label, waived_by=by,
                  waiver_note=note.strip()[:MAX_TEXT])
    if new.due_fen == 0:
        new.status = "waived"
    return new, reason


# ---------------------------------------------------------------------------------------------
# the case's fees
# ---------------------------------------------------------------------------------------------

class CaseStatus(enum.StrEnum):
    AWAITING = "awaiting_assessment"   # 待核定（审批决定后）
    ASSESSED = "assessed"              # 已核定，待开具缴款书
    NOTICED = "noticed"                # 已开具缴款书，待缴款
    SETTLED = "settled"                # 已缴清或已减免
    CLOSED = "closed"                  # 不予许可等，终止收费


CASE_STATUS_LABELS = {CaseStatus.AWAITING: "待核定", CaseStatus.ASSESSED: "已核定待开票",
                      CaseStatus.NOTICED: "已开具缴款书待缴款", CaseStatus.SETTLED: "已结清",
                      CaseStatus.CLOSED: "已终止"}


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


def format_notice_number(tenant: str, year: int, seq: int) -> str:
    if not 1 <= seq <= NOTICE_SEQUENCE_MAX:
        raise FailedPrecondition(f"本单位 {year} 年缴款书编号已用尽")
    body = f"{tenant.ljust(12, '0')}{year:04d}{seq:08d}"
    return body + luhn_digit(body)


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
    total = sum(x.amount_fen for x in lines)
    waived = sum(x.waived_fen for x in lines)
    return total, waived, total - waived


# ---------------------------------------------------------------------------------------------
# payment callbacks and matching
# ---------------------------------------------------------------------------------------------

def canonical_form(fields: Mapping[str, str]) -> bytes:
    """What the provincial platform signs: keys sorted, empty values left out, `key=value` joined
    by `&`, UTF-8. The signature itself is never part of it."""
    pairs = sorted((str(k), str(v)) for k, v in fields.items() if k != "signature" and str(v) != "")
    return "&".join(f"{k}={v}" for k, v in pairs).encode("utf-8")


@dataclass(frozen=True)
class Callback:
    payment_id: str
    notice_number: str
    amount_fen: int
    paid_at: dt.datetime
    payee_account: str
    payer_name: str = ""
    channel: str = ""


PAYMENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_]{5,63}$")


def parse_callback(fields: Mapping[str, str]) -> Callback:
    def get(name: str) -> str:
        return str(fields.get(name, "")).strip()

    pid = get("payment_id")
    if not PAYMENT_ID_RE.match(pid):
        raise InvalidArgument("payment_id", "支付流水号格式不正确")
    notice = get("notice_number")
    if not notice or len(notice) > 64:
        raise InvalidArgument("notice_number", "缴款书编号缺失或过长")
    amount = _fen(get("amount_fen") or "x", "amount_fen", allow_zero=False)
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


class MatchKind(enum.StrEnum):
    MATCHED = "matched"
    UNKNOWN_NOTICE = "unknown_notice"      # no such notice (yet): queued, matched once it exists
    AMOUNT_MISMATCH = "amount_mismatch"
    ALREADY_PAID = "already_paid"          # a second payment for a paid notice
    NOTICE_VOID = "notice_void"


MATCH_LABELS = {MatchKind.UNKNOWN_NOTICE: "缴款书不存在或尚未生成", MatchKind.AMOUNT_MISMATCH: "缴款金额与缴款书不符",
                MatchKind.ALREADY_PAID: "缴款书已缴清（重复缴款）", MatchKind.NOTICE_VOID: "缴款书已作废",
                MatchKind.MATCHED: "已匹配"}


def match(notice_status: str | None, notice_total: int, amount: int) -> MatchKind:
    """How a verified payment relates to its notice. Only an exact match is ever recorded as paid."""
    if notice_status is None:
        return MatchKind.UNKNOWN_NOTICE
    if notice_status == "paid":
        return MatchKind.ALREADY_PAID
    if notice_status == "void":
        return MatchKind.NOTICE_VOID
    if amount != notice_total:
        return MatchKind.AMOUNT_MISMATCH
    return MatchKind.MATCHED


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
# refunds and reconciliation
# ---------------------------------------------------------------------------------------------

def check_refund(amount_fen: int, refundable: int, reason: str) -> tuple[int, str]:
    amount = _fen(amount_fen, "amount_fen", allow_zero=False)
    reason = _text(reason, "reason", label="退费理由")
    if amount > refundable:
        raise InvalidArgument("amount_fen", f"退费金额超过可退金额 {yuan(refundable)} 元")
    return amount, reason


RESOLUTIONS = {"match": "人工匹配到缴款书", "refund": "申请退还缴款人", "close": "核实后关闭"}


def check_resolution(action: str, note: str) -> tuple[str, str]:
    if action not in RESOLUTIONS:
        raise InvalidArgument("action", "处理方式应为 match（匹配）、refund（退费）或 close（关闭）")
    return action, _text(note, "note", label="处理说明")


def check_day(value: str, field_name: str = "day") -> dt.date:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidArgument(field_name, "日期格式应为 YYYY-MM-DD") from None


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
        return bool(self.lines) and all(x.status == "waived" for x in self.lines)

    def mark_paid(self, amount: int, at: dt.datetime) -> None:
        for x in self.lines:
            if x.status == "unpaid":
                x.status = "paid"
        self.paid_fen += amount
        self.settle(at)

    def settle(self, at: dt.datetime) -> None:
        if all(x.status in ("paid", "waived") for x in self.lines):
            self.status = CaseStatus.SETTLED
            self.settled_at = at
