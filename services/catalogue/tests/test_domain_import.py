"""Row rules of the published-list import (事项清单导入), no I/O."""

from __future__ import annotations

import dataclasses

import pytest

from services.catalogue import domain, importing
from services.catalogue.domain import CodeFormat, Item, Status
from services.catalogue.importing import DraftRow, ExistingCodes, RowProblem, UnreadableFile
from shared.errors import FailedPrecondition, InvalidArgument
from shared.tenancy import DivisionCode

# Sichuan's format and task-type table as the catalogue holds them (migrations 0001 and 0002)
HYPHENATED = r"[0-9A-Za-z]+(-[0-9A-Za-z]+)*"
SICHUAN = CodeFormat(province="51", basic_max=14, implementation_max=55, case_number_max=64,
                     basic_pattern=HYPHENATED, implementation_pattern=HYPHENATED,
                     description="四川省政务服务事项编码规则")
SICHUAN_TYPES = {"1": "01", "2": "02", "3": "03", "4": "04", "5": "05", "6": "06", "7": "07", "8": "08", "9": "09",
                 "10": "10", "20": "20"}
GUANG_AN = DivisionCode("511602")

HEADER = "department,group,name,implementation_code,basic_code,area_code,task_type,dept_code"
# real rows of the Guang'an list (lines 3, 4 and 119 of the fixture)
PERMIT = ("区教科体局,未分类,适龄儿童、少年因身体状况需要延缓入学或者休学审批,"
          "511A0138000000-511602000000-000-115113010833722043-1-00,511A0138000000,511602000000,1,083372204")
GRANT = ("区教科体局,未分类,中职和本专科建档立卡特别资助项目,G-000007-001-511602000000-000-115113010833722043-1-00,"
         "G-000007-001,511602000000,5,083372204")
BROKEN_LINK = ("区自然资源和规划局,未分类,省际间调运林草植物检疫证书新办核发,"
               "511A0077700002-510000000000-000-8282348-1-00,"
               "511A0077700002-510000000000-000-8282348-1-00,511602000000,1,00877836X")


def source(*rows: str) -> importing.SourceFile:
    return importing.read_csv("\n".join([HEADER, *rows]) + "\n")


def check(*rows: str, fmt: CodeFormat = SICHUAN, types=SICHUAN_TYPES):
    return importing.check_rows(source(*rows), tenant=GUANG_AN, fmt=fmt, item_types=types)


def with_field(row: str, name: str, value: str) -> str:
    values = row.split(",")
    values[importing.COLUMNS.index(name)] = value
    return ",".join(values)


def test_sichuan_long_and_hyphenated_codes_are_drafts_under_sichuans_format():
    permit, grant = check(PERMIT, GRANT)
    assert isinstance(permit, DraftRow) and isinstance(grant, DraftRow)
    assert (permit.line, grant.line) == (2, 3)
    el = permit.elements
    assert (el.name, el.basic_code, el.item_type, el.department) == (
        "适龄儿童、少年因身体状况需要延缓入学或者休学审批", "511A0138000000", "01", "区教科体局")
    assert len(el.implementation_code) == 55
    assert grant.elements.basic_code == "G-000007-001" and grant.elements.item_type == "05"
    # nothing the list does not hold is invented
    assert (el.legal_basis, el.acceptance_conditions, el.targets, el.scenarios, el.exercise_level, el.case_kind) == (
        "", "", (), (), "", "")
    assert domain.validate_draft(el, SICHUAN) is el


def test_the_same_codes_are_too_long_for_gbt_39046():
    [problems] = check(PERMIT, fmt=domain.GBT_39046)
    assert {p.field for p in problems} == {"basic_code", "implementation_code"}
    assert all("GB/T 39046" in p.reason for p in problems)


