"""A real county's published list (广安区, 1,135 items) imported into the real catalogue database,
then seen through the gRPC API by its own admin and by another county's."""

from __future__ import annotations

import csv
import logging
import time
from collections import Counter
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb

from services.catalogue import admin, importing
from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.repository import CatalogueRepository
from services.catalogue.tests.test_catalogue_grpc import err, field_of
from services.catalogue.translate import EventsOut
from shared.db import sql
from shared.tenancy import DivisionCode, Principal, Role
from tests.support import Caller

DATA = Path(__file__).parent / "data"
LIST = DATA / "guangan-511602.csv"
COUNTY = "511602"
# the four rows whose basic codes came out of a broken source link (data/README.md)
BROKEN_LINK_LINES = [119, 167, 368, 632]
SICHUAN_TYPES = {"1": "01", "5": "05", "7": "07", "8": "08", "9": "09", "10": "10", "20": "20"}

log = logging.getLogger(__name__)


def file_rows() -> dict[int, dict[str, str]]:
    """The list's records by line (no record spans lines in this file)."""
    with LIST.open(encoding="utf-8", newline="") as f:
        return {line: row for line, row in enumerate(csv.DictReader(f), start=2)}


def good_rows() -> dict[int, dict[str, str]]:
    return {line: r for line, r in file_rows().items() if line not in BROKEN_LINK_LINES}


# the drafts the search test completes and publishes: the tests around it hold in any order
SEARCHED = ("驾驶", "残疾", "身份证")


OPERATOR = Principal(subject="admin-command:import-items", username="import-items", tenant=DivisionCode(COUNTY),
                     roles=frozenset({str(Role.TENANT_ADMIN)}), machine=True)


@pytest.fixture(scope="module")
def imported(migrated, catalogue_db):
    """广安区 and its townships as units, then the whole list imported once, timed."""
    admin.import_units(migrated.database_owner_url, (DATA / "divisions-511602.csv").read_text(encoding="utf-8"))
    source = importing.read_csv(LIST.read_text(encoding="utf-8"))
    started = time.perf_counter()
    report = CatalogueHandlers(catalogue_db, events_out=EventsOut()).import_items(OPERATOR, source)
    log.warning("imported %d rows of %s in %.2f s", len(source.rows), LIST.name, time.perf_counter() - started)
    return report


@pytest.fixture
def as_(stub, tokens):
    return lambda username: Caller(stub, tokens[username], timeout=20)


def all_mine(caller, include_drafts=True) -> list[pb.Item]:
    out: list[pb.Item] = []
    while True:
        page = caller.ListMyItems(pb.ListMyItemsRequest(include_drafts=include_drafts, limit=200, offset=len(out)))
        out.extend(page.items)
        if not page.items or len(out) >= page.total:
            return out


def test_the_whole_real_list_becomes_drafts_except_the_four_broken_rows(imported, as_, catalogue_db):
    rows = file_rows()
    assert imported.rows == len(rows) == 1135
    assert imported.refused_lines == BROKEN_LINK_LINES
    assert {p.line for p in imported.refused if p.field == "basic_code"} == set(BROKEN_LINK_LINES)
    assert all("基本编码过长" in p.reason for p in imported.refused if p.field == "basic_code")
    assert imported.already_present == []
    assert sorted(imported.created) == sorted(good_rows()) and len(imported.created) == 1131

    mine = all_mine(as_("guangan.admin"))
    assert len(mine) == 1131
    # drafts, but for what the admin has completed and published since (the search test, if it ran first)
    published = [i for i in mine if i.status != pb.ITEM_STATUS_DRAFT]
    assert {i.status for i in published} <= {pb.ITEM_STATUS_PUBLISHED} and {i.tenant for i in mine} == {COUNTY}
    assert all(any(q in i.elements.name for q in SEARCHED) for i in published)
    by_code = {i.elements.implementation_code: i for i in mine}
    for r in good_rows().values():
        item = by_code[r["implementation_code"]]
        assert (item.elements.name, item.elements.basic_code, item.elements.department) == (
            r["name"], r["basic_code"], r["department"])
        assert item.elements.item_type == SICHUAN_TYPES[r["task_type"]]
    assert Counter(i.elements.item_type for i in mine) == Counter(
        SICHUAN_TYPES[r["task_type"]] for r in good_rows().values())
    # drafts publish nothing
    with catalogue_db.unit_of_work(tenant=COUNTY) as uow:
        assert uow.value(sql("SELECT count(*) FROM catalogue.outbox WHERE tenant = :t"), {"t": COUNTY}) == \
            len(published)
    # nor is any listed as published: the list lacks what publishing needs
    assert as_("guangan.admin").ListMyItems(pb.ListMyItemsRequest(include_drafts=False)).total == len(published)


