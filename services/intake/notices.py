"""Notices a person keeps (受理通知书、补正材料通知书、不予受理通知书、终止办理通知书、视为受理通知书).

The wording is data: versioned templates (`notice_templates(kind, version, title, body)`, seeded by
the migration, `$placeholders` filled with `string.Template`). Issuing a notice freezes everything it
says into a snapshot (`build_notice`), stored with the template version used; the printable PDF is
rendered from that snapshot (`render_notice_pdf`) whenever it is asked for, so a reprint always reads
exactly like the original. Pure functions: no database, no network.
"""

from __future__ import annotations

import datetime as dt
import io
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.intake.domain import CHANNEL_LABELS, Application
from shared.pdf import base_style, markup

KINDS = {
    "acceptance": "受理通知书", "correction": "补正材料通知书", "rejection": "不予受理通知书",
    "termination": "终止办理通知书", "deemed_acceptance": "视为受理通知书",
}
DEFAULT_LEGAL_BASIS = "《中华人民共和国行政许可法》第三十二条"
BLANK = "—"
WAIVED_CLAUSE = "本件为容缺受理，请于下表所列日期前补交容缺材料；逾期未补交的，将终止办理。"
CARRIED = "（前次已告知，尚未补正）"


@dataclass(frozen=True)
class NoticeTemplate:
    kind: str
    version: int
    title: str
    body: str


def cn_date(value: dt.date | dt.datetime | str | None) -> str:
    """2026-03-02 → 2026年3月2日."""
    if not value:
        return BLANK
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return f"{value.year}年{value.month}月{value.day}日"


def _limit(days: int, immediate: bool) -> str:
    return "即时办结" if immediate or days <= 0 else f"{days} 个工作日"


def lookup_url(public_base_url: str, case_number: str, query_code: str) -> str:
    """The progress page of one case, with its query code: what the QR code opens (no typing)."""
    if not case_number:
        return ""
    base = f"{public_base_url.rstrip('/')}/progress?case={quote(case_number)}"
    return f"{base}&code={quote(query_code)}" if query_code else base


def addressee(applicant_kind: str) -> str:
    """How the notice's text addresses the applicant after naming them in the salutation: a person is 你,
    a legal person 你单位 (templates from version 2 say $you where version 1 printed 「你（单位）」 for both)."""
    return "你单位" if applicant_kind == "legal_person" else "你"


# who submitted on the applicant's behalf, by the length of its division code (帮办代办 at every level)
PROXY_CHANNEL_LABELS = {12: "村（社区）代办点代办", 9: "乡镇（街道）便民服务中心代办", 6: "县级帮办代办"}


def build_notice(app: Application, template: NoticeTemplate, *, issued_at: dt.datetime, public_base_url: str,
                 correction_round: int = 0) -> dict[str, Any]:
    """Everything the notice says, frozen (a JSON-able dict): text, tables, dates, the QR target."""
    kind = template.kind
    promises = app.promises if kind == "acceptance" else []
    rnd = app.corrections[correction_round - 1] if correction_round else None
    values = {
        "applicant_name": app.applicant.name, "you": addressee(app.applicant.kind), "item_name": app.item.name,
        "case_number": app.case_number or BLANK,
        "application_id": app.id, "received_date": cn_date(app.received_on), "accepted_date": cn_date(app.accepted_on),
        "decision_due": cn_date(app.decision_due), "issued_date": cn_date(issued_at),
        "promised_limit": _limit(app.item.promised_limit_days, app.item.immediate), "unit_name": app.handling_unit_name,
        "reason": (app.rejection.get("reason") or app.termination.get("reason") or "").rstrip("。"),
        "legal_basis": app.rejection.get("legal_basis") or DEFAULT_LEGAL_BASIS,
        "round": str(rnd.number if rnd else ""),
        "waived_clause": WAIVED_CLAUSE if promises else "",
        "immediate_clause": "本件为即办件，由窗口当场作出决定。" if app.immediate else "",
    }
    body = string.Template(template.body).safe_substitute(values)
    s = app.scenario
    received = [[m.name, _received_note(app, m.code)] for m in s.materials if app.materials[m.code].supplied]
    rows = [("申请人", app.applicant.name), ("证件号码", app.applicant.masked_id), ("事项名称", app.item.name),
            ("办理情形", s.name), ("申请渠道", (PROXY_CHANNEL_LABELS.get(len(app.proxy_tenant), "帮办代办")
                                         if app.proxy_tenant else CHANNEL_LABELS.get(app.channel, BLANK))),
            ("收件日期", cn_date(app.received_on))]
    if app.case_number:
        if app.query_code:
            rows.insert(0, ("查询码", app.query_code))
        rows.insert(0, ("办件编号", app.case_number))
        rows.append(("受理日期", cn_date(app.accepted_on)))
        rows.append(("承诺办结时限", values["promised_limit"]))
    else:
        rows.insert(0, ("申请编号", app.id))
    if kind == "rejection" and app.rejection.get("confirmed_by"):
        # 无权否决 (seed 003 §20): a refusal stands only as confirmed, and the applicant is told by whom
        rows.append(("不予受理确认人", f"{app.rejection.get('confirmed_role', '')}"
                                       f"{app.rejection.get('confirmed_by_name') or app.rejection['confirmed_by']}"))
    return {
        "kind": kind, "title": template.title, "template_version": template.version, "body": body,
        "issued_at": issued_at.isoformat(), "unit_name": app.handling_unit_name or app.tenant,
        "case_number": app.case_number, "application_id": app.id, "rows": rows,
        "received": received if kind != "rejection" else [],
        "corrections": ([[app.material_name(i.material_code), i.problem + (CARRIED if i.carried else "")]
                         for i in rnd.items] if rnd else []),
        "waived": [[app.material_name(p.material_code), cn_date(p.promised_by)] for p in promises],
        "qr_url": lookup_url(public_base_url, app.case_number, app.query_code),
        "query_code": app.query_code if app.case_number else "",
    }


