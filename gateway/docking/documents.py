"""The printable daily reconciliation report (每日对账报告, A4 PDF with the platform's embedded document font,
`shared.pdf`) beside its CSV: the same rows — counts and SM3 digests per message type, the ids the province
lacks (re-sent) and the ids unknown to us (to be looked into)."""

from __future__ import annotations

import io
from functools import lru_cache

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from gateway.docking.domain import Reconciliation
from shared.pdf import base_style, markup


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    base = base_style(10, 15)
    return {"body": base,
            "title": ParagraphStyle("title", parent=base, fontSize=18, leading=26, alignment=TA_CENTER),
            "cell": ParagraphStyle("cell", parent=base, fontSize=7, leading=9)}


def _p(text: object, style: str = "body") -> Paragraph:
    return Paragraph(markup(text), _styles()[style])


def reconciliation_pdf(r: Reconciliation) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, title=f"省平台每日对账报告 {r.tenant} {r.day}")
    mismatches = sum(1 for t in r.types if not t.matches)
    story = [_p("省级平台对接每日对账报告", "title"), Spacer(1, 4 * mm),
             _p(f"单位：{r.tenant}　　对账日期：{r.day}（北京时间）　　"
                f"报文类型 {len(r.types)} 类，不一致 {mismatches} 类；省方未收到 {len(r.missing_at_province)} 条"
                f"（已重发 {r.resent} 条），本方无记录 {len(r.unknown_to_us)} 条"),
             Spacer(1, 4 * mm)]
    rows = r.csv_rows()[:1 + len(r.types)]          # per type; the ids on one side only are listed below
    widths = [22 * mm, 20 * mm, 38 * mm, 16 * mm, 16 * mm, 70 * mm, 70 * mm, 14 * mm]
    table = Table([[_p(c, "cell") for c in row] for row in rows], colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(table)
    for title, ids in (("省方未收到（已重发）", r.missing_at_province), ("本方无记录（待核查）", r.unknown_to_us)):
        if ids:
            story += [Spacer(1, 4 * mm), _p(f"{title}：{len(ids)} 条")]
            story += [_p(f"{n}. {i}") for n, i in enumerate(ids, 1)]
    doc.build(story)
    return buf.getvalue()