def test_importing_again_creates_nothing_and_says_so(imported, migrated, as_, capsys):
    published = as_("guangan.admin").ListMyItems(pb.ListMyItemsRequest(include_drafts=False)).total  # since
    assert admin.main(["import-items", "--tenant", COUNTY, str(LIST)], settings=migrated) == 0
    out = capsys.readouterr().out
    assert "共 1135 行" in out
    assert "新建草稿：0 项" in out
    assert "已存在：1131 项" in out and f"草稿 {1131 - published} 项" in out
    assert "拒绝：4 行" in out
    for line in BROKEN_LINK_LINES:
        assert f"第 {line} 行 basic_code（基本编码）：基本编码过长" in out
    assert as_("guangan.admin").ListMyItems(pb.ListMyItemsRequest(include_drafts=True, limit=1)).total == 1131


def test_the_command_refuses_an_unreadable_file_or_an_unknown_unit(imported, migrated, tmp_path, capsys):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("department,name\n区民政局,临时救助\n".encode("gbk"))       # GBK is read: its header is short
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("department,name\n区民政局,临时救助\n".encode("utf-16"))
    headless = tmp_path / "headless.csv"
    headless.write_text("区民政局,未分类,临时救助\n", encoding="utf-8")
    for argv, words in [
        (["import-items", "--tenant", COUNTY, str(tmp_path / "absent.csv")], "无法读取"),
        (["import-items", "--tenant", COUNTY, str(gbk)], "表头缺少列"),
        (["import-items", "--tenant", COUNTY, str(utf16)], "无法识别的文字编码"),
        (["import-items", "--tenant", COUNTY, str(headless)], "表头缺少列"),
        (["import-items", "--tenant", "511699", str(LIST)], "单位不存在：511699"),
        (["import-items", "--tenant", "5116", str(LIST)[:-4] + "x.csv"], "无法读取"),
        (["import-items", "--tenant", "51160", str(LIST)], "区划代码格式不正确"),
    ]:
        assert admin.main(argv, settings=migrated) == admin.UNREADABLE, argv
        assert words in capsys.readouterr().err


def test_another_county_and_the_countys_own_townships_see_none_of_the_drafts(imported, as_, stub, catalogue_db):
    mine = all_mine(as_("guangan.admin"))
    assert all(i.tenant != COUNTY for i in all_mine(as_("county.admin")))     # 凉州区 (Gansu)
    e = err(as_("county.admin").GetItem, pb.GetItemRequest(item_id=mine[0].id))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    public = stub.SearchPublicItems(pb.SearchPublicItemsRequest(region=COUNTY, query="养老"), timeout=10)
    assert not {i.id for i in public.items} & {i.id for i in mine if i.status == pb.ITEM_STATUS_DRAFT}
    for tenant in ("620602", "511602001"):          # the database's own wall, on its own
        with catalogue_db.unit_of_work(tenant=tenant) as uow:
            assert uow.value(sql("SELECT count(*) FROM catalogue.item_versions WHERE tenant_code = :t"
                                 " AND status = 'draft'"), {"t": COUNTY}) == 0


def completed(item: pb.Item) -> pb.ItemElements:
    """What the county's admin adds before publishing (the list has none of it)."""
    d = json_format.MessageToDict(item.elements, preserving_proto_field_name=True)
    d.update({"exercise_level": "4", "case_kind": "2", "legal_basis": "（经核实的设定依据）",
              "acceptance_conditions": "（经核实的受理条件）", "targets": ["natural_person"],
              "statutory_limit_days": 20, "promised_limit_days": 10,
              "scenarios": [{"code": "S1", "name": "一般情形",
                             "materials": [{"code": "M1", "name": "申请表", "core": True}]}]})
    return json_format.ParseDict(d, pb.ItemElements())


