"""The service guide (办事指南) as HTML and PDF, rendered from real catalogue items (no mocks).

The items are written with the API's own message builders (as an admin's console sends them) and handed
to the guide as the handlers hand it a version read back: an `ItemRow`."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable

import pytest
from google.protobuf import json_format
from pypdf import PdfReader
from sanji.catalogue.v1 import catalogue_pb2

from services.catalogue import guide, guide_pdf
from services.catalogue.domain import ItemRow
from services.catalogue.translate import STATUS

UNIT = "凉州区"
URL = "https://zwfw.liangzhou.gov.cn/guide/item-0001"

HOMESTEAD_CORE = "农村宅基地和建房（规划许可）申请表"
HOMESTEAD_WAIVABLE = "申请人户口簿复印件"
HOMESTEAD_REBUILD = "原宅基地使用权证明"


def homestead_item(status: int = catalogue_pb2.ITEM_STATUS_PUBLISHED) -> catalogue_pb2.Item:
    """农村村民宅基地审批: a township licence, 2 scenarios, a core and a waivable material, free."""
    item = catalogue_pb2.Item(
        id="item-0001",
        tenant="620602",
        version=2,
        status=status,
        published_at="2026-03-02T09:30:00+08:00" if status == catalogue_pb2.ITEM_STATUS_PUBLISHED else "",
    )
    e = item.elements
    e.name = "农村村民宅基地审批"
    e.basic_code = "000115001000"
    e.implementation_code = "11620602MB1234567X4000115001000"
    e.item_type = "01"
    e.exercise_level = "5"
    e.case_kind = "2"
    e.department = "凉州区农业农村局"
    e.legal_basis = (
        "《中华人民共和国土地管理法》第六十二条：农村村民一户只能拥有一处宅基地，其宅基地的面积不得超过"
        "省、自治区、直辖市规定的标准。农村村民住宅用地，由乡（镇）人民政府审核批准。"
    )
    e.acceptance_conditions = "1. 具有本集体经济组织成员资格；\n2. 符合国土空间规划和村庄规划。"
    e.targets.append("natural_person")
    e.statutory_limit_days = 20
    e.promised_limit_days = 10
    new_house = e.scenarios.add(code="S1", name="新建住房", description="本村村民因分户需新建住房")
    new_house.materials.add(
        code="M1",
        name=HOMESTEAD_CORE,
        core=True,
        copies=1,
        form="原件",
        source="申请人自备",
        sample="《农村宅基地和建房（规划许可）申请表》样表",
    )
    new_house.materials.add(
        code="M2",
        name=HOMESTEAD_WAIVABLE,
        waivable=True,
        makeup_days=5,
        copies=1,
        form="复印件",
        source="公安部门核发",
        notes="核验原件后退回",
    )
    rebuild = e.scenarios.add(code="S2", name="原址翻建")
    rebuild.materials.add(code="M3", name=HOMESTEAD_REBUILD, core=True, copies=1, form="原件")
    e.steps.extend(["申请：向所在村民小组提出申请", "审查：村级组织审查并公示", "审批：乡镇人民政府审批"])
    e.handling_place = "凉州区清源镇便民服务中心综合受理窗口"
    e.handling_hours = "工作日 9:00-12:00，14:30-17:30（法定节假日除外）"
    e.consult_phone = "0935-2211001"
    e.complaint_phone = "0935-2211002"
    e.online = True
    e.max_trips = 1
    e.joint = True
    e.joint_departments.extend(["清源镇自然资源所", "清源镇农业农村办"])
    e.site_inspection = "suspends"
    return item


def food_item() -> catalogue_pb2.Item:
    """食品经营许可: a county licence with a fee."""
    item = catalogue_pb2.Item(
        id="item-0002",
        tenant="620602",
        version=1,
        status=catalogue_pb2.ITEM_STATUS_PUBLISHED,
        published_at="2026-01-15",
    )
    e = item.elements
    e.name = "食品经营许可"
    e.basic_code = "000173006000"
    e.implementation_code = "11620602MB7654321Y4000173006000"
    e.item_type = "01"
    e.exercise_level = "4"
    e.case_kind = "2"
    e.department = "凉州区市场监督管理局"
    e.legal_basis = "《中华人民共和国食品安全法》第三十五条"
    e.targets.extend(["legal_person", "natural_person"])
    e.statutory_limit_days = 20
    e.promised_limit_days = 5
    scenario = e.scenarios.add(code="S1", name="新办")
    scenario.materials.add(code="M1", name="食品经营许可申请书", core=True, copies=1, form="原件")
    e.fees.add(
        fee_code="F001",
        name="证照工本费",
        standard="每证 10 元",
        basis="《甘肃省行政事业性收费目录清单》",
    )
    e.max_trips = 0
    return item


def instant_item() -> catalogue_pb2.Item:
    """A 即办件 decided at the window: promised 0 days."""
    item = catalogue_pb2.Item(id="item-0003", version=1, status=catalogue_pb2.ITEM_STATUS_PUBLISHED)
    e = item.elements
    e.name = "农村五保供养证补办"
    e.item_type = "20"
    e.exercise_level = "5"
    e.case_kind = "1"
    e.promised_limit_days = 0
    return item


def as_row(item: catalogue_pb2.Item) -> ItemRow:
    """The version as the catalogue reads it back: its elements as stored (every field), its status by name."""
    elements = json_format.MessageToDict(item.elements, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)
    status = next(name for name, value in STATUS.items() if value == item.status)
    published = dt.datetime.fromisoformat(item.published_at) if item.published_at else None
    return ItemRow(id=item.id, tenant=item.tenant, version=item.version, status=status, elements=elements,
                   created_at=None, published_at=published, change_reason="")


def render_guide_html(item: catalogue_pb2.Item, **kw) -> str:
    return guide.render_guide_html(as_row(item), **kw)


def render_guide_pdf(item: catalogue_pb2.Item, **kw) -> bytes:
    return guide_pdf.render_guide_pdf(as_row(item), **kw)


def pdf_text(pdf: bytes) -> str:
    """Text of every page, as pypdf extracts it (the embedded font's subset carries its Unicode map)."""
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def squeeze(text: str) -> str:
    """Extraction breaks lines where the PDF wraps them; compare without whitespace."""
    return re.sub(r"\s+", "", text)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def test_html_shows_the_standard_elements_of_the_item() -> None:
    html = render_guide_html(homestead_item(), unit_name=UNIT, lookup_url=URL)
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in html
    for expected in (
        "农村村民宅基地审批",
        "000115001000",
        "11620602MB1234567X4000115001000",
        "行政许可",
        "乡镇级",
        "承诺件",
        "凉州区农业农村局",
        "自然人",
        "法定办结时限",
        "20 个工作日",
        "承诺办结时限",
        "10 个工作日",
        "情形一：新建住房",
        "情形二：原址翻建",
        HOMESTEAD_CORE,
        HOMESTEAD_WAIVABLE,
        HOMESTEAD_REBUILD,
        "核心",
        "可容缺",
        "容缺补交时限 5 个工作日",
        "不收费",
        "最多跑一次",
        "清源镇自然资源所",
        "现场踏勘",
        "不计入办理时限",
        "0935-2211002",
        "12345 政务服务便民热线",
        "“吐槽找茬”窗口",
        "https://zwfw.liangzhou.gov.cn/complaints/new",
        "好差评",
        "第 2 版",
        "2026年3月2日",
        f'<a href="{URL}">',
    ):
        assert expected in html, expected


def test_html_is_standalone() -> None:
    html = render_guide_html(homestead_item(), unit_name=UNIT, lookup_url=URL)
    assert "<style>" in html
    assert "<script" not in html
    assert "<link" not in html
    assert "src=" not in html


def test_html_lists_fees_with_standard_and_basis() -> None:
    html = render_guide_html(food_item(), unit_name=UNIT, lookup_url=URL)
    assert "证照工本费" in html
    assert "每证 10 元" in html
    assert "《甘肃省行政事业性收费目录清单》" in html
    assert "不收费" not in html
    assert "零跑腿" in html
    assert "法人、自然人" in html
    assert "县级" in html


def test_html_escapes_user_text() -> None:
    item = homestead_item()
    item.elements.name = "宅基地<script>alert('x')</script>审批 & 登记"
    item.elements.scenarios[0].materials[0].name = '<img src=x onerror="alert(1)">'
    html = render_guide_html(item, unit_name="<b>区</b>", lookup_url=URL)
    assert "<script>" not in html
    assert "<img" not in html
    assert "<b>区</b>" not in html
    assert "宅基地&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;审批 &amp; 登记" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_html_links_only_web_urls() -> None:
    html = render_guide_html(homestead_item(), unit_name=UNIT, lookup_url="javascript:alert(1)")
    assert 'href="javascript' not in html


def test_the_guide_points_complaints_to_the_tucao_zhaocha_window_and_page() -> None:
    """Seed 003 §20: “设立‘吐槽找茬’窗口和只说‘YES’不说‘NO’提示牌” — not a “办不成事” window."""
    html = render_guide_html(homestead_item(), unit_name=UNIT, lookup_url=URL)
    assert "“吐槽找茬”窗口" in html and "办不成事" not in html
    assert "https://zwfw.liangzhou.gov.cn/complaints/new" in html
    # without a web address for the guide, the page is named by its path on the platform's site
    html = render_guide_html(homestead_item(), unit_name=UNIT, lookup_url="窗口索取")
    assert "（/complaints/new）" in html


def test_html_type_labels_can_be_overridden() -> None:
    item = homestead_item()
    item.elements.item_type = "99"
    html = render_guide_html(item, unit_name=UNIT, lookup_url=URL, type_labels={"99": "省级特色事项"})
    assert "省级特色事项（99）" in html


def test_draft_banner_only_when_not_published() -> None:
    draft = render_guide_html(homestead_item(catalogue_pb2.ITEM_STATUS_DRAFT), unit_name=UNIT, lookup_url=URL)
    published = render_guide_html(homestead_item(), unit_name=UNIT, lookup_url=URL)
    assert "草稿 · 未发布" in draft
    assert 'class="watermark"' in draft
    assert "草稿 · 未发布" not in published
    assert 'class="watermark"' not in published


def test_instant_item_is_decided_at_once() -> None:
    html = render_guide_html(instant_item(), unit_name=UNIT, lookup_url=URL)
    assert "即办件" in html
    assert "即时办结" in html


def test_item_without_scenarios_fees_or_steps_says_none() -> None:
    html = render_guide_html(instant_item(), unit_name=UNIT, lookup_url="")
    body = html.split("四、办理情形及申请材料", 1)[1]
    assert body.split("</h2>", 1)[1].lstrip().startswith("<p>无</p>")
    assert "不收费" in html
    assert "在线查看" not in html


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------


def test_pdf_contains_the_item_and_its_materials() -> None:
    pdf = render_guide_pdf(homestead_item(), unit_name=UNIT, lookup_url=URL)
    assert pdf.startswith(b"%PDF")
    text = squeeze(pdf_text(pdf))
    for expected in (
        "农村村民宅基地审批",
        "11620602MB1234567X4000115001000",
        "承诺办结时限",
        HOMESTEAD_CORE,
        HOMESTEAD_WAIVABLE,
        "核心",
        "可容缺",
        "容缺补交时限5个工作日",
        "不收费",
        "12345政务服务便民热线",
    ):
        assert expected in text, expected
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    assert [f"第{n}页共{pages}页" in text for n in range(1, pages + 1)] == [True] * pages
    assert "草稿" not in text


def test_pdf_metadata_and_fee_table() -> None:
    pdf = render_guide_pdf(food_item(), unit_name=UNIT, lookup_url=URL)
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None
    assert reader.metadata.title == "食品经营许可 办事指南"
    text = squeeze(pdf_text(pdf))
    assert "证照工本费" in text
    assert "每证10元" in text
    assert "不收费" not in text


def test_pdf_draft_watermark() -> None:
    draft = squeeze(
        pdf_text(render_guide_pdf(homestead_item(catalogue_pb2.ITEM_STATUS_DRAFT), unit_name=UNIT, lookup_url=URL))
    )
    # the embedded face draws the middle dot U+00B7 itself (the CID font drew a look-alike, U+30FB)
    assert "草稿·未发布" in draft
    assert "本指南尚未生效" in draft
    published = squeeze(pdf_text(render_guide_pdf(homestead_item(), unit_name=UNIT, lookup_url=URL)))
    assert "未发布" not in published
    assert "尚未生效" not in published


def test_pdf_instant_item() -> None:
    text = squeeze(pdf_text(render_guide_pdf(instant_item(), unit_name=UNIT, lookup_url=URL)))
    assert "即时办结" in text
    assert "不收费" in text


def test_pdf_escapes_markup_in_user_text() -> None:
    item = homestead_item()
    item.elements.name = "宅基地<script>审批</script> & <b>登记"
    item.elements.fees.add(name="<font size=40>费</font>", standard="1 < 2 & 3", basis="&amp;")
    text = squeeze(pdf_text(render_guide_pdf(item, unit_name=UNIT, lookup_url=URL)))
    assert "宅基地<script>审批</script>&<b>登记" in text
    assert "<fontsize=40>费</font>" in text
    assert "1<2&3" in text


@pytest.mark.parametrize(
    "render",
    [render_guide_html, render_guide_pdf],
)
def test_very_long_text_wraps_and_spans_pages(render: Callable[..., str | bytes]) -> None:
    item = homestead_item()
    clause = "《中华人民共和国土地管理法实施条例》第三十四条：农村村民申请宅基地的，应当以户为单位提出申请。"
    item.elements.legal_basis = clause * 120
    material = item.elements.scenarios[0].materials[0]
    material.name = "超长材料名称" * 400  # a single table cell taller than a page
    material.sample = "https://example.gov.cn/" + "x" * 600  # no break opportunity at all
    item.elements.fees.add(name="测试费", standard="按面积", basis=clause * 40)
    output = render(item, unit_name=UNIT, lookup_url=URL)
    if isinstance(output, bytes):
        reader = PdfReader(io.BytesIO(output))
        pages = len(reader.pages)
        assert pages > 3
        assert f"第{pages}页共{pages}页" in squeeze(reader.pages[-1].extract_text())
    else:
        assert output.count(clause) == 120 + 40


def test_many_scenarios_are_numbered_in_chinese() -> None:
    item = homestead_item()
    del item.elements.scenarios[:]
    for n in range(1, 13):
        item.elements.scenarios.add(name=f"情形{n}")
    html = render_guide_html(item, unit_name=UNIT, lookup_url=URL)
    assert "情形十：" in html
    assert "情形十二：" in html
    assert "申请材料：无" in html
