"""The agency's rules, with no I/O."""

from __future__ import annotations

import datetime as dt

import pytest

from services.agency import domain
from services.agency.domain import (
    HandOverItem,
    Material,
    Progress,
    Resident,
    SpecialGroup,
    Status,
    advance,
    check_authorisation,
    check_handover_path,
    door_to_door_free,
)
from shared.clock import CHINA_TZ
from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from shared.idnumbers import resident_id_check_char, uscc_check_char
from shared.tenancy import DivisionCode

TODAY = dt.date(2026, 5, 20)
NOW = dt.datetime(2026, 5, 20, 10, 0, tzinfo=CHINA_TZ)


def rid(birth: str = "19450101", seq: str = "123", area: str = "620602") -> str:
    first = area + birth + seq
    return first + resident_id_check_char(first)


def field_of(exc_info) -> str | None:
    return exc_info.value.field


# -- resident ID (GB 11643): the shared rule (shared/tests/test_idnumbers.py), as the agency reports it --
@pytest.mark.parametrize("value, why", [
    ("", "请填写"), ("12345", "18 位"), ("11010519491231002Y", "格式不正确"), ("1101051949123100２X", "格式不正确"),
    ("110105194912310021", "校验码"), ("110105194913310020", "出生日期"), ("110105180001010010", "出生日期"),
    ("990105194912310029", "地区码"),
])
def test_malformed_resident_ids_are_refused_naming_the_field(value, why):
    with pytest.raises(InvalidArgument) as e:
        domain.check_resident(Resident("张桂兰", value), TODAY)
    assert field_of(e) == "resident.id_number"
    assert why in e.value.message


def test_an_id_born_in_the_future_is_refused():
    with pytest.raises(InvalidArgument) as e:
        domain.check_resident(Resident("张桂兰", rid("20300101")), TODAY)
    assert "出生日期" in e.value.message


def test_resident_needs_a_name_and_a_sane_phone():
    ok = domain.check_resident(Resident(" 张桂兰 ", rid(), "13800000000", "南苑社区3号楼"), TODAY)
    assert ok.name == "张桂兰"
    with pytest.raises(InvalidArgument) as e:
        domain.check_resident(Resident("", rid()), TODAY)
    assert field_of(e) == "resident.name"
    with pytest.raises(InvalidArgument) as e:
        domain.check_resident(Resident("张桂兰", rid(), "call me"), TODAY)
    assert field_of(e) == "resident.phone"


# -- door-to-door service: anyone may book it, free for special groups and key projects ------------------
@pytest.mark.parametrize("group", ["elderly", "disabled", "youfu", "dibao"])
def test_special_groups_get_door_to_door_service_free(group):
    """Seed 001: “对…身障人、老年人、优抚人员、低保人员等特殊人群提供便捷、优质、高效、无偿的上门代办服务”."""
    special = domain.parse_special_group(group)
    assert special != SpecialGroup.NONE
    assert door_to_door_free(special, True, False)
    assert "免费上门" in domain.door_to_door_terms(special, True, False)


def test_anyone_may_book_door_to_door_service_but_it_is_free_only_for_the_listed_groups_and_key_projects():
    """Seeds 001 and 003 list 上门服务 as a general service (“积极推行预约服务、延时服务、联动服务、远程服务、
    上门服务等服务措施”); only its being free is tied to the special groups and key projects (全程免费代办)."""
    assert not door_to_door_free(SpecialGroup.NONE, True, False)         # booked, not free
    assert door_to_door_free(SpecialGroup.NONE, True, True)              # a key project's
    assert not door_to_door_free(SpecialGroup.ELDERLY, False, False)     # nothing booked
    terms = domain.door_to_door_terms(SpecialGroup.NONE, True, False)
    assert "已预约" in terms and "事先告知" in terms
    text = domain.requested_text(item_name="个体工商户设立登记", handling_unit="凉州区政务服务中心", door_to_door=True,
                                 key_project=False, project_name="", agent_name="")
    assert "代办全程免费" in text and "上门为您服务" in text and "事先告知" in text
    domain.check_may_visit(Status.ASSIGNED, True, "agent")                 # an ordinary resident's visit
    with pytest.raises(FailedPrecondition):
        domain.check_may_visit(Status.ASSIGNED, False, "agent")


def test_special_group_codes():
    assert domain.parse_special_group("") == SpecialGroup.NONE
    assert domain.parse_special_group("DIBAO") == SpecialGroup.DIBAO
    with pytest.raises(InvalidArgument) as e:
        domain.parse_special_group("veteran")
    assert field_of(e) == "special_group"


