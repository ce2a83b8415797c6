"""The service guide (办事指南) of a catalogue item, rendered as HTML and as a printable PDF.

Both renderings are pure functions of the item: no database, no network. They share one view model
(`GuideView`) so the HTML page and the PDF always say the same thing with the same labels.

Code labels (item type, exercise level, case kind, target) come from mapping dictionaries; the item
type labels can be overridden per province through `type_labels`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
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
from sanji.catalogue.v1 import catalogue_pb2

from services.catalogue.domain import SITE_INSPECTION
from shared.pdf import base_style, drawable, markup, register_font

# GB/T 39046 item types (事项类型). Provinces may override through `type_labels`.
DEFAULT_TYPE_LABELS: Mapping[str, str] = {
    "01": "行政许可",
    "02": "行政处罚",
    "03": "行政强制",
    "04": "行政征收",
    "05": "行政给付",
    "06": "行政检查",
    "07": "行政确认",
    "08": "行政奖励",
    "09": "行政裁决",
    "10": "其他行政权力",
    "20": "公共服务",
}

EXERCISE_LEVEL_LABELS: Mapping[str, str] = {
    "4": "县级",
    "5": "乡镇级",
    "6": "村级",
    "7": "分级行使",
}

CASE_KIND_LABELS: Mapping[str, str] = {
    "1": "即办件",
    "2": "承诺件",
}

TARGET_LABELS: Mapping[str, str] = {
    "natural_person": "自然人",
    "legal_person": "法人",
}

STATUS_LABELS: Mapping[int, str] = {
    catalogue_pb2.ITEM_STATUS_UNSPECIFIED: "草稿",
    catalogue_pb2.ITEM_STATUS_DRAFT: "草稿",
    catalogue_pb2.ITEM_STATUS_PUBLISHED: "已发布",
    catalogue_pb2.ITEM_STATUS_SUPERSEDED: "已被新版本替代",
    catalogue_pb2.ITEM_STATUS_CANCELLED: "已取消",
}

_UNPUBLISHED = frozenset({catalogue_pb2.ITEM_STATUS_UNSPECIFIED, catalogue_pb2.ITEM_STATUS_DRAFT})

DRAFT_BANNER = "草稿 · 未发布"
# Versions that are no longer in force say so as loudly as drafts do.
STATUS_BANNERS: Mapping[int, str] = {
    catalogue_pb2.ITEM_STATUS_UNSPECIFIED: DRAFT_BANNER,
    catalogue_pb2.ITEM_STATUS_DRAFT: DRAFT_BANNER,
    catalogue_pb2.ITEM_STATUS_SUPERSEDED: "历史版本 · 已停止使用",
    catalogue_pb2.ITEM_STATUS_CANCELLED: "已取消 · 停止受理",
}

COMPLAINT_CHANNELS: Sequence[str] = (
    "拨打 12345 政务服务便民热线反映或投诉；",
    "到办事大厅现场“办不成事”反映窗口当面反映；",
    "通过政务服务“好差评”（现场评价器、二维码、网上办事平台）对本次服务作出评价，差评将被回访整改。",
)

NOT_APPLICABLE = "无"
BLANK = "—"

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


# ---------------------------------------------------------------------------------------------
# View model shared by both renderings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaterialView:
    number: int
    name: str
    kind: str  # 核心 / 可容缺
    makeup: str  # "容缺补交时限 N 个工作日" or ""
    copies: str
    form: str
    source: str
    sample: str
    notes: str

    @property
    def waivable(self) -> bool:
        return self.kind == "可容缺"


@dataclass(frozen=True)
class ScenarioView:
    title: str  # 情形一：…
    description: str
    materials: list[MaterialView]


@dataclass(frozen=True)
class FeeView:
    name: str
    standard: str
    basis: str


@dataclass(frozen=True)
class GuideView:
    unit_name: str
    lookup_url: str
    lookup_href: str | None  # only http(s) URLs become links
    name: str
    banner: str | None
    status: str
    version: str
    published: str
    basic_rows: list[tuple[str, str]]
    legal_basis: str
    acceptance_conditions: str
    scenarios: list[ScenarioView]
    fees: list[FeeView]
    steps: list[str]
    place_rows: list[tuple[str, str]]
    complaint_phone: str
    complaint_channels: list[str] = field(default_factory=lambda: list(COMPLAINT_CHANNELS))


_CHINESE_ORDINALS = "一二三四五六七八九十"


def _ordinal(n: int) -> str:
    """1 → 一, 12 → 十二, 25 → 二十五 (enough for scenario headings)."""
    if n <= 10:
        return _CHINESE_ORDINALS[n - 1]
    tens, ones = divmod(n, 10)
    prefix = "" if tens == 1 else _CHINESE_ORDINALS[tens - 1]
    return prefix + "十" + (_CHINESE_ORDINALS[ones - 1] if ones else "")


def _or_blank(text: str, blank: str = BLANK) -> str:
    text = text.strip()
    return text if text else blank


def _labelled(code: str, labels: Mapping[str, str]) -> str:
    code = code.strip()
    if not code:
        return BLANK
    label = labels.get(code)
    return f"{label}（{code}）" if label else code


def _working_days(days: int) -> str:
    return f"{days} 个工作日"


def _statutory_limit(elements: catalogue_pb2.ItemElements) -> str:
    if elements.statutory_limit_days > 0:
        return _working_days(elements.statutory_limit_days)
    return "即时办结" if elements.case_kind == "1" else NOT_APPLICABLE


def _promised_limit(elements: catalogue_pb2.ItemElements) -> str:
    if elements.promised_limit_days > 0:
        return _working_days(elements.promised_limit_days)
    return "即时办结"


def _trips(max_trips: int) -> str:
    if max_trips <= 0:
        return "0 次（零跑腿）"
    if max_trips == 1:
        return "1 次（最多跑一次）"
    return f"{max_trips} 次"


def _date(text: str) -> str:
    text = text.strip()
    if not text:
        return BLANK
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return f"{moment.year}年{moment.month}月{moment.day}日"


def _material(number: int, material: catalogue_pb2.Material) -> MaterialView:
    waivable = material.waivable and not material.core
    makeup = ""
    if waivable and material.makeup_days > 0:
        makeup = f"容缺补交时限 {_working_days(material.makeup_days)}"
    return MaterialView(
        number=number,
        name=_or_blank(material.name),
        kind="可容缺" if waivable else "核心",
        makeup=makeup,
        copies=f"{material.copies} 份" if material.copies > 0 else BLANK,
        form=_or_blank(material.form),
        source=_or_blank(material.source),
        sample=_or_blank(material.sample, NOT_APPLICABLE),
        notes=material.notes.strip(),
    )


def _safe_href(url: str) -> str | None:
    url = url.strip()
    return url if url.lower().startswith(("https://", "http://")) else None


def build_view(
    item: catalogue_pb2.Item,
    *,
    unit_name: str,
    lookup_url: str,
    type_labels: Mapping[str, str] | None = None,
) -> GuideView:
    """Everything the guide says, as text for people (not yet escaped for any output format)."""
    elements = item.elements
    labels = {**DEFAULT_TYPE_LABELS, **(type_labels or {})}
    targets = "、".join(TARGET_LABELS.get(t, t) for t in elements.targets if t.strip()) or BLANK
    joint = "否"
    if elements.joint:
        departments = "、".join(d for d in elements.joint_departments if d.strip())
        joint = f"是（并联审批部门：{departments}）" if departments else "是"
    basic_rows = [
        ("事项名称", _or_blank(elements.name)),
        ("基本编码", _or_blank(elements.basic_code)),
        ("实施编码", _or_blank(elements.implementation_code)),
        ("事项类型", _labelled(elements.item_type, labels)),
        ("行使层级", _labelled(elements.exercise_level, EXERCISE_LEVEL_LABELS)),
        ("办件类型", _labelled(elements.case_kind, CASE_KIND_LABELS)),
        ("实施主体", _or_blank(unit_name)),
        ("实施部门", _or_blank(elements.department)),
        ("服务对象", targets),
        ("法定办结时限", _statutory_limit(elements)),
        ("承诺办结时限", _promised_limit(elements)),
        ("到办事现场次数", _trips(elements.max_trips)),
        ("网上办理", "是" if elements.online else "否"),
        ("并联审批", joint),
        ("现场踏勘", SITE_INSPECTION.get(elements.site_inspection, elements.site_inspection)),
    ]
    scenarios = [
        ScenarioView(
            title=f"情形{_ordinal(index)}：{_or_blank(scenario.name)}",
            description=scenario.description.strip(),
            materials=[_material(n, m) for n, m in enumerate(scenario.materials, start=1)],
        )
        for index, scenario in enumerate(elements.scenarios, start=1)
    ]
    fees = [
        FeeView(
            name=_or_blank(fee.name),
            standard=_or_blank(fee.standard),
            basis=_or_blank(fee.basis),
        )
        for fee in elements.fees
    ]
    place_rows = [
        ("办理地点", _or_blank(elements.handling_place)),
        ("办理时间", _or_blank(elements.handling_hours)),
        ("咨询电话", _or_blank(elements.consult_phone)),
    ]
    return GuideView(
        unit_name=unit_name.strip(),
        lookup_url=lookup_url.strip(),
        lookup_href=_safe_href(lookup_url),
        name=_or_blank(elements.name),
        banner=STATUS_BANNERS.get(item.status),
        status=STATUS_LABELS.get(item.status, "草稿"),
        version=f"第 {item.version} 版" if item.version > 0 else BLANK,
        published="未发布" if item.status in _UNPUBLISHED else _date(item.published_at),
        basic_rows=basic_rows,
        legal_basis=_or_blank(elements.legal_basis, NOT_APPLICABLE),
        acceptance_conditions=_or_blank(elements.acceptance_conditions, NOT_APPLICABLE),
        scenarios=scenarios,
        fees=fees,
        steps=[s.strip() for s in elements.steps if s.strip()],
        place_rows=place_rows,
        complaint_phone=_or_blank(elements.complaint_phone, "12345"),
    )


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """Built on first use, then shared."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_guide_html(
    item: catalogue_pb2.Item,
    *,
    unit_name: str,
    lookup_url: str,
    type_labels: Mapping[str, str] | None = None,
) -> str:
    """The guide as one standalone, print-friendly HTML page (inline CSS, no external assets)."""
    view = build_view(item, unit_name=unit_name, lookup_url=lookup_url, type_labels=type_labels)
    return _environment().get_template("guide.html").render(guide=view)


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------

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
    item: catalogue_pb2.Item,
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