@pytest.mark.parametrize("row, field, words", [
    (BROKEN_LINK, "basic_code", "基本编码过长：44 位"),
    (with_field(PERMIT, "basic_code", "511A0138000000-511602000000"), "basic_code", "过长"),
    (with_field(PERMIT, "basic_code", "511A 0138"), "basic_code", "格式不符合四川省"),
    (with_field(PERMIT, "basic_code", ""), "basic_code", "不能为空"),
    (with_field(PERMIT, "task_type", "30"), "task_type", "未知的事项类型：30"),
    (with_field(PERMIT, "task_type", "01"), "task_type", "未知的事项类型：01"),
    (with_field(PERMIT, "task_type", ""), "task_type", "未知的事项类型：（空）"),
    (with_field(PERMIT, "name", ""), "name", "事项名称为空"),
    (with_field(PERMIT, "name", "　 "), "name", "事项名称为空"),
    (with_field(PERMIT, "name", "审" * 201), "name", "事项名称过长"),
    (with_field(PERMIT, "department", ""), "department", "实施部门为空"),
    (with_field(PERMIT, "area_code", "513221000000"), "area_code", "不是本单位的（本单位 511602 为 511602000000）"),
    (with_field(PERMIT, "area_code", "511602"), "area_code", "应为 12 位数字"),
    (with_field(PERMIT, "implementation_code", ""), "implementation_code", "实施编码不能为空"),
    (with_field(PERMIT, "implementation_code", "511A0138000000-510000000000-000-8282348-1-00"),
     "implementation_code", "应以“基本编码-区划代码-”开头"),
    (PERMIT + ",多余的一列", "row", "列数不对：有 9 列，表头为 8 列"),
    (PERMIT.rsplit(",", 1)[0], "row", "列数不对：有 7 列"),
])
def test_each_malformed_row_is_refused_with_its_line_field_and_reason(row, field, words):
    good, refused, after = check(PERMIT, row, GRANT)
    assert isinstance(good, DraftRow) and isinstance(after, DraftRow)
    assert isinstance(refused, list)
    assert [p.line for p in refused] == [3] * len(refused)
    found = {p.field: p.reason for p in refused}
    assert field in found and words in found[field], refused


def test_a_row_may_break_several_rules_and_each_is_named():
    [problems] = check(with_field(with_field(PERMIT, "name", ""), "task_type", "99"))
    assert [(p.line, p.field) for p in problems] == [(2, "name"), (2, "task_type")]
    assert str(problems[0]) == "第 2 行 name（事项名称）：事项名称为空"


@pytest.mark.parametrize("sichuan, gbt", [("1", "01"), ("5", "05"), ("7", "07"), ("8", "08"), ("9", "09"),
                                          ("10", "10"), ("20", "20")])
def test_task_types_map_through_the_provinces_table(sichuan, gbt):
    assert importing.map_item_type(sichuan, SICHUAN_TYPES) == gbt
    [row] = check(with_field(PERMIT, "task_type", sichuan))
    assert row.elements.item_type == gbt


def test_without_a_table_a_province_writes_gbt_codes_itself():
    assert importing.map_item_type("01", {}) == "01"
    with pytest.raises(InvalidArgument) as e:
        importing.map_item_type("1", {})
    assert e.value.field == "task_type"
    with pytest.raises(InvalidArgument):     # a table row pointing outside GB/T 39046 is refused too
        importing.map_item_type("1", {"1": "99"})


def test_group_becomes_a_keyword_unless_ungrouped():
    grouped = with_field(PERMIT, "group", "企业设立、变更、注销登记")
    plain, keyed = check(PERMIT, grouped.replace("511A0138000000", "511A0138000001"))
    assert plain.elements.keywords == () and keyed.elements.keywords == ("企业设立、变更、注销登记",)


