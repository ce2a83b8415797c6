"""Printable documents of supervision (A4 PDF, the platform's embedded document font, `shared.pdf`):

- 督办函: the order to a unit, naming the card (rule, case, post holder, deadline trace), the reply due, and the
  supervision unit's seal (电子监察专用章);
- the statistics table of a month (the PDF beside the CSV export), and the CSV itself.

Rendered on demand from the records, so a document always says what the records say.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from functools import lru_cache

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from services.supervision.repository import CardRow, OrderRow
from shared.pdf import base_style, drawable, markup, register_font

RED = colors.HexColor("#c8161d")

STATS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "分组"), ("label", "名称"), ("accepted", "受理件数"), ("decided", "办结(决定)件数"),
    ("completed", "办毕件数"),
    ("on_time_promised", "承诺时限内办结率"), ("on_time_statutory", "法定时限内办结率"),
    ("avg_working_days", "平均实际用时(工作日)"), ("avg_promised_days", "平均承诺时限(工作日)"),
    ("speed_up", "承诺提速"),
    ("immediate_share", "即办件占比"), ("one_visit_share", "最多跑一次占比"), ("corrections_per_case", "件均补正次数"),
    ("waived_count", "容缺受理材料数"), ("proxy_share", "代办件占比"), ("fees_fen", "收费(分)"),
    ("complaints", "投诉件数"), ("complaints_on_time", "投诉按时办结率"), ("ratings", "好差评评价数"),
    ("satisfaction", "好差评满意率"), ("bad_ratings", "差评数"), ("rectification_rate", "差评整改率"),
    ("cards", "亮牌(按规则)"),
)


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    base = base_style(12, 20)
    return {
        "body": base,
        "indent": ParagraphStyle("indent", parent=base, firstLineIndent=24),
        "title": ParagraphStyle("title", parent=base, fontSize=20, leading=30, alignment=TA_CENTER),
        "number": ParagraphStyle("number", parent=base, alignment=TA_CENTER, fontSize=11),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        "cell": ParagraphStyle("cell", parent=base, fontSize=7, leading=9),
    }


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(markup(text), _styles()[style])


def _date_zh(d) -> str:
    return f"{d.year} 年 {d.month} 月 {d.day} 日"


class Seal(Flowable):
    """The supervision unit's seal: a red ring, a star, its name along the upper arc."""

    def __init__(self, name: str, size: float = 40 * mm):
        super().__init__()
        self.name, self.size = name, size
        self.width = self.height = size
        self.hAlign = "RIGHT"

    def draw(self) -> None:
        c, r = self.canv, self.size / 2
        c.saveState()
        c.translate(r, r)
        c.setStrokeColor(RED)
        c.setFillColor(RED)
        c.setLineWidth(2)
        c.circle(0, 0, r - 2, stroke=1, fill=0)
        path = c.beginPath()
        for i in range(10):
            rad = r * (0.26 if i % 2 == 0 else 0.1)
            ang = math.pi / 2 + i * math.pi / 5
            (path.moveTo if i == 0 else path.lineTo)(rad * math.cos(ang), rad * math.sin(ang))
        path.close()
        c.drawPath(path, stroke=0, fill=1)
        text = drawable(self.name)
        size = max(7.0, min(11.0, (math.pi * 1.2 * (r - 9)) / max(len(text), 1)))
        c.setFont(register_font(), size)
        span = math.radians(240)
        for i, ch in enumerate(text):
            ang = math.pi / 2 + span / 2 - i * span / max(len(text) - 1, 1)
            c.saveState()
            c.translate((r - 6 - size) * math.cos(ang), (r - 6 - size) * math.sin(ang))
            c.rotate(math.degrees(ang) - 90)
            c.drawCentredString(0, 0, ch)
            c.restoreState()
        c.restoreState()


def _build(title: str, story: list, author: str, *, wide: bool = False) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4) if wide else A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=20 * mm, bottomMargin=20 * mm, title=title, author=author, creator="sanji")
    doc.build(story)
    return buf.getvalue()


def render_order(order: OrderRow, card: CardRow | None, issuer_name: str, unit_name: str) -> bytes:
    """督办函."""
    seal_name = f"{issuer_name}电子监察专用章"
    story = [_p("电子监察督办函", "title"), _p(order.number, "number"), Spacer(1, 6 * mm), _p(f"{unit_name}：")]
    if card is not None:
        holder = card.post_holder_name or card.post_holder
        story.append(_p(
            f"经电子监察系统监测，你单位办件 {card.case_number or card.application_id}（{card.item_name}）"
            f"于 {_date_zh(card.raised_on)} 被亮{'红' if card.severity == 'red' else '黄'}牌：{card.text}"
            + (f"岗位人员：{holder}。" if holder else ""), "indent"))
        if card.trace:
            story.append(_p(f"期限计算：{card.trace}", "indent"))
    if order.request:
        story.append(_p(f"督办要求：{order.request}", "indent"))
    story += [
        _p(f"请你单位于 {_date_zh(order.reply_due)} 前书面说明原因并进行整改，将整改情况报送本机关。"
           "逾期未回复的，将提级督办。", "indent"),
        Spacer(1, 10 * mm), Seal(seal_name), _p(issuer_name, "right"), _p(_date_zh(order.issued_at), "right"),
    ]
    if order.answered_at:
        story += [Spacer(1, 6 * mm), _p("单位回复", "number"),
                  _p(f"原因说明：{order.reason}", "indent"), _p(f"整改措施：{order.rectification}", "indent"),
                  _p(f"回复人：{order.answered_by}，{_date_zh(order.answered_at)}", "right")]
    return _build("电子监察督办函", story, issuer_name)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return "；".join(f"{k}:{v}" for k, v in sorted(value.items()))
    return "" if value is None else str(value)


def stats_csv(rows: Sequence[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([title for _, title in STATS_COLUMNS])
    for r in rows:
        w.writerow([_cell(r.get(k)) for k, _ in STATS_COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode()          # with the BOM, so spreadsheet programs read it as UTF-8


def stats_pdf(title: str, rows: Sequence[dict], author: str) -> bytes:
    cols = [c for c in STATS_COLUMNS if c[0] not in ("complaints_on_time", "rectification_rate", "bad_ratings")]
    data = [[_p(t, "cell") for _, t in cols]] + [[_p(_cell(r.get(k)), "cell") for k, _ in cols] for r in rows]
    table = Table(data, repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))]))
    return _build(title, [_p(title, "title"), Spacer(1, 4 * mm), table], author, wide=True)
