"""Reading the division files as published (issue 23, item 2): UTF-8, UTF-8 with a BOM, GBK; a bad line
reported by its file and line while the others go on; no village without its township; one county's
tree taken from the national files. Pure: no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import divisions
from shared.tenancy import UnitKind

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "divisions-371502"
UNITS = "code,name\n371502,东昌府区\n371502001,古楼街道\n371502001001,古城社区居委会\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_every_encoding_a_spreadsheet_saves_is_read(encoding):
    text = divisions.decode(UNITS.encode(encoding), "units.csv")
    lines = divisions.unit_lines(text, "units.csv")
    assert [(r.line, r.code, r.name) for r in lines] == [(2, "371502", "东昌府区"), (3, "371502001", "古楼街道"),
                                                         (4, "371502001001", "古城社区居委会")]


def test_a_file_in_no_known_encoding_or_without_the_columns_is_unreadable():
    with pytest.raises(divisions.UnreadableDivisions, match="文字编码"):
        divisions.decode(b"\xff\xfe\x00\xd8code", "x.csv")
    with pytest.raises(divisions.UnreadableDivisions, match="表头缺少列 name"):
        divisions.unit_lines("code,名称\n371502,东昌府区\n", "x.csv")


def test_a_bad_line_is_reported_and_the_rest_accepted():
    text = ("code,name\n371502,东昌府区\n3715020011,坏代码\n371502002,\n371502001,古楼街道\n371502001,古楼街道\n"
            "371502001001,古城社区居委会\n371502099001,无上级的村\n")
    report = divisions.check_units(divisions.unit_lines(text, "units.csv"))
    assert [r.code for r in report.accepted] == ["371502", "371502001", "371502001001"]
    assert [(p.line, p.message) for p in report.refused] == [
        (3, "区划代码“3715020011”应为 2、4、6、9 或 12 位数字"),
        (4, "区划代码 371502002 缺少名称"),
        (6, "区划代码 371502001 与 units.csv 第 5 行重复"),
        (8, "上级单位 371502099 不在单位树中，371502099001（无上级的村）未导入"
            "（请先导入或一并导入其上级：乡镇（街道）文件 streets.csv）"),
    ]
    assert str(report.refused[0]) == "units.csv 第 3 行：区划代码“3715020011”应为 2、4、6、9 或 12 位数字"
    assert report.summary()[:2] == ["导入单位：3 个（县（区） 1 个、乡镇（街道） 1 个、村（社区） 1 个）",
                                    "拒绝：4 行，逐行如下："]


def test_a_village_file_alone_makes_no_orphans_unless_its_townships_are_known():
    villages = (DATA / "villages.csv").read_text(encoding="utf-8")
    lines = [r for r in divisions.unit_lines(villages, "villages.csv") if r.code.startswith("371502")]
    alone = divisions.check_units(lines)
    assert alone.accepted == [] and len(alone.refused) == len(lines) == 338
    known = {r.code[:9] for r in lines} | {"371502"}
    assert len(divisions.check_units(lines, known=known).accepted) == 338


def test_a_refused_township_takes_its_villages_with_it():
    text = "code,name\n371502,东昌府区\n371502001,\n371502001001,古城社区居委会\n"
    report = divisions.check_units(divisions.unit_lines(text, "u.csv"))
    assert [r.code for r in report.accepted] == ["371502"]
    assert [p.line for p in report.refused] == [3, 4]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_one_countys_tree_from_the_national_files(encoding):
    def read(name: str) -> tuple[str, str]:
        raw = (DATA / name).read_text(encoding="utf-8").encode(encoding)     # as a spreadsheet saved it
        return divisions.decode(raw, name), name

    lines = divisions.county_lines("371502", areas=read("areas.csv"), streets=read("streets.csv"),
                                   villages=read("villages.csv"))
    report = divisions.check_units(lines)
    assert report.refused == []
    counts = report.counts()
    assert counts == {UnitKind.COUNTY: 1, UnitKind.TOWNSHIP: 24, UnitKind.VILLAGE: 338}
    assert all(r.code.startswith("371502") for r in report.accepted)          # the neighbour's rows stay out
    assert next(r for r in report.accepted if r.code == "371502").source == "areas.csv"


def test_a_county_not_in_the_areas_file_is_said_so():
    with pytest.raises(divisions.UnreadableDivisions, match="没有县（区）371599"):
        divisions.county_lines("371599", areas=("code,name,cityCode\n371502,东昌府区,3715\n", "areas.csv"),
                               streets=("code,name,areaCode\n", "streets.csv"),
                               villages=("code,name,areaCode\n", "villages.csv"))
