"""Catalogue rules, no I/O."""

from __future__ import annotations

import pytest

from services.catalogue import domain
from services.catalogue.domain import CodeFormat, Elements, Item, ListingKind, Status, validate_elements
from services.catalogue.search import index_terms, query_terms
from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from shared.tenancy import DivisionCode

GANSU = CodeFormat(province="62", basic_max=14, implementation_max=55)


def homestead(**over) -> dict:
    d = {
        "name": "农村村民宅基地审批", "basic_code": "000112010000", "item_type": "01", "exercise_level": "5",
        "case_kind": "2", "department": "凉州区农业农村局", "legal_basis": "《中华人民共和国土地管理法》第六十二条",
        "acceptance_conditions": "本集体经济组织成员，符合一户一宅条件", "targets": ["natural_person"],
        "statutory_limit_days": 20, "promised_limit_days": 10, "keywords": ["宅基地", "建房"],
        "scenarios": [{"code": "S1", "name": "新建住房", "materials": [
            {"code": "M1", "name": "农村宅基地和建房（规划许可）申请表", "core": True},
            {"code": "M2", "name": "户口簿复印件", "waivable": True, "makeup_days": 5}]}],
    }
    d.update(over)
    return d


def el(**over) -> Elements:
    return Elements.from_dict(homestead(**over))


def test_valid_item_passes():
    assert validate_elements(el(), GANSU).name == "农村村民宅基地审批"


@pytest.mark.parametrize("over, field", [
    ({"name": ""}, "elements.name"),
    ({"basic_code": ""}, "elements.basic_code"),
    ({"basic_code": "0" * 15}, "elements.basic_code"),
    ({"basic_code": "00-11"}, "elements.basic_code"),
    ({"implementation_code": "X" * 56}, "elements.implementation_code"),
    ({"item_type": "99"}, "elements.item_type"),
    ({"item_type": ""}, "elements.item_type"),
    ({"exercise_level": "3"}, "elements.exercise_level"),
    ({"case_kind": "9"}, "elements.case_kind"),
    ({"department": ""}, "elements.department"),
    ({"legal_basis": ""}, "elements.legal_basis"),
    ({"acceptance_conditions": ""}, "elements.acceptance_conditions"),
    ({"targets": []}, "elements.targets"),
    ({"targets": ["alien"]}, "elements.targets[0]"),
    ({"statutory_limit_days": -1}, "elements.statutory_limit_days"),
    ({"promised_limit_days": -3}, "elements.promised_limit_days"),
    ({"promised_limit_days": 30}, "elements.promised_limit_days"),
    ({"statutory_limit_days": 400}, "elements.statutory_limit_days"),
    ({"case_kind": "1"}, "elements.promised_limit_days"),
    ({"scenarios": []}, "elements.scenarios"),
    ({"joint": True}, "elements.joint_departments"),
    ({"site_inspection": "sometimes"}, "elements.site_inspection"),
    ({"fees": [{"fee_code": "", "name": "x"}]}, "elements.fees[0].fee_code"),
])
def test_missing_or_bad_elements_are_refused_naming_the_field(over, field):
    with pytest.raises(InvalidArgument) as e:
        validate_elements(el(**over), GANSU)
    assert e.value.field == field
    assert e.value.message  # a sentence for people


def _with_material(**m) -> Elements:
    base = {"code": "M9", "name": "测试材料"}
    base.update(m)
    return el(scenarios=[{"code": "S1", "name": "新建", "materials": [base]}])


def test_waivable_makeup_longer_than_promised_limit_is_refused():
    with pytest.raises(InvalidArgument) as e:
        validate_elements(_with_material(waivable=True, makeup_days=11), GANSU)
    assert e.value.field == "elements.scenarios[0].materials[0].makeup_days"
    assert "不能超过承诺办结时限" in e.value.message


def test_core_material_can_never_be_waivable():
    with pytest.raises(InvalidArgument) as e:
        validate_elements(_with_material(core=True, waivable=True, makeup_days=2), GANSU)
    assert e.value.field.endswith("materials[0].waivable")