def test_search_finds_real_names_once_the_admin_has_completed_and_published_them(imported, as_):
    county = as_("guangan.admin")
    mine = all_mine(county)
    names = Counter(i.elements.name for i in mine)
    assert names == Counter(r["name"] for r in good_rows().values())
    # the unit's search is its published list: drafts are not in it. The admin finds the draft to
    # complete in ListMyItems with drafts and a query; a bare list would show the first page of 1,131
    assert county.SearchItems(pb.SearchItemsRequest(query="驾驶")).total == 0
    for q in ("驾驶", "残疾人", "户口"):
        found = county.ListMyItems(pb.ListMyItemsRequest(include_drafts=True, query=q, limit=200))
        expected = {i.id for i in mine if q in " ".join([i.elements.name, *i.elements.keywords])}
        assert expected and {i.id for i in found.items} == expected and found.total == len(expected), q
        assert all(i.status == pb.ITEM_STATUS_DRAFT for i in found.items)
    assert county.ListMyItems(pb.ListMyItemsRequest(include_drafts=False, query="驾驶")).total == 0
    e = err(county.ListMyItems, pb.ListMyItemsRequest(include_drafts=True, query="！！"))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "query"

    draft = next(i for i in mine if "身份证" in i.elements.name)
    e = err(county.PublishItem, pb.PublishItemRequest(item_id=draft.id))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION and "草稿要素不完整" in e.details()
    assert field_of(e) == "elements.exercise_level"
    guide = county.RenderGuide(pb.RenderGuideRequest(item_id=draft.id, format=pb.GUIDE_FORMAT_HTML))
    assert draft.elements.name in guide.content.decode("utf-8")

    queries = list(SEARCHED)
    chosen = [i for i in mine if any(q in i.elements.name for q in queries)]
    assert 30 <= len(chosen) <= 40
    for item in chosen:
        county.UpdateDraft(pb.UpdateDraftRequest(item_id=item.id, elements=completed(item)))
        assert county.PublishItem(pb.PublishItemRequest(item_id=item.id)).status == pb.ITEM_STATUS_PUBLISHED

    def text_of(i: pb.Item) -> str:
        return " ".join([i.elements.name, i.elements.department, *i.elements.keywords])

    for q in queries:
        found = county.SearchItems(pb.SearchItemsRequest(query=q, limit=200))
        expected = {i.id for i in chosen if q in text_of(i)}
        assert {i.id for i in found.items} == expected and found.total == len(expected) >= 7, q
        assert all(q in text_of(i) for i in found.items), q
    # narrower: 驾驶员 is in three names, and in the portal's group (kept as a keyword) of a fourth
    found = county.SearchItems(pb.SearchItemsRequest(query="驾驶员", limit=200)).items
    assert {i.elements.name for i in found} == {i.elements.name for i in chosen if "驾驶员" in text_of(i)}
    assert sum("驾驶员" in i.elements.name for i in found) == 3 and len(found) == 4


def test_a_batch_planned_before_another_import_ran_is_planned_again_not_lost(imported, catalogue_db):
    """Two operators importing at once: the second one's plan is stale when it writes. The unique
    basic code stops the batch; it is planned again against what is now there."""
    with catalogue_db.unit_of_work(OPERATOR) as uow:
        repo = CatalogueRepository(uow)
        fmt, types = repo.code_format("51"), repo.code_mappings("51", "item_type")
    assert {k: types[k] for k in SICHUAN_TYPES} == SICHUAN_TYPES     # the province's table, as data
    source = importing.read_csv(LIST.read_text(encoding="utf-8"))
    stale = importing.plan_import(importing.check_rows(source, tenant=OPERATOR.tenant, fmt=fmt, item_types=types),
                                  importing.ExistingCodes())
    batch = stale.to_create[:5]
    report = importing.ImportReport(tenant=COUNTY, rows=len(batch))
    CatalogueHandlers(catalogue_db, events_out=EventsOut())._create_drafts(OPERATOR, fmt, batch, report)
    assert report.created == [] and report.refused == []
    assert [a.line for a in report.already_present] == [d.line for d in batch]