# -- authorisation (委托书) ----------------------------------------------------------------------------
def test_a_complete_authorisation_is_valid():
    a = check_authorisation("2026-05-18", "代为申请高龄津贴并领取结果", "WT-2026-0001", "2026-12-31", TODAY)
    assert a.signed_on == dt.date(2026, 5, 18) and a.valid_until == dt.date(2026, 12, 31)
    a.check_still_valid(TODAY)
    with pytest.raises(FailedPrecondition) as e:
        a.check_still_valid(dt.date(2027, 1, 1))
    assert e.value.field == "authorisation.valid_until"


@pytest.mark.parametrize("args, field", [
    (("", "", "", ""), "authorisation"),
    (("", "代办", "WT-1", ""), "authorisation.signed_on"),
    (("2026/05/18", "代办", "WT-1", ""), "authorisation.signed_on"),
    (("2026-05-21", "代办", "WT-1", ""), "authorisation.signed_on"),     # signed tomorrow
    (("2026-05-18", " ", "WT-1", ""), "authorisation.scope"),
    (("2026-05-18", "代办", "", ""), "authorisation.document_ref"),
    (("2026-05-18", "代办", "WT-1", "2026-05-01"), "authorisation.valid_until"),
    (("2026-01-18", "代办", "WT-1", "2026-05-01"), "authorisation.valid_until"),   # already expired
])
def test_authorisation_problems_name_the_field(args, field):
    with pytest.raises(InvalidArgument) as e:
        check_authorisation(*args, TODAY)
    assert field_of(e) == field


def test_signed_today_is_fine():
    assert check_authorisation(TODAY.isoformat(), "代办", "WT-1", "", TODAY).signed_on == TODAY


# -- who takes in proxy requests -------------------------------------------------------------------
def test_every_level_takes_proxy_requests_and_the_county_key_projects():
    """Seed 001: “由乡镇（街道）民生（便民、市民）服务中心或村（社区）免费代办”; seed 003 §19: “进一步健全市县两级
    帮办代办服务队伍 … 对复杂企业开办实行全程帮办代办”."""
    village, township, county = DivisionCode("620602001001"), DivisionCode("620602001"), DivisionCode("620602")
    assert domain.check_proxy_point(village, False, "") == ""
    assert domain.check_proxy_point(township, False, "") == ""
    assert domain.check_proxy_point(county, False, "") == ""
    assert domain.check_proxy_point(county, True, " 凉州区光伏产业园 ") == "凉州区光伏产业园"
    with pytest.raises(PermissionDenied):
        domain.check_proxy_point(DivisionCode("62"), False, "")
    with pytest.raises(InvalidArgument) as e:
        domain.check_proxy_point(township, True, "园区")
    assert field_of(e) == "key_project"
    with pytest.raises(InvalidArgument) as e:
        domain.check_proxy_point(village, True, "园区")
    assert field_of(e) == "key_project"
    with pytest.raises(InvalidArgument) as e:
        domain.check_proxy_point(county, True, "")
    assert field_of(e) == "project_name"


def test_each_level_forwards_to_the_level_that_decides():
    """A request goes to the unit whose window decides the item: the proxy unit itself, or one above it."""
    village, township, county = DivisionCode("620602001001"), DivisionCode("620602001"), DivisionCode("620602")
    domain.check_forwarding(county, county, False)                 # the county team, to its own window
    domain.check_forwarding(township, county, True)                # a township, forwarding a listed item up
    domain.check_forwarding(township, township, False)             # a township's own item
    domain.check_forwarding(village, county, True)
    with pytest.raises(InvalidArgument) as e:                      # neither its own nor listed for 代办
        domain.check_forwarding(township, county, False)
    assert field_of(e) == "item_id"
    with pytest.raises(InvalidArgument):                           # never sideways or down
        domain.check_forwarding(township, DivisionCode("620602002"), True)


def test_enterprises_as_well_as_residents_may_ask_for_help():
    """Seed 004: “采用政府购买服务的方式为企业和群众提供免费的全过程代理帮办服务”."""
    code = "91620602MA7ABCDE1"
    firm = domain.check_resident(Resident("武威市凉州区利民食品有限公司", code + uscc_check_char(code),
                                          kind="legal_person"), TODAY)
    assert firm.kind == "legal_person"
    domain.check_group_of(firm, SpecialGroup.NONE)
    with pytest.raises(InvalidArgument) as e:
        domain.check_group_of(firm, SpecialGroup.ELDERLY)
    assert field_of(e) == "special_group"
    with pytest.raises(InvalidArgument) as e:                      # an enterprise's number is a USCC
        domain.check_resident(Resident("利民公司", rid(), kind="legal_person"), TODAY)
    assert field_of(e) == "resident.id_number"
    with pytest.raises(InvalidArgument) as e:
        domain.check_resident(Resident("利民公司", rid(), kind="company"), TODAY)
    assert field_of(e) == "resident.kind"
    assert domain.check_resident(Resident("张桂兰", rid()), TODAY).kind == "natural_person"