def test_waivable_needs_a_makeup_limit_and_others_must_not_have_one():
    with pytest.raises(InvalidArgument):
        validate_elements(_with_material(waivable=True, makeup_days=0), GANSU)
    with pytest.raises(InvalidArgument):
        validate_elements(_with_material(makeup_days=3), GANSU)


def test_duplicate_scenario_and_material_codes_are_refused():
    m = {"code": "M1", "name": "a"}
    with pytest.raises(InvalidArgument) as e:
        validate_elements(el(scenarios=[{"code": "S1", "name": "a", "materials": [m]},
                                        {"code": "S1", "name": "b", "materials": [m]}]), GANSU)
    assert e.value.field == "elements.scenarios[1].code"
    with pytest.raises(InvalidArgument):
        validate_elements(el(scenarios=[{"code": "S1", "name": "a", "materials": [m, m]}]), GANSU)


def test_code_formats_are_per_province():
    sichuan_code = "511A0138000000"  # 14 characters: too long for GB/T 39046's an..10
    with pytest.raises(InvalidArgument) as e:
        validate_elements(el(basic_code=sichuan_code), domain.GBT_39046)
    assert "GB/T 39046" in e.value.message
    assert validate_elements(el(basic_code=sichuan_code), CodeFormat(province="51", basic_max=14)).basic_code


def test_immediate_item_has_zero_promised_days():
    on_the_spot = [{"code": "S1", "name": "当场办理", "materials": [{"code": "M1", "name": "身份证", "core": True}]}]
    immediate = validate_elements(el(case_kind="1", promised_limit_days=0, scenarios=on_the_spot), GANSU)
    assert (immediate.case_kind, immediate.promised_limit_days) == ("1", 0)
    with pytest.raises(InvalidArgument) as e:       # decided on the spot: no days to promise
        validate_elements(el(case_kind="1", promised_limit_days=3, scenarios=on_the_spot), GANSU)
    assert (e.value.field, e.value.message) == ("elements.promised_limit_days", "即办件当场办结，承诺办结时限应为 0")


def test_lifecycle_draft_published_adjusted_cancelled():
    item = Item.create("id-1", DivisionCode("620602"), el())
    assert item.status == Status.DRAFT
    with pytest.raises(InvalidArgument) as e:
        item.update_draft(el(basic_code="000112019999"))
    assert (e.value.field, e.value.message) == ("elements.basic_code", "事项基本编码创建后不可修改")
    item.update_draft(el(promised_limit_days=8))
    item.publish(GANSU)
    assert item.status == Status.PUBLISHED
    with pytest.raises(FailedPrecondition) as e:
        item.publish(GANSU)
    assert e.value.message == "事项当前状态为“已发布”，不能发布"
    with pytest.raises(FailedPrecondition) as e:
        item.update_draft(el())
    assert e.value.message == "只有草稿可以直接修改；已发布的事项请走“调整”流程并说明理由"
    with pytest.raises(InvalidArgument) as e:
        item.adjust(el(promised_limit_days=5), "  ")
    assert (e.value.field, e.value.message) == ("reason", "调整事项须说明理由")
    previous, new = item.adjust(el(promised_limit_days=5), "压缩承诺时限")
    assert (previous.version, previous.status, new.version, new.status) == (1, Status.SUPERSEDED, 2, Status.PUBLISHED)
    assert item.current.elements.promised_limit_days == 5
    with pytest.raises(InvalidArgument) as e:
        item.adjust(el(basic_code="000112019999"), "改编码")
    assert e.value.message == "事项基本编码不可调整；如需变更请取消原事项后新建"
    with pytest.raises(InvalidArgument) as e:
        item.cancel(" ")
    assert (e.value.field, e.value.message) == ("reason", "取消事项须说明理由")
    version, withdrawn = item.cancel("事项取消")
    assert item.status == Status.CANCELLED and (version.change_reason, withdrawn) == ("事项取消", True)
    with pytest.raises(FailedPrecondition) as e:
        item.adjust(el(), "x")
    assert e.value.message == "只有已发布的事项可以调整（当前：已取消）"
    with pytest.raises(FailedPrecondition) as e:
        item.cancel("again")
    assert e.value.message == "事项当前状态为“已取消”，不能取消"


