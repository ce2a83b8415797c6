"""`import-units` against the real catalogue database (issue 23, item 2): a file with a bad row imports the
others and names the bad one by line; a GBK file and a UTF-8 file with a BOM (as spreadsheets save them)
are read; a village file without its townships makes no orphans; an unreadable file exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from services.catalogue import admin
from shared.config import PlatformSettings
from shared.db import owner_connection

DATA = Path(__file__).resolve().parents[3] / "tests" / "data" / "divisions-371502"


def _units(settings: PlatformSettings, prefix: str) -> dict[str, tuple[str, str, str | None]]:
    with owner_connection(settings.database_owner_url) as conn:
        rows = conn.execute(text("SELECT code, name, kind, parent_code FROM catalogue.units WHERE code LIKE :p"),
                            {"p": prefix + "%"}).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _run(settings: PlatformSettings, path: Path) -> int:
    return admin.main(["import-units", str(path)], settings=settings)


@pytest.fixture
def settings(migrated: PlatformSettings) -> PlatformSettings:
    return migrated


def test_a_bad_row_is_reported_by_line_and_the_rest_imported(settings, tmp_path, capsys):
    path = tmp_path / "units.csv"
    path.write_text("code,name\n371521,阳谷县\n37152110x,坏代码\n371521001,博济桥街道\n371521001001,\n"
                    "371521001002,谷山社区居委会\n371521900001,没有上级的村\n", encoding="utf-8")
    assert _run(settings, path) == 0
    out = capsys.readouterr().out
    assert "导入单位：3 个" in out and "拒绝：3 行" in out
    assert "units.csv 第 3 行：区划代码“37152110x”应为 2、4、6、9 或 12 位数字" in out
    assert "units.csv 第 5 行：区划代码 371521001001 缺少名称" in out
    assert "units.csv 第 7 行：上级单位 371521900 不在单位树中" in out
    assert _units(settings, "371521") == {
        "371521": ("阳谷县", "county", "3715"), "371521001": ("博济桥街道", "township", "371521"),
        "371521001002": ("谷山社区居委会", "village", "371521001")}


@pytest.mark.parametrize("encoding,county,name", [("gbk", "371522", "莘县"), ("utf-8-sig", "371524", "东阿县")])
def test_gbk_and_bom_files_are_read(settings, tmp_path, capsys, encoding, county, name):
    path = tmp_path / f"units-{encoding}.csv"
    path.write_bytes(f"code,name,note\r\n{county},{name},\r\n{county}001,城区街道,备注\r\n".encode(encoding))
    assert _run(settings, path) == 0
    assert "导入单位：2 个" in capsys.readouterr().out
    assert _units(settings, county) == {county: (name, "county", "3715"),
                                        f"{county}001": ("城区街道", "township", county)}


def test_the_national_village_file_alone_imports_no_orphan(settings, tmp_path, capsys):
    # the national columns; 茌平区 (371503), whose townships no test imports
    lines = (DATA / "villages.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "villages.csv"
    path.write_text(lines[0] + "".join(line for line in lines if line.startswith("371503")), encoding="utf-8")
    assert _run(settings, path) == 0
    out = capsys.readouterr().out
    assert "导入单位：0 个" in out and "拒绝：12 行" in out
    assert "villages.csv 第 2 行：上级单位 371503001 不在单位树中" in out
    assert _units(settings, "371503") == {}


def test_an_unreadable_file_exits_2_and_imports_nothing(settings, tmp_path, capsys):
    path = tmp_path / "units.csv"
    path.write_text("编码,名称\n371526,高唐县\n", encoding="utf-8")
    assert _run(settings, path) == admin.UNREADABLE
    assert "表头缺少列 code、name" in capsys.readouterr().err
    assert _run(settings, tmp_path / "missing.csv") == admin.UNREADABLE
    assert _units(settings, "371526") == {}
