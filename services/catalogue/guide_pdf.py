"""The service guide (办事指南) of a catalogue item as a printable A4 PDF: numbered pages, a header on each,
the QR code of the online guide, and a watermark on a version that is not in force. It lays out the view
model of guide.py (`build_view`), so the PDF says what the HTML page says. Pure functions: no database.

PDFs embed the platform's document font (`shared.pdf`), as every printable document does.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from services.catalogue.domain import ItemRow
from services.catalogue.guide import NOT_APPLICABLE, GuideView, ScenarioView, build_view
from shared.pdf import base_style, drawable, markup, register_font

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 18 * mm
MARGIN_TOP = 22 * mm
MARGIN_BOTTOM = 18 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X
GRID = colors.HexColor("#9aa5b1")
HEADER_FILL = colors.HexColor("#e8eef5")
LABEL_FILL = colors.HexColor("#f4f6f8")
ACCENT = colors.HexColor("#1f4e79")
ALERT = colors.HexColor("#c0392b")


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles, in the document font (`shared.pdf`), built once."""
    base = base_style(10, 15)
    return {
        "body": base,
        "cell": ParagraphStyle("cell", parent=base, fontSize=9, leading=13),
        "cell_head": ParagraphStyle("cell_head", parent=base, fontSize=9, leading=13, alignment=TA_CENTER),
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor=colors.dimgrey),
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=25, textColor=ACCENT),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10.5, leading=16),
        "section": ParagraphStyle(
            "section", parent=base, fontSize=12.5, leading=18, textColor=ACCENT, spaceBefore=9, spaceAfter=4
        ),
        "scenario": ParagraphStyle("scenario", parent=base, fontSize=10.5, leading=16, spaceBefore=5),
        "banner": ParagraphStyle("banner", parent=base, fontSize=13, leading=18, textColor=ALERT, alignment=TA_CENTER),
    }


def _para(text: str, style: str = "body") -> Paragraph:
    return Paragraph(markup(text), _styles()[style])


def _table(rows: list[list[Any]], widths: Sequence[float], *, header: bool) -> Table:
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL))
    else:
        commands.append(("BACKGROUND", (0, 0), (0, -1), LABEL_FILL))
    # splitInRow: a single very long cell (legal basis, notes) may continue on the next page.
    return Table(
        rows,
        colWidths=list(widths),
        style=TableStyle(commands),
        repeatRows=1 if header else 0,
        splitInRow=1,
        hAlign="LEFT",
    )


def _key_value_table(rows: Sequence[tuple[str, str]]) -> Table:
    label_width = 30 * mm
    data = [[_para(label, "cell"), _para(value, "cell")] for label, value in rows]
    return _table(data, [label_width, CONTENT_WIDTH - label_width], header=False)


def _qr_drawing(url: str, size: float = 30 * mm) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def _heading_block(view: GuideView) -> list[Flowable]:
    left: list[Flowable] = [
        _para(view.name, "title"),
        Spacer(1, 2 * mm),
        _para(f"{view.unit_name} · 政务服务事项办事指南", "subtitle"),
        _para(f"版本：{view.version}　　状态：{view.status}　　发布日期：{view.published}", "small"),
    ]
    if not view.lookup_url:
        return left
    qr_size = 28 * mm
    right: list[Flowable] = [_qr_drawing(view.lookup_url, qr_size), _para("扫码查看在线办事指南", "small")]
    table = Table(
        [[left, right]],
        colWidths=[CONTENT_WIDTH - qr_size - 6 * mm, qr_size + 6 * mm],
        style=TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("ALIGN", (1, 0), (1, 0), "CENTER"),
            ]
        ),
    )
    return [table]


def _banner_block(text: str) -> Table:
    return Table(
        [[_para(text + "　本指南尚未生效，不得作为办事依据", "banner")]],
        colWidths=[CONTENT_WIDTH],
        style=TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.5, ALERT),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#fdecea")),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        ),
    )


def _materials_table(scenario: ScenarioView) -> Table:
    head = ["序号", "材料名称", "材料类型", "份数", "形式", "来源", "样表/示范文本"]
    widths = [10 * mm, 46 * mm, 27 * mm, 13 * mm, 18 * mm, 26 * mm]
    widths.append(CONTENT_WIDTH - sum(widths))
    rows: list[list[Any]] = [[_para(h, "cell_head") for h in head]]
    for material in scenario.materials:
        name: list[Flowable] = [_para(material.name, "cell")]
        if material.notes:
            name.append(_para(material.notes, "small"))
        kind: list[Flowable] = [_para(material.kind, "cell")]
        if material.makeup:
            kind.append(_para(material.makeup, "small"))
        rows.append(
            [
                _para(str(material.number), "cell"),
                name,
                kind,
                _para(material.copies, "cell"),
                _para(material.form, "cell"),
                _para(material.source, "cell"),
                _para(material.sample, "cell"),
            ]
        )
    return _table(rows, widths, header=True)