def test_only_a_complete_draft_is_published():
    item = Item.create("id-1", DivisionCode("620602"), el(legal_basis="", scenarios=[]))  # e.g. an imported draft
    with pytest.raises(FailedPrecondition) as e:
        item.publish(GANSU)
    assert e.value.field == "elements.legal_basis" and "草稿要素不完整" in e.value.message
    assert item.status == Status.DRAFT
    assert domain.validate_draft(item.current.elements, GANSU) is item.current.elements
    with pytest.raises(InvalidArgument) as e:
        domain.validate_draft(el(department=""), GANSU)
    assert e.value.field == "elements.department"
    item.update_draft(el())
    assert item.publish(GANSU).status == Status.PUBLISHED


def test_delegation_goes_only_down_the_tree_and_proxy_to_townships_and_villages():
    """Seed 001: “不宜下放的，由乡镇（街道）民生（便民、市民）服务中心或村（社区）免费代办”."""
    item = Item.create("id-1", DivisionCode("620602"), el())
    county = DivisionCode("620602")
    known = {"620602001", "620602001001", "620602002"}
    with pytest.raises(FailedPrecondition):
        domain.check_delegation(item, county, [DivisionCode("620602001")], ListingKind.DELEGATED, known)
    item.publish(GANSU)
    assert domain.check_delegation(item, county, [DivisionCode("620602001"), DivisionCode("620602001")],
                                   ListingKind.DELEGATED, known) == [DivisionCode("620602001")]
    assert domain.check_delegation(item, county, [DivisionCode("620602001")], ListingKind.PROXY, known)
    assert domain.check_delegation(item, county, [DivisionCode("620602001001")], ListingKind.PROXY, known)
    with pytest.raises(PermissionDenied):                    # the county itself is no target of its own item
        domain.check_delegation(item, county, [county], ListingKind.PROXY, known)
    # 代收 (seed 003 §4 “代为收件（受理）”): a township window takes it in on the county's behalf; not a village
    assert domain.check_delegation(item, county, [DivisionCode("620602001")], ListingKind.COLLECT, known)
    with pytest.raises(InvalidArgument) as e:
        domain.check_delegation(item, county, [DivisionCode("620602001001")], ListingKind.COLLECT, known)
    assert "代收" in e.value.message
    with pytest.raises(PermissionDenied):
        domain.check_delegation(item, county, [DivisionCode("513221100")], ListingKind.DELEGATED, known)
    with pytest.raises(InvalidArgument):
        domain.check_delegation(item, county, [DivisionCode("620602999")], ListingKind.DELEGATED, known)
    with pytest.raises(InvalidArgument):
        domain.check_delegation(item, county, [], ListingKind.DELEGATED, known)


def test_an_immediate_item_may_name_an_automatic_approval_rule():
    """Seed 003 §28: “推出一批‘秒批、秒办’事项 … 实现事项‘即来即办、即来即批’” — only a 即办件, only a known rule."""
    immediate = {"case_kind": "1", "promised_limit_days": 0, "scenarios": [
        {"code": "S1", "name": "首次申领", "materials": [{"code": "M1", "name": "居民身份证", "core": True}]}]}
    ok = el(**immediate, auto_approval="age_at_least:80")
    assert validate_elements(ok, GANSU).auto_approval == "age_at_least:80"
    with pytest.raises(InvalidArgument) as e:
        validate_elements(el(auto_approval="age_at_least:80"), GANSU)          # a 承诺件
    assert e.value.field == "elements.auto_approval" and "即办件" in e.value.message
    with pytest.raises(InvalidArgument) as e:
        validate_elements(el(**immediate, auto_approval="lucky:7"), GANSU)
    assert e.value.field == "elements.auto_approval"


def test_chinese_search_terms_find_homestead():
    terms = set(index_terms(["农村村民宅基地审批", "宅基地", "凉州区农业农村局", "000112010000"]))
    assert set(query_terms("宅基地")) <= terms
    assert set(query_terms("村民宅基")) <= terms
    assert set(query_terms("审批")) <= terms
    assert "宅基地" in terms  # jieba's word, not only bigrams
    assert "000112010000" in terms
    assert not set(query_terms("个体工商户")) <= terms
    assert query_terms("") == []
