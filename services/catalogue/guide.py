"""The service guide (办事指南) of a catalogue item: what it says (`build_view`) and the HTML page.

Both renderings — the HTML page here, the printable PDF in guide_pdf.py — are pure functions of an item
version (`ItemRow`): no database, no network. They share one view model (`GuideView`) so the HTML page and
the PDF always say the same thing with the same labels.

Code labels (item type, exercise level, case kind, target) come from mapping dictionaries; the item
type labels can be overridden per province through `type_labels`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import jinja2

from services.catalogue.domain import SITE_INSPECTION, Elements, ItemRow, Material, Status
from shared.versioned import STATUS_LABELS

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

DRAFT_BANNER = "草稿 · 未发布"
# Versions that are no longer in force say so as loudly as drafts do.
STATUS_BANNERS: Mapping[Status, str] = {
    Status.DRAFT: DRAFT_BANNER,
    Status.SUPERSEDED: "历史版本 · 已停止使用",
    Status.CANCELLED: "已取消 · 停止受理",
}

# The public page where anyone files a complaint (吐槽找茬) with the complaints service, served by the gateway
# (gateway/pages_public.py), on the same site as the guide's lookup address (issue 21 item 9).
COMPLAINT_PAGE = "/complaints/new"
# Seed 003 §20: “在市县两级政务服务大厅显要位置，设立‘吐槽找茬’窗口和只说‘YES’不说‘NO’提示牌”.
COMPLAINT_CHANNELS: Sequence[str] = (
    "拨打 12345 政务服务便民热线反映或投诉；",
    "到政务服务大厅“吐槽找茬”窗口当面反映，或在网上“吐槽找茬”页面（{page}）提交；",
    "通过政务服务“好差评”（现场评价器、二维码、网上办事平台）对本次服务作出评价，差评将被回访整改。",
)


def complaint_channels(lookup_url: str = "") -> list[str]:
    """Where to complain, the online page on the guide's own site when its address is known."""
    href = _safe_href(lookup_url)
    page = urlsplit(href)._replace(path=COMPLAINT_PAGE, query="", fragment="").geturl() if href else COMPLAINT_PAGE
    return [c.format(page=page) for c in COMPLAINT_CHANNELS]

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
    complaint_channels: list[str] = field(default_factory=complaint_channels)


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


def _statutory_limit(elements: Elements) -> str:
    if elements.statutory_limit_days > 0:
        return _working_days(elements.statutory_limit_days)
    return "即时办结" if elements.case_kind == "1" else NOT_APPLICABLE


def _promised_limit(elements: Elements) -> str:
    if elements.promised_limit_days > 0:
        return _working_days(elements.promised_limit_days)
    return "即时办结"


def _trips(max_trips: int) -> str:
    if max_trips <= 0:
        return "0 次（零跑腿）"
    if max_trips == 1:
        return "1 次（最多跑一次）"
    return f"{max_trips} 次"


def _date(moment: datetime | None) -> str:
    if moment is None:
        return BLANK
    return f"{moment.year}年{moment.month}月{moment.day}日"


def _material(number: int, material: Material) -> MaterialView:
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
    item: ItemRow,
    *,
    unit_name: str,
    lookup_url: str,
    type_labels: Mapping[str, str] | None = None,
) -> GuideView:
    """Everything the guide says, as text for people (not yet escaped for any output format)."""
    elements = Elements.from_dict(item.elements)
    status = Status(item.status)
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
        banner=STATUS_BANNERS.get(status),
        status=STATUS_LABELS[status],
        version=f"第 {item.version} 版" if item.version > 0 else BLANK,
        published="未发布" if status == Status.DRAFT else _date(item.published_at),
        basic_rows=basic_rows,
        legal_basis=_or_blank(elements.legal_basis, NOT_APPLICABLE),
        acceptance_conditions=_or_blank(elements.acceptance_conditions, NOT_APPLICABLE),
        scenarios=scenarios,
        fees=fees,
        steps=[s.strip() for s in elements.steps if s.strip()],
        place_rows=place_rows,
        complaint_phone=_or_blank(elements.complaint_phone, "12345"),
        complaint_channels=complaint_channels(lookup_url),
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
    item: ItemRow,
    *,
    unit_name: str,
    lookup_url: str,
    type_labels: Mapping[str, str] | None = None,
) -> str:
    """The guide as one standalone, print-friendly HTML page (inline CSS, no external assets)."""
    view = build_view(item, unit_name=unit_name, lookup_url=lookup_url, type_labels=type_labels)
    return _environment().get_template("guide.html").render(guide=view)
