"""The fee catalogue (收费目录), plain Python, no I/O: fee items, their standards and their versions.

Fees come only from the published fee catalogue, with legal basis (设定依据) and standard (收费标准):
fixed (固定标准), a range (幅度标准: lower and upper bound) or a formula (基数 + Σ 单价 × 申报数量), each
possibly per unit of a declared quantity. A fee item lists the reasons a fee may be reduced or waived
(减免) for. Fee items have versions with the lifecycle every published list entry has (shared.versioned):
draft → published → adjusted (superseded) / cancelled.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from services.fees.money import MAX_NAME, MAX_TEXT, checked_fen, checked_text, parse_decimal, yuan
from shared.errors import InvalidArgument
from shared.versioned import Version, Versioned, VersionStatus

FEE_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9\-_.]{1,63}$")
QUANTITY_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
REASON_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,63}$")


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
    code = checked_text(raw.get("fee_code", ""), f + "fee_code", label="收费项目编码").upper()
    if not FEE_CODE_RE.match(code):
        raise InvalidArgument(f + "fee_code", "收费项目编码只能由大写字母、数字、连字符组成（2～64 位）")
    name = checked_text(raw.get("name", ""), f + "name", limit=MAX_NAME, label="收费项目名称")
    basis = checked_text(raw.get("basis", ""), f + "basis", label="设定依据")
    unit = checked_text(raw.get("collecting_unit", ""), f + "collecting_unit", limit=MAX_NAME, label="执收单位")
    category = checked_text(raw.get("category", "") or "行政事业性收费", f + "category", limit=50, label="收费类别")
    notes = checked_text(raw.get("notes", ""), f + "notes", required=False, label="备注")
    standard = _validate_standard(raw.get("standard") or {}, f + "standard")
    reasons: list[WaiverReason] = []
    for i, r in enumerate(raw.get("waiver_reasons") or []):
        rf = f"{f}waiver_reasons[{i}]."
        rcode = checked_text(r.get("code", ""), rf + "code", limit=64, label="减免原因编码")
        if not REASON_CODE_RE.match(rcode):
            raise InvalidArgument(rf + "code", "减免原因编码只能由字母、数字、连字符组成")
        if any(x.code == rcode for x in reasons):
            raise InvalidArgument(rf + "code", f"减免原因编码重复：{rcode}")
        full = bool(r.get("full", False))
        pct = int(r.get("max_percent", 0) or (100 if full else 0))
        if not full and not 0 < pct <= 100:
            raise InvalidArgument(rf + "max_percent", "减收比例上限应在 1～100 之间")
        rlabel = checked_text(r.get("label", ""), rf + "label", limit=MAX_NAME, label="减免原因")
        rbasis = checked_text(r.get("basis", ""), rf + "basis", required=False, label="减免依据")
        reasons.append(WaiverReason(rcode, rlabel, full, 100 if full else pct, rbasis))
    return FeeDefinition(fee_code=code, name=name, basis=basis, collecting_unit=unit, standard=standard,
                         category=category, waiver_reasons=tuple(reasons), notes=notes)


def _validate_standard(raw: Mapping, prefix: str) -> Standard:
    f = f"{prefix}."
    try:
        kind = StandardKind(str(raw.get("kind", "")).lower().removeprefix("standard_kind_"))
    except ValueError:
        raise InvalidArgument(f + "kind", "收费标准类型应为固定（fixed）、幅度（range）或公式（formula）") from None
    text = checked_text(raw.get("text", ""), f + "text", required=False, label="收费标准说明")
    unit = checked_text(raw.get("unit", ""), f + "unit", required=False, limit=20, label="计费单位")
    quantity = (raw.get("quantity") or "").strip()
    if kind in (StandardKind.FIXED, StandardKind.RANGE) and unit:
        if not QUANTITY_NAME_RE.match(quantity):
            raise InvalidArgument(f + "quantity", "按单位计费的标准须指明申报数量的名称（小写字母、数字、下划线）")
    elif quantity and kind != StandardKind.FORMULA:
        raise InvalidArgument(f + "unit", "指明了申报数量，须同时写明计费单位（如 平方米）")
    if kind == StandardKind.FIXED:
        amount = checked_fen(raw.get("amount_fen", 0), f + "amount_fen", allow_zero=False)
        return Standard(kind, amount_fen=amount, unit=unit, quantity=quantity, text=text)
    if kind == StandardKind.RANGE:
        lower = checked_fen(raw.get("lower_fen", 0), f + "lower_fen")
        upper = checked_fen(raw.get("upper_fen", 0), f + "upper_fen", allow_zero=False)
        if lower > upper:
            raise InvalidArgument(f + "upper_fen", "上限不能低于下限")
        return Standard(kind, lower_fen=lower, upper_fen=upper, unit=unit, quantity=quantity, text=text)
    base = checked_fen(raw.get("base_fen", 0), f + "base_fen")
    terms: list[FormulaTerm] = []
    for i, t in enumerate(raw.get("terms") or []):
        tf = f"{f}terms[{i}]."
        q = (t.get("quantity") or "").strip()
        if not QUANTITY_NAME_RE.match(q):
            raise InvalidArgument(tf + "quantity", "申报数量名称只能由小写字母、数字、下划线组成")
        if any(x.quantity == q for x in terms):
            raise InvalidArgument(tf + "quantity", f"申报数量重复：{q}")
        rate = parse_decimal(t.get("rate_fen", ""), tf + "rate_fen", what="单价（分）")
        terms.append(FormulaTerm(q, checked_text(t.get("label", ""), tf + "label", required=False, limit=MAX_NAME),
                                 rate, checked_text(t.get("unit", ""), tf + "unit", required=False, limit=20)))
    if not terms:
        raise InvalidArgument(f + "terms", "公式标准至少需要一项按数量计费的单价")
    return Standard(kind, base_fen=base, terms=tuple(terms), text=text)


# ---------------------------------------------------------------------------------------------
# versions: the one lifecycle of shared.versioned, told in the fee catalogue's words
# ---------------------------------------------------------------------------------------------

# a fee item version's status: draft → published → superseded (adjusted) / cancelled
FeeStatus = VersionStatus


class FeeVersion(Version[FeeDefinition]):
    """A version of a fee item: its content is the fee's definition."""

    @property
    def definition(self) -> FeeDefinition:
        return self.content


class FeeItem(Versioned[FeeDefinition]):
    """A fee item of a tenant's catalogue and its versions; `versions[-1]` is the current one.
    draft → published → (adjusted: a new published version, the old one superseded) | cancelled."""

    noun = "收费项目"
    version_type = FeeVersion

    def checked_reason(self, reason: str, action: str) -> str:
        return checked_text(reason, "reason", label=f"{action}理由", limit=MAX_TEXT)

    def check_same_entry(self, definition: FeeDefinition) -> None:
        if definition.fee_code != self.current.content.fee_code:
            raise InvalidArgument("definition.fee_code", "收费项目编码不可修改；如需变更请取消后新建")
