"""Assessment (核定) of a case's fee lines, plain Python, no I/O: one line from a published standard
and the declared quantities, the lower bound for government-invested and key projects (收费从低), and
reductions and waivers (减免) for a reason the fee item lists.

Rounding happens once per line: the exact decimal amount of a line is rounded **half up to the fen**
(`ROUND_HALF_UP`, 0.5 分 → 1 分). Nothing is rounded before the line total (a per-unit price is
multiplied by the exact quantity first), and a notice's total is the exact sum of its lines' due amounts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from services.fees.catalogue import FeeDefinition, Standard, StandardKind, WaiverReason
from services.fees.money import MAX_FEN, MAX_TEXT, checked_fen, parse_decimal, round_fen, yuan
from shared.errors import FailedPrecondition, InvalidArgument

MAX_LINES = 50


class LineStatus(enum.StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    WAIVED = "waived"           # 免收, or reduced to nothing


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
    status: LineStatus = LineStatus.UNPAID

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
        if line.standard_fen is not None and checked_fen(line.standard_fen, f + ".standard_fen") != price:
            raise InvalidArgument(f + ".standard_fen", f"“{defn.name}”为固定标准 {yuan(price)} 元，不能另定金额")
    elif st.kind == StandardKind.RANGE:
        if favoured:
            price = st.lower_fen
            lower_applied = True
            if line.standard_fen is not None and checked_fen(line.standard_fen, f + ".standard_fen") != price:
                raise InvalidArgument(f + ".standard_fen", f"政府投资和重点建设项目按下限征收（收费从低）："
                                      f"“{defn.name}”应为 {yuan(price)} 元{'/' + st.unit if st.unit else ''}")
        else:
            if line.standard_fen is None:
                raise InvalidArgument(f + ".standard_fen", f"“{defn.name}”为幅度标准，请在 {yuan(st.lower_fen)}～"
                                      f"{yuan(st.upper_fen)} 元{'/' + st.unit if st.unit else ''} 之间核定金额")
            price = checked_fen(line.standard_fen, f + ".standard_fen")
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
    if line.status != LineStatus.UNPAID:
        raise FailedPrecondition(f"“{line.name}”已{ '缴清' if line.status == LineStatus.PAID else '减免'}，不能再减免")
    if reason.full:
        waived = line.amount_fen
    else:
        waived = checked_fen(amount_fen, "amount_fen", allow_zero=False)
        cap = line.amount_fen * reason.max_percent // 100
        if waived > cap:
            raise InvalidArgument("amount_fen", f"“{reason.label}”最多减收 {reason.max_percent}%，即 {yuan(cap)} 元")
    new = replace(line, waived_fen=waived, waiver_reason_code=reason.code, waiver_reason=reason.label, waived_by=by,
                  waiver_note=note.strip()[:MAX_TEXT])
    if new.due_fen == 0:
        new.status = LineStatus.WAIVED
    return new, reason