def _fees_block(view: GuideView) -> list[Flowable]:
    if not view.fees:
        return [_para("不收费")]
    widths = [40 * mm, 50 * mm]
    widths.append(CONTENT_WIDTH - sum(widths))
    rows: list[list[Any]] = [[_para(h, "cell_head") for h in ("收费项目", "收费标准", "收费依据")]]
    rows += [[_para(f.name, "cell"), _para(f.standard, "cell"), _para(f.basis, "cell")] for f in view.fees]
    return [_table(rows, widths, header=True)]


def _story(view: GuideView) -> list[Flowable]:
    section = _styles()["section"]
    story: list[Flowable] = []
    if view.banner:
        story += [_banner_block(view.banner), Spacer(1, 4 * mm)]
    story += _heading_block(view)

    story.append(Paragraph("一、基本信息", section))
    story.append(_key_value_table(view.basic_rows))

    story.append(Paragraph("二、设定依据", section))
    story += [_para(line) for line in view.legal_basis.splitlines() if line.strip()]

    story.append(Paragraph("三、受理条件", section))
    story += [_para(line) for line in view.acceptance_conditions.splitlines() if line.strip()]

    story.append(Paragraph("四、办理情形及申请材料", section))
    if not view.scenarios:
        story.append(_para(NOT_APPLICABLE))
    for scenario in view.scenarios:
        heading: list[Flowable] = [_para(scenario.title, "scenario")]
        if scenario.description:
            heading.append(_para(scenario.description, "small"))
        if scenario.materials:
            # Keep the scenario heading with the start of its table.
            story.append(KeepTogether([*heading, Spacer(1, 1.5 * mm)]))
            story.append(_materials_table(scenario))
        else:
            story += [*heading, _para("申请材料：无")]

    story.append(Paragraph("五、收费标准", section))
    story += _fees_block(view)

    story.append(Paragraph("六、办理流程", section))
    if view.steps:
        story += [_para(f"{n}. {step}") for n, step in enumerate(view.steps, start=1)]
    else:
        story.append(_para(NOT_APPLICABLE))

    story.append(Paragraph("七、办理地点、时间及咨询方式", section))
    story.append(_key_value_table(view.place_rows))

    story.append(Paragraph("八、监督投诉", section))
    story.append(_para(f"监督投诉电话：{view.complaint_phone}"))
    story.append(_para("投诉渠道："))
    story += [_para(f"（{n}）{c}") for n, c in enumerate(view.complaint_channels, start=1)]

    story.append(Spacer(1, 5 * mm))
    footer = f"本指南由{view.unit_name}发布，{view.version}，发布日期：{view.published}。"
    if view.lookup_url:
        footer += f"在线查看：{view.lookup_url}"
    story.append(_para(footer, "small"))
    return story


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _numbered_canvas(view: GuideView) -> type[pdf_canvas.Canvas]:
    """A canvas that draws header, footer "第 N 页 共 M 页" and the watermark once the page count is known."""

    class GuideCanvas(pdf_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._decorate(total)
                super().showPage()
            super().save()

        def _decorate(self, total: int) -> None:
            self.saveState()
            self.setFont(register_font(), 8.5)
            self.setFillColor(colors.dimgrey)
            top = PAGE_HEIGHT - 13 * mm
            self.drawString(MARGIN_X, top, drawable(f"{view.unit_name} 政务服务事项办事指南"))
            self.drawRightString(PAGE_WIDTH - MARGIN_X, top, drawable(_shorten(view.name, 36)))
            self.setStrokeColor(GRID)
            self.setLineWidth(0.6)
            self.line(MARGIN_X, top - 2.5 * mm, PAGE_WIDTH - MARGIN_X, top - 2.5 * mm)
            self.drawCentredString(PAGE_WIDTH / 2, 10 * mm, f"第 {self._pageNumber} 页 共 {total} 页")
            if view.banner:
                self.setFont(register_font(), 64)
                self.setFillColor(ALERT)
                self.setFillAlpha(0.13)
                self.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
                self.rotate(40)
                self.drawCentredString(0, 0, drawable(view.banner))
            self.restoreState()

    return GuideCanvas


def render_guide_pdf(
    item: ItemRow,
    *,
    unit_name: str,
    lookup_url: str,
    type_labels: Mapping[str, str] | None = None,
) -> bytes:
    """The guide as a printable A4 PDF with a QR code of `lookup_url` and numbered pages."""
    view = build_view(item, unit_name=unit_name, lookup_url=lookup_url, type_labels=type_labels)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=f"{view.name} 办事指南",
        author=view.unit_name,
        subject="政务服务事项办事指南",
        creator="sanji",
    )
    document.build(_story(view), canvasmaker=_numbered_canvas(view))
    return buffer.getvalue()