def _received_note(app: Application, code: str) -> str:
    s = app.materials[code]
    via = s.supplied_via
    where = f"经代办点（{via.split(':', 1)[1]}）收取" if via.startswith(("village:", "agency:")) else "已收取"
    extra = f"，第 {s.revision} 次提交" if s.revision > 1 else ""
    return f"{where}{extra}" + (f"；{s.note}" if s.note else "")


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------

WIDTH = A4[0] - 40 * mm
GRID = colors.HexColor("#9aa5b1")
FILL = colors.HexColor("#f4f6f8")
ACCENT = colors.HexColor("#1f4e79")


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    base = base_style(11, 19)
    return {
        "body": ParagraphStyle("body", parent=base, firstLineIndent=22),
        "plain": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=14),
        "head": ParagraphStyle("head", parent=base, fontSize=9.5, leading=14, alignment=TA_CENTER),
        "unit": ParagraphStyle("unit", parent=base, fontSize=13, leading=20, alignment=TA_CENTER),
        "title": ParagraphStyle("title", parent=base, fontSize=20, leading=30, alignment=TA_CENTER,
                                textColor=ACCENT),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor=colors.dimgrey),
    }


def _p(text: str, style: str = "plain") -> Paragraph:
    return Paragraph(markup(text), _styles()[style])


def _grid(rows: list[list[Any]], widths: Sequence[float], header: bool) -> Table:
    style = [("GRID", (0, 0), (-1, -1), 0.5, GRID), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    style.append(("BACKGROUND", (0, 0), (-1, 0), FILL) if header else ("BACKGROUND", (0, 0), (0, -1), FILL))
    return Table(rows, colWidths=list(widths), style=TableStyle(style), repeatRows=1 if header else 0, hAlign="LEFT")


def _material_table(title: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[Any]:
    data = [[_p(h, "head") for h in ("序号", *head)]]
    data += [[_p(str(n), "cell"), *(_p(c, "cell") for c in row)] for n, row in enumerate(rows, start=1)]
    widths = [12 * mm, WIDTH * 0.55 - 12 * mm, WIDTH * 0.45]
    return [Spacer(1, 3 * mm), _p(title), Spacer(1, 1 * mm), _grid(data, widths, header=True)]


def _qr(url: str, size: float = 28 * mm) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def render_notice_pdf(notice: Mapping[str, Any]) -> bytes:
    """The notice as a printable A4 PDF (the embedded Chinese document font, QR code of the progress lookup)."""
    story: list[Any] = [_p(notice["unit_name"], "unit"), _p(notice["title"], "title"), Spacer(1, 4 * mm)]
    label = 26 * mm
    story.append(_grid([[_p(k, "cell"), _p(v or BLANK, "cell")] for k, v in notice["rows"]], [label, WIDTH - label],
                       header=False))
    story.append(Spacer(1, 4 * mm))
    lines = [ln for ln in str(notice["body"]).splitlines() if ln.strip()]
    if lines:
        story.append(_p(lines[0]))
        story += [_p(ln, "body") for ln in lines[1:]]
    if notice.get("corrections"):
        story += _material_table("需要补正的全部材料（一次性告知）：", ("材料名称", "需补正的内容"),
                                 notice["corrections"])
    if notice.get("received"):
        story += _material_table("已收取的申请材料：", ("材料名称", "收取情况"), notice["received"])
    if notice.get("waived"):
        story += _material_table("容缺受理、承诺补交的材料：", ("材料名称", "承诺补交日期"), notice["waived"])
    story.append(Spacer(1, 8 * mm))
    sign = [_p(f"{notice['unit_name']}（印章）", "right"), _p(cn_date(notice["issued_at"]), "right")]
    if notice.get("qr_url"):
        qr = [_qr(notice["qr_url"]), _p("扫码查询办理进度", "small")]
        story.append(Table([[qr, sign]], colWidths=[36 * mm, WIDTH - 36 * mm],
                           style=TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM")])))
        how = (f"凭办件编号和查询码 {notice['query_code']}（或申请人完整证件号码）查询" if notice.get("query_code")
               else "凭办件编号和申请人完整证件号码查询")
        story.append(_p(f"进度查询：{notice['qr_url']}（{how}；查询码请妥善保管，勿告知他人）", "small"))
    else:
        story += sign
        story.append(_p("受理后凭受理通知书上的办件编号和查询码（或申请人完整证件号码）查询办理进度。", "small"))
    story.append(Spacer(1, 3 * mm))
    template = f"{notice['kind']} 第 {notice['template_version']} 版"
    story.append(_p(f"本通知书一式两联，申请人与受理机关各执一联。文书模板：{template}", "small"))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
                            bottomMargin=18 * mm, title=notice["title"], author=notice["unit_name"],
                            subject=notice.get("case_number") or notice.get("application_id", ""), creator="sanji")
    doc.build(story)
    return buffer.getvalue()