def test_scenario_and_materials_belong_to_the_item():
    scenarios = {"S1": {"M1": "申请表", "M2": "户口簿"}}
    assert domain.check_scenario("S1", scenarios) == "S1"
    for bad in ("", "S9"):
        with pytest.raises(InvalidArgument) as e:
            domain.check_scenario(bad, scenarios)
        assert field_of(e) == "scenario_code"
    ok = domain.check_materials([Material("M1"), Material("M2", note="原件已核验")], scenarios["S1"], "materials")
    assert [m.code for m in ok] == ["M1", "M2"]
    with pytest.raises(InvalidArgument) as e:
        domain.check_materials([Material("M1"), Material("M7")], scenarios["S1"], "materials")
    assert field_of(e) == "materials[1].code"
    with pytest.raises(InvalidArgument) as e:
        domain.check_materials([Material("M1"), Material("M1")], scenarios["S1"], "materials")
    assert field_of(e) == "materials[1].code"
    merged = domain.merge_materials([Material("M1", note="a"), Material("M2")], [Material("M1", note="b")])
    assert [(m.code, m.note) for m in merged] == [("M1", "b"), ("M2", "")]


# -- visits --------------------------------------------------------------------------------------
def test_visit_time_is_not_in_the_past():
    assert domain.check_visit_time("2026-05-21T09:30", NOW) == dt.datetime(2026, 5, 21, 9, 30, tzinfo=CHINA_TZ)
    for bad, why in (("2026-05-20T09:59", "早于"), ("next tuesday", "格式"), ("", "请填写"),
                     ("2028-01-01T09:00", "一年")):
        with pytest.raises(InvalidArgument) as e:
            domain.check_visit_time(bad, NOW)
        assert field_of(e) == "scheduled_for" and why in e.value.message


def test_visits_need_door_to_door_an_agent_and_an_open_request():
    domain.check_may_visit(Status.ASSIGNED, True, "nanyuan.agent")
    with pytest.raises(FailedPrecondition):
        domain.check_may_visit(Status.ASSIGNED, False, "nanyuan.agent")
    with pytest.raises(FailedPrecondition):
        domain.check_may_visit(Status.REQUESTED, True, "")
    with pytest.raises(FailedPrecondition):
        domain.check_may_visit(Status.DELIVERED, True, "nanyuan.agent")


# -- hand-over path ------------------------------------------------------------------------------
VILLAGE, TOWNSHIP, COUNTY = DivisionCode("620602001001"), DivisionCode("620602001"), DivisionCode("620602")


def test_originals_go_up_one_level_at_a_time_to_the_handling_unit():
    for handling, path in ((COUNTY, [VILLAGE, TOWNSHIP, COUNTY]),    # handled at the county: the township first
                           (TOWNSHIP, [VILLAGE, TOWNSHIP])):         # handled at the township
        for giver, to in zip(path, path[1:], strict=False):
            assert to == giver.parent
            assert check_handover_path(giver, to, handling) is None, (giver, to, handling)   # the hop is allowed
        with pytest.raises(FailedPrecondition) as e:                     # arrived: nothing more to hand over
            check_handover_path(handling, handling.parent, handling)
        assert "无需继续移交" in e.value.message


@pytest.mark.parametrize("giver, to, handling, why", [
    (VILLAGE, COUNTY, COUNTY, "逐级"),                                      # skipping the township
    (VILLAGE, DivisionCode("620602002"), COUNTY, "上一级"),                  # another township
    (VILLAGE, DivisionCode("620602001002"), COUNTY, "上一级"),               # a sibling village
    (VILLAGE, DivisionCode("620602001001"), COUNTY, "本单位"),
    (TOWNSHIP, DivisionCode("6206"), COUNTY, "上一级"),                      # beyond the handling unit
    (DivisionCode("620602002001"), DivisionCode("620602002"), DivisionCode("620602001"), "路径"),
])
def test_hand_over_to_a_non_ancestor_or_skipping_a_level_is_refused(giver, to, handling, why):
    with pytest.raises(InvalidArgument) as e:
        check_handover_path(giver, to, handling)
    assert field_of(e) == "to_tenant" and why in e.value.message


def test_the_handling_unit_has_nothing_more_to_hand_over():
    with pytest.raises(FailedPrecondition):
        check_handover_path(TOWNSHIP, COUNTY, TOWNSHIP)