def test_reading_keeps_line_numbers_and_refuses_a_file_without_its_columns():
    multiline = '区民政局,未分类,"临时救助\n（跨行名称）",X-1-511602000000-000-1-1-00,X-1,511602000000,5,1'
    text = "\ufeff" + HEADER + "\n\n" + multiline + "\n" + GRANT + "\n"
    f = importing.read_csv(text)
    assert [r.line for r in f.rows] == [3, 5]
    assert f.rows[0].values[2] == "临时救助\n（跨行名称）"
    with pytest.raises(UnreadableFile) as e:
        importing.read_csv("department,name,basic_code\n区民政局,临时救助,X-1\n")
    assert "implementation_code（实施编码）" in e.value.message
    for empty in ("", "\n\n", "\ufeff"):
        with pytest.raises(UnreadableFile):
            importing.read_csv(empty)
    assert importing.read_csv(HEADER + "\n").rows == ()


def test_plan_skips_what_the_unit_holds_and_duplicates_within_the_file():
    grant_again_other_basic = with_field(GRANT, "name", "同码重复")
    same_basic = with_field(PERMIT, "implementation_code",
                            "511A0138000000-511602000000-000-115113010833722043-2-00")
    checked = check(PERMIT, GRANT, grant_again_other_basic, same_basic, with_field(PERMIT, "name", ""))
    existing = ExistingCodes(implementation={"511A0138000000-511602000000-000-115113010833722043-1-00": "draft"},
                             basic_in_use=frozenset({"511A0138000000"}))
    plan = importing.plan_import(checked, existing)
    assert [d.line for d in plan.to_create] == [3]
    assert [(a.line, a.status) for a in plan.already_present] == [(2, "draft")]
    assert [(p.line, p.field) for p in plan.refused] == [(4, "implementation_code"), (5, "basic_code"), (6, "name")]
    assert "与第 3 行的实施编码重复" in plan.refused[0].reason
    assert "本单位已有基本编码为 511A0138000000 的事项" in plan.refused[1].reason
    fresh = importing.plan_import(checked[:4], ExistingCodes())
    assert [d.line for d in fresh.to_create] == [2, 3]
    assert [(p.line, p.field) for p in fresh.refused] == [(4, "implementation_code"), (5, "basic_code")]
    assert "与第 2 行的基本编码相同" in fresh.refused[1].reason


def test_report_counts_every_row_once_and_lists_the_refused():
    report = importing.ImportReport(tenant="511602", rows=4, created=[2],
                                    already_present=[importing.AlreadyPresent(3, "X", "draft")],
                                    refused=[RowProblem(5, "task_type", "未知的事项类型：99"),
                                             RowProblem(4, "basic_code", "基本编码过长"),
                                             RowProblem(4, "name", "事项名称为空")])
    assert report.refused_lines == [4, 5]
    text = "\n".join(report.summary())
    assert "共 4 行" in text and "新建草稿：1 项" in text and "已存在：1 项" in text and "草稿 1 项" in text
    assert "拒绝：2 行" in text
    assert text.index("第 4 行 name") < text.index("第 4 行 basic_code") < text.index("第 5 行 task_type")
    assert "须由本单位管理员补全" in text


def test_an_imported_draft_cannot_be_published_until_completed():
    [row] = check(PERMIT)
    item = Item.create("id-1", GUANG_AN, row.elements)
    with pytest.raises(FailedPrecondition) as e:
        item.publish(SICHUAN)
    assert e.value.field == "elements.exercise_level" and "草稿要素不完整" in e.value.message
    assert item.status == Status.DRAFT
    m = domain.Material(code="M1", name="申请表", core=True)
    item.update_draft(dataclasses.replace(
        row.elements, exercise_level="4", case_kind="2", legal_basis="《中华人民共和国义务教育法》第十一条",
        acceptance_conditions="适龄儿童、少年因身体状况需要延缓入学或者休学", targets=("natural_person",),
        statutory_limit_days=20, promised_limit_days=5, scenarios=(domain.Scenario("S1", "延缓入学", materials=(m,)),)))
    assert item.publish(SICHUAN).status == Status.PUBLISHED
