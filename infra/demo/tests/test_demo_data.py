"""The demo data obeys the catalogue rules (DESIGN §6) and the tenant tree is the real 凉州区 one."""

from __future__ import annotations

import collections
import csv
import re

import pytest
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb

from infra.demo.users import (
    CATALOGUE_JSON,
    DIVISIONS_CSV,
    ROLE_LABELS,
    demo_users,
    describe,
    load_catalogue,
    load_tree_rows,
)
from shared.tenancy import DivisionCode, Role, TenantTree, UnitKind

ITEM_TYPES = {"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "20"}
LEVELS = {"4", "5", "6", "7"}
LISTINGS = {"county", "delegated", "proxy"}
FORMS = {"原件", "复印件", "电子"}
REQUIRED_NAMES = {
    "个体工商户设立登记", "食品经营许可", "建设工程规划许可证核发", "农村村民宅基地审批", "残疾人证办理",
    "高龄津贴申领", "城乡居民养老保险参保登记", "生育登记服务", "城乡居民最低生活保障审批", "临时救助",
    "特困人员救助供养", "建筑工程施工许可证核发", "林木林地权属争议裁决", "对见义勇为人员的奖励",
}
ELEMENT_FIELDS = {
    "name", "basic_code", "implementation_code", "item_type", "exercise_level", "case_kind", "department",
    "legal_basis", "acceptance_conditions", "targets", "statutory_limit_days", "promised_limit_days",
    "scenarios", "fees", "keywords", "handling_place", "handling_hours", "consult_phone", "complaint_phone",
    "steps", "online", "max_trips", "site_inspection", "joint", "joint_departments",
}
MATERIAL_FIELDS = {"code", "name", "core", "waivable", "makeup_days", "copies", "form", "source", "sample", "notes"}
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return load_catalogue()


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return load_tree_rows()


def _listing(item: dict) -> list[str]:
    value = item["listing"]
    return value if isinstance(value, list) else [value]


# ───────────── catalogue ─────────────

def test_enough_items_and_required_names(items):
    assert len(items) >= 34
    names = [it["name"] for it in items]
    assert len(names) == len(set(names)), "duplicate item names"
    assert REQUIRED_NAMES <= set(names), REQUIRED_NAMES - set(names)


def test_exact_element_field_names(items):
    for it in items:
        assert set(it) == ELEMENT_FIELDS | {"listing"}, it["name"]
        for sc in it["scenarios"]:
            assert set(sc) == {"code", "name", "description", "materials"}
            for m in sc["materials"]:
                assert set(m) == MATERIAL_FIELDS, (it["name"], m["name"])
        for fee in it["fees"]:
            assert set(fee) == {"fee_code", "name", "basis", "standard"}


def test_every_type_level_and_case_kind_occurs(items):
    assert {it["item_type"] for it in items} == ITEM_TYPES
    assert {it["exercise_level"] for it in items} == LEVELS
    assert {it["case_kind"] for it in items} == {"1", "2"}
    by_type = collections.Counter(it["item_type"] for it in items)
    assert by_type["05"] >= 3 and by_type["07"] >= 2 and by_type["20"] >= 3


def test_time_limits(items):
    for it in items:
        assert 0 < it["statutory_limit_days"], it["name"]
        assert 0 <= it["promised_limit_days"] <= it["statutory_limit_days"], it["name"]
        if it["case_kind"] == "1":
            assert it["promised_limit_days"] == 0, f"即办件 {it['name']} promises 0 days"
        else:
            assert it["promised_limit_days"] > 0, it["name"]


def test_scenarios_and_materials(items):
    for it in items:
        assert 1 <= len(it["scenarios"]) <= 3, it["name"]
        assert len({s["code"] for s in it["scenarios"]}) == len(it["scenarios"])
        for sc in it["scenarios"]:
            assert 2 <= len(sc["materials"]) <= 6, (it["name"], sc["name"])
            assert any(m["core"] for m in sc["materials"]), (it["name"], sc["name"])
            assert len({m["code"] for m in sc["materials"]}) == len(sc["materials"])
            for m in sc["materials"]:
                where = (it["name"], sc["name"], m["name"])
                assert not (m["core"] and m["waivable"]), f"core material is waivable: {where}"
                if m["waivable"]:
                    assert 0 < m["makeup_days"] <= it["promised_limit_days"], where
                else:
                    assert m["makeup_days"] == 0, where
                assert m["copies"] >= 1 and m["form"] in FORMS and m["source"], where


def test_codes_unique_and_consistent(items):
    basics = [it["basic_code"] for it in items]
    impls = [it["implementation_code"] for it in items]
    assert len(set(basics)) == len(basics) and len(set(impls)) == len(impls)
    credit_code_of: dict[str, str] = {}
    for it in items:
        assert re.fullmatch(r"[0-9A-Z]{12}", it["basic_code"]), it["basic_code"]
        impl = it["implementation_code"]
        assert len(impl) <= 55 and re.fullmatch(r"[0-9A-Z]+", impl)
        uscc, level, basic = impl[:18], impl[18], impl[19:]
        assert uscc[2:8] == "620602", impl
        assert level == it["exercise_level"] and basic == it["basic_code"], impl
        # one unified social credit code per department, one department per code
        assert credit_code_of.setdefault(it["department"], uscc) == uscc, it["department"]
    assert len(set(credit_code_of.values())) == len(credit_code_of)


def test_listing_values(items):
    for it in items:
        listing = _listing(it)
        assert listing and set(listing) <= LISTINGS, it["name"]
        # 下放 means the township centres exercise it; a village-level item is taken in by village points
        assert ("delegated" in listing) == (it["exercise_level"] == "5"), it["name"]
        if it["exercise_level"] == "6":
            assert "proxy" in listing, it["name"]
    all_listings = {v for it in items for v in _listing(it)}
    assert all_listings == LISTINGS


def test_people_facing_text(items):
    for it in items:
        for key in ("name", "department", "legal_basis", "acceptance_conditions", "handling_place",
                    "handling_hours"):
            assert CJK.search(it[key]), (it["name"], key)
        assert "《" in it["legal_basis"], it["name"]
        assert it["department"].startswith(("凉州区", "武威市")), it["department"]
        assert set(it["targets"]) <= {"natural_person", "legal_person"} and it["targets"]
        assert 2 <= len(it["keywords"]) <= 5 and all(CJK.search(k) for k in it["keywords"])
        assert re.fullmatch(r"0935-\d{7}", it["consult_phone"]), it["consult_phone"]
        assert it["complaint_phone"] == "12345"
        assert it["steps"] and it["max_trips"] in (0, 1) and isinstance(it["online"], bool)
        assert it["joint"] == bool(it["joint_departments"]), it["name"]
        for fee in it["fees"]:
            assert fee["fee_code"] and "《" in fee["basis"] and CJK.search(fee["standard"])
    assert 1 <= sum(it["joint"] for it in items) <= 3
    assert 0 < sum(bool(it["fees"]) for it in items) < len(items) // 2, "most items are free"


def test_items_parse_as_proto_item_elements(items):
    for it in items:
        spec = {k: v for k, v in it.items() if k != "listing"}
        msg = json_format.ParseDict(spec, pb.ItemElements())
        assert msg.name == it["name"]


def test_data_is_inside_the_project():
    assert "/work/shared" not in str(CATALOGUE_JSON) and "/work/shared" not in str(DIVISIONS_CSV)


# ───────────── tenant tree ─────────────

def test_division_csv(rows):
    with DIVISIONS_CSV.open(encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == ["code", "name"]
    codes = [r["code"] for r in rows]
    assert codes == sorted(codes) and len(codes) == len(set(codes))
    assert all(c.startswith("620602") for c in codes)
    assert {"code": "620602", "name": "凉州区"} in rows
    by_kind = collections.Counter(DivisionCode(c).kind for c in codes)
    assert by_kind[UnitKind.COUNTY] == 1
    assert by_kind[UnitKind.TOWNSHIP] >= 15
    assert by_kind[UnitKind.VILLAGE] >= 400
    tree = TenantTree.from_csv(DIVISIONS_CSV.read_text(encoding="utf-8"))
    for unit in tree:  # every unit's parent is in the tree
        if unit.kind is not UnitKind.COUNTY:
            assert unit.parent_code.value in tree, unit.code


def test_extractor_reproduces_the_csv(tmp_path):
    from infra.demo.extract_divisions import extract, to_csv

    data = tmp_path / "divisions"
    data.mkdir()
    (data / "areas.csv").write_text("code,name,cityCode,provinceCode\n620602,\"凉州区\",6206,62\n"
                                    "620621,\"民勤县\",6206,62\n", encoding="utf-8")
    (data / "streets.csv").write_text("code,name,areaCode,provinceCode,cityCode\n"
                                      "620602100,\"黄羊镇\",620602,62,6206\n"
                                      "620621100,\"三雷镇\",620621,62,6206\n", encoding="utf-8")
    (data / "villages-620602.csv").write_text(
        "code,name,streetCode,provinceCode,cityCode,areaCode\n"
        "620602100201,\"上庄村民委员会\",620602100,62,6206,620602\n"
        "620602100001,\"岔路口社区居委会\",620602100,62,6206,620602\n", encoding="utf-8")
    rows = extract("620602", data)
    assert rows == [("620602", "凉州区"), ("620602100", "黄羊镇"), ("620602100001", "岔路口社区居委会"),
                    ("620602100201", "上庄村民委员会")]
    assert to_csv(rows).splitlines()[0] == "code,name"
    with pytest.raises(LookupError):
        extract("620699", data)


# ───────────── users ─────────────

def test_demo_users(rows):
    users = demo_users(rows)
    names = {u["username"] for u in users}
    assert len(names) == len(users)
    first_township = next(r for r in rows if len(r["code"]) == 9)
    county = [u for u in users if u["tenant"] == "620602"]
    township = [u for u in users if u["tenant"] == first_township["code"]]
    village = [u for u in users if len(u["tenant"]) == 12]
    province = [u for u in users if u["tenant"] == "62"]
    assert len(county) + len(township) + len(village) + len(province) == len(users)
    assert [(u["username"], u["roles"], u["tenant_name"]) for u in province] == [
        ("province.admin", ["tenant_admin"], "甘肃省")]                  # issue 23: 县区上线, the province's record

    county_roles = collections.Counter(r for u in county for r in u["roles"])
    for role in ("window_clerk", "reviewer", "decider", "cashier", "agent", "complaint_handler", "supervisor",
                 "tenant_admin"):
        assert county_roles[role] >= 1, role
    assert county_roles["reviewer"] == 2 and county_roles["decider"] == 2  # separation of duties demos
    # the township's head confirms a window refusal (seed 003 §20 无权否决) and its centre takes proxy requests
    # too (seed 001 由乡镇或村免费代办), issue 21
    assert {r for u in township for r in u["roles"]} == {"window_clerk", "reviewer", "decider", "cashier",
                                                         "supervisor", "tenant_admin", "head", "agent"}
    assert {r for u in village for r in u["roles"]} == {"agent", "tenant_admin"}
    assert len({u["tenant"] for u in village}) == 1
    assert village[0]["tenant"].startswith(first_township["code"])

    valid_roles = {str(r) for r in Role}
    tree_names = {r["code"]: r["name"] for r in rows}
    for u in users:
        assert re.fullmatch(r"[a-z0-9.]+", u["username"]) and u["password"]
        assert CJK.search(u["name"]) and "@" in u["email"]
        assert u["tenant_name"] == {**tree_names, "62": "甘肃省"}[u["tenant"]]
        assert set(u["roles"]) <= valid_roles
        # nobody reviews and decides: a reviewer is never a decider
        assert not {"reviewer", "decider"} <= set(u["roles"])
        assert u["description"] == describe(u) and ROLE_LABELS[u["roles"][0]] in u["description"]
    assert demo_users(rows) == users  # pure and deterministic


def test_demo_users_accepts_tuples_and_other_township(rows):
    pairs = [(r["code"], r["name"]) for r in rows]
    users = demo_users(pairs, township="620602100")
    assert {u["tenant_name"] for u in users if len(u["tenant"]) == 9} == {"黄羊镇"}
    with pytest.raises(ValueError):
        demo_users(pairs, township="620603001")