def test_hand_over_items_are_listed():
    items = domain.check_handover_items([HandOverItem(" 户口簿原件 ", 1, "M2")])
    assert items == [HandOverItem("户口簿原件", 1, "M2")]
    with pytest.raises(InvalidArgument) as e:
        domain.check_handover_items([])
    assert field_of(e) == "items"
    with pytest.raises(InvalidArgument) as e:
        domain.check_handover_items([HandOverItem("申请表", 1), HandOverItem("", 1)])
    assert field_of(e) == "items[1].description"
    with pytest.raises(InvalidArgument) as e:
        domain.check_handover_items([HandOverItem("申请表", 0)])
    assert field_of(e) == "items[0].copies"


# -- progress: forward only, tolerant of order -----------------------------------------------------
T0 = dt.datetime(2026, 5, 20, 10, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_progress_moves_forward_in_order():
    p = Progress(Status.ASSIGNED, T0)
    p = advance(p, "submitted", at(1), application_id="A1", handling_tenant="620602")
    p = advance(p, "correction_requested", at(2))
    assert p.status == Status.CORRECTION
    p = advance(p, "materials_supplied", at(3))
    assert p.status == Status.SUBMITTED
    p = advance(p, "accepted", at(4), case_number="LZ-2026-000001")
    p = advance(p, "result_ready", at(5))
    p = advance(p, "picked_up", at(6))
    assert p == Progress(Status.DELIVERED, at(6), "A1", "620602", "LZ-2026-000001")


def test_out_of_order_steps_never_move_back():
    p = Progress(Status.ASSIGNED, T0)
    p = advance(p, "accepted", at(4), application_id="A1", case_number="LZ-1")   # accepted before submitted
    late = advance(p, "submitted", at(1), application_id="A1")
    assert late.status == Status.ACCEPTED and late.case_number == "LZ-1"
    assert advance(p, "correction_requested", at(2)).status == Status.ACCEPTED
    # within one phase the later step wins, whatever the arrival order
    c = advance(Progress(Status.SUBMITTED, at(1)), "correction_requested", at(5))
    assert advance(c, "materials_supplied", at(3)).status == Status.CORRECTION
    assert advance(c, "materials_supplied", at(6)).status == Status.SUBMITTED
    # terminal states stay
    r = advance(Progress(Status.SUBMITTED, at(1)), "rejected", at(2))
    assert advance(r, "accepted", at(3)).status == Status.REJECTED
    # a known case number is never replaced; an unknown step changes nothing
    assert advance(p, "accepted", at(9), case_number="OTHER").case_number == "LZ-1"
    assert advance(p, "something_new", at(9)) == p


def test_note_keys_make_each_step_one_note():
    assert domain.note_key("accepted", at(1)) == domain.note_key("accepted", at(2))
    assert domain.note_key("correction_requested", at(1)) != domain.note_key("correction_requested", at(2))


def test_what_the_resident_is_told_is_chinese_and_specific():
    t = domain.progress_text
    assert "LZ-2026-000001" in t("accepted", item_name="高龄津贴申领", case_number="LZ-2026-000001")
    c = t("correction_requested", item_name="高龄津贴申领", materials=["户口簿", "照片"])
    assert "户口簿、照片" in c and "补正" in c
    r = t("rejected", item_name="高龄津贴申领", detail="不符合申领年龄")
    assert "不符合申领年龄" in r and "行政复议" in r and "行政诉讼" in r
    assert "可领取" in t("result_ready", item_name="x") and "已送达" in t("picked_up", item_name="x")
    paused = t("suspended", item_name="x", detail="因专家评审暂停计时 5 个工作日")
    assert "专家评审" in paused and "不计入办理时限" in paused
    assert "准予许可" in t("decided", item_name="x", detail="准予许可，决定书编号 D1")
    assert "凉州区政务服务中心" in t("submitted", item_name="x", handling_unit="凉州区政务服务中心")
    ended = t("terminated", item_name="x", detail="容缺材料逾期未补", materials=["银行卡复印件"])
    assert "容缺材料逾期未补" in ended and "银行卡复印件" in ended
    waived = t("accepted", item_name="x", case_number="C-1", materials=["银行卡复印件"])
    assert "C-1" in waived and "容缺" in waived and "银行卡复印件" in waived
    # the lookup's key: the query code the village was given (never six characters of an ID)
    coded = t("accepted", item_name="x", case_number="C-1", query_code="ABCD2345")
    assert "查询码 ABCD2345" in coded and "后六位" not in coded and "后六位" not in waived
    assert "完整身份证号码" in waived


def test_only_ids_the_agency_issues_are_taken_as_proxy_request_ids():
    issued = "9c1e3bca-7e88-42e8-a56d-4d88a438e6b0"
    assert domain.issued_id(issued) == issued == domain.issued_id(issued.upper())
    for made_up in ("", "42", "'; DROP TABLE x", issued[:-1], issued + "0", None):
        assert domain.issued_id(made_up) is None, made_up
