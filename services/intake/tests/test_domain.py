"""The intake rules with no I/O: ID checksums, 一次性告知, 容缺 limits, deemed acceptance, case numbers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import itertools
import re

import pytest
from pypdf import PdfReader

from services.intake.applicants import Applicant, prefill, validate_applicant
from services.intake.casenumbers import format_case_number, parse_case_number
from services.intake.domain import Application, Promise, Status, SubmittedMaterial, explain_deadline
from services.intake.items import ItemSnapshot, MaterialSpec, ScenarioSpec
from services.intake.notices import NoticeTemplate, build_notice, render_notice_pdf
from services.intake.querycodes import ALPHABET, check_query_code, new_query_code, query_code_digest
from services.intake.serialization import from_doc, to_doc
from services.intake.translate import EventsOut
from shared import idnumbers
from shared.calendar import WorkingCalendar, seed_year_from_package
from shared.clock import CHINA_TZ, Clock
from shared.errors import FailedPrecondition, InvalidArgument

CAL = WorkingCalendar([seed_year_from_package(2025), seed_year_from_package(2026)])
TODAY = dt.date(2026, 3, 2)       # a Monday
_seq = itertools.count(1)


def rid(birth: str = "19800101", seq: int | None = None, region: str = "620602") -> str:
    body = f"{region}{birth}{(seq if seq is not None else next(_seq)) % 1000:03d}"
    return body + idnumbers.resident_id_check_char(body)


def uscc(body: str = "91620602MA7ABCDE1") -> str:
    return body + idnumbers.uscc_check_char(body)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), CHINA_TZ)


ITEM = ItemSnapshot(
    id="00000000-0000-0000-0000-000000000001", version=1, tenant="620602", name="农村村民宅基地审批", case_kind="2",
    promised_limit_days=10, statutory_limit_days=20, targets=("natural_person",),
    scenarios=(ScenarioSpec("S1", "新建住房", (
        MaterialSpec("M1", "申请表", core=True),
        MaterialSpec("M2", "户口簿复印件", waivable=True, makeup_days=3),
        MaterialSpec("M3", "四邻签字意见", waivable=True, makeup_days=10),
        MaterialSpec("M4", "现场照片"))),))


def receive(materials=("M1", "M2", "M3", "M4"), day: dt.date = TODAY, item: ItemSnapshot = ITEM,
            applicant: Applicant | None = None) -> Application:
    a = applicant or Applicant(name="张三", id_number=rid())
    return Application.receive(
        app_id="a1", tenant="620602001", origin_tenant="620602001", idempotency_key="k1", item=item,
        scenario_code="S1", channel=1, applicant=validate_applicant(a, item.targets, day),
        materials=[SubmittedMaterial(c) for c in materials], via="window", by="clerk", now=at(day), calendar=CAL)


def numbers(start: int = 1):
    seq = itertools.count(start)
    return lambda on: format_case_number("620602001", on, next(seq))


def issued(start: int = 1) -> dict:
    """What an acceptance is given: the tenant's next case numbers and a fresh query code."""
    return {"next_case_number": numbers(start), "query_code": new_query_code()}


def field_of(exc_info) -> str | None:
    return exc_info.value.field


# -- identity numbers ------------------------------------------------------------------------------
def test_resident_id_checksum_gb11643():
    # the standard's worked example: 11010519491231002X
    assert idnumbers.resident_id_check_char("11010519491231002") == "X"
    assert idnumbers.check_resident_id("11010519491231002x", "f", TODAY) == "11010519491231002X"
    good = rid()
    assert idnumbers.check_resident_id(good, "f", TODAY) == good


@pytest.mark.parametrize("number, why", [
    ("11010519491231002", "18 位"),
    ("1101051949123100X2", "格式"),
    ("110105194912310021", "校验码"),
    ("990105194912310025", "地区码"),
    ("110105194902300023", "出生日期不存在"),
    ("110105180001010020", "不合理"),
])
def test_resident_id_rejects_malformed_numbers(number, why):
    if why in ("出生日期不存在", "不合理", "地区码"):      # make the checksum right so only the named defect is left
        number = number[:17] + idnumbers.resident_id_check_char(number[:17])
    with pytest.raises(InvalidArgument) as e:
        idnumbers.check_resident_id(number, "applicant.id_number", TODAY)
    assert e.value.field == "applicant.id_number" and why in e.value.message


def test_resident_id_birth_date_after_today_is_refused():
    future = rid(birth="20300101")
    with pytest.raises(InvalidArgument, match="不合理"):
        idnumbers.check_resident_id(future, "f", TODAY)


def test_uscc_checksum_gb32100():
    # a published code (国家市场监督管理总局 sample) and a generated one
    assert idnumbers.check_uscc("91350100M000100Y43", "f") == "91350100M000100Y43"
    code = uscc()
    assert idnumbers.check_uscc(code.lower(), "f") == code
    with pytest.raises(InvalidArgument, match="校验码"):
        idnumbers.check_uscc(code[:17] + ("0" if code[17] != "0" else "1"), "f")
    with pytest.raises(InvalidArgument, match="不允许的字符"):
        idnumbers.check_uscc("91350100M000100I43", "f")
    with pytest.raises(InvalidArgument, match="18 位"):
        idnumbers.check_uscc("91350100M000100", "f")


def test_applicant_kind_and_id_type_are_inferred_and_must_agree():
    a = validate_applicant(Applicant(name="某某公司", id_number=uscc()), ("legal_person",), TODAY)
    assert (a.kind, a.id_type) == ("legal_person", "uscc")
    with pytest.raises(InvalidArgument) as e:
        validate_applicant(Applicant(name="李四", id_number=rid()), ("legal_person",), TODAY)
    assert e.value.field == "applicant.kind"
    with pytest.raises(InvalidArgument) as e:
        validate_applicant(Applicant(kind="natural_person", id_type="uscc", name="x", id_number=uscc()), (), TODAY)
    assert e.value.field == "applicant.id_type"
    with pytest.raises(InvalidArgument) as e:
        validate_applicant(Applicant(id_number=rid()), (), TODAY)
    assert e.value.field == "applicant.name"


def test_prefill_fills_only_empty_fields():
    profile = {"kind": "natural_person", "name": "张三", "id_type": "resident_id", "id_number": "X", "phone": "139",
               "address": "凉州区东大街 1 号", "organisation": ""}
    filled = prefill(Applicant(id_number="X", phone="138"), profile)
    assert (filled.name, filled.phone, filled.address) == ("张三", "138", "凉州区东大街 1 号")


# -- 一次性告知: the second correction rule ---------------------------------------------------------
def test_first_correction_lists_every_missing_material_at_once():
    app = receive(materials=("M1", "M4"))
    rnd = app.request_correction([("M4", "照片模糊")], by="c", now=at(TODAY), today=TODAY)
    assert [(i.material_code, i.problem) for i in rnd.items] == [("M4", "照片模糊"), ("M2", "缺少该材料"),
                                                                 ("M3", "缺少该材料")]
    assert app.status == Status.CORRECTION and app.decision_due is None


def test_second_correction_may_name_only_what_changed_since_the_first():
    app = receive()
    app.request_correction([("M2", "复印件不清晰"), ("M4", "照片不全")], by="c", now=at(TODAY), today=TODAY)
    day = TODAY + dt.timedelta(days=2)
    app.supply([SubmittedMaterial("M2")], via="window", by="c", now=at(day), today=day, calendar=CAL)
    assert app.materials["M2"].revision == 2 and app.status == Status.RECEIVED
    # M1 was there the first time and has not changed: naming it now is the defect the rule prevents
    with pytest.raises(InvalidArgument) as e:
        app.request_correction([("M2", "仍不清晰"), ("M1", "签名缺失")], by="c", now=at(day), today=day)
    assert e.value.field == "items[1].material_code" and "一次性告知" in e.value.message
    assert app.status == Status.RECEIVED and len(app.corrections) == 1
    # M4 was named the first time and not supplied again: it cannot be named again either
    with pytest.raises(InvalidArgument) as e:
        app.request_correction([("M4", "照片不全")], by="c", now=at(day), today=day)
    assert e.value.field == "items[0].material_code"
    # M2 was supplied again since: it may be named; M4, still open, is carried over on the notice
    rnd = app.request_correction([("M2", "仍不清晰")], by="c", now=at(day), today=day)
    assert [(i.material_code, i.carried) for i in rnd.items] == [("M2", False), ("M4", True)]


def test_correction_time_does_not_count_towards_the_decision_deadline():
    app = receive()
    assert app.decision_due == dt.date(2026, 3, 9)             # Mon + 5 working days
    app.request_correction([("M2", "复印件不清晰")], by="c", now=at(TODAY), today=TODAY)
    supplied = dt.date(2026, 3, 4)
    app.supply([SubmittedMaterial("M2")], via="window", by="c", now=at(supplied), today=supplied, calendar=CAL)
    # 3-02 .. 3-04 paused (inclusive): counting restarts on 3-05 → 5, 6, 9, 10, 11
    assert app.decision_due == dt.date(2026, 3, 11)


# -- 容缺受理 ----------------------------------------------------------------------------------------
def test_waived_material_within_its_limit_is_accepted_with_a_promise():
    app = receive(materials=("M1", "M3", "M4"))
    app.accept(waived=[("M2", "2026-03-05")], by="c", now=at(TODAY), today=TODAY, calendar=CAL,
               **issued())
    assert app.status == Status.ACCEPTED and [p.promised_by for p in app.open_promises()] == [dt.date(2026, 3, 5)]
    assert app.promise_due == dt.date(2026, 3, 5)


@pytest.mark.parametrize("waived, field, why", [
    ([("M2", "2026-03-06")], "waived[0].promised_by", "3 个工作日"),           # M2: 3 working days → 3-05
    ([("M2", "2026-03-02")], "waived[0].promised_by", "晚于受理日期"),
    ([("M2", "3月5日")], "waived[0].promised_by", "日期格式"),
    ([("M1", "2026-03-03")], "waived[0].material_code", "核心材料"),
    ([("M4", "2026-03-03")], "waived[0].material_code", "核心材料或未列入容缺清单"),
    ([("M9", "2026-03-03")], "waived[0].material_code", "不在办理情形"),
    ([("M2", "2026-03-03"), ("M2", "2026-03-04")], "waived[1].material_code", "重复"),
])
def test_waived_materials_are_checked(waived, field, why):
    app = receive(materials=("M1", "M3", "M4"))
    with pytest.raises(InvalidArgument) as e:
        app.accept(waived=waived, by="c", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
    assert e.value.field == field and why in e.value.message
    assert app.status == Status.RECEIVED and not app.case_number


def test_waiving_is_capped_by_the_items_promised_limit_too():
    item = ItemSnapshot(**{**ITEM.__dict__, "promised_limit_days": 2})
    app = receive(materials=("M1", "M2", "M4"), item=item)
    with pytest.raises(InvalidArgument) as e:     # M3 allows 10 working days, the item only 2 → 3-04
        app.accept(waived=[("M3", "2026-03-05")], by="c", now=at(TODAY), today=TODAY, calendar=CAL,
                   **issued())
    assert e.value.field == "waived[0].promised_by" and "2026-03-04" in e.value.message


def test_no_waiving_for_a_dishonest_applicant():
    app = receive(materials=("M1", "M3", "M4"), applicant=Applicant(name="失信人", id_number=rid(), dishonest=True))
    with pytest.raises(FailedPrecondition) as e:
        app.accept(waived=[("M2", "2026-03-04")], by="c", now=at(TODAY), today=TODAY, calendar=CAL,
                   **issued())
    assert e.value.field == "applicant.dishonest" and "失信" in e.value.message


def test_missing_material_without_waiver_cannot_be_accepted_and_no_number_is_drawn():
    app = receive(materials=("M1", "M4"))
    drawn = []
    with pytest.raises(FailedPrecondition, match="不齐全"):
        app.accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL,
                   next_case_number=lambda on: drawn.append(on) or "X", query_code="X")
    assert drawn == []


def test_broken_promise_terminates_the_case_and_a_kept_one_closes():
    app = receive(materials=("M1", "M4"))
    app.accept(waived=[("M2", "2026-03-04"), ("M3", "2026-03-06")], by="c", now=at(TODAY), today=TODAY, calendar=CAL,
               **issued())
    codes, closes = app.supply([SubmittedMaterial("M2")], via="window", by="c", now=at(TODAY), today=TODAY,
                               calendar=CAL)
    assert closes and [p.material_code for p in app.open_promises()] == ["M3"]
    assert app.expire_promises(today=dt.date(2026, 3, 6), now=at(dt.date(2026, 3, 6))) == []   # the day itself
    broken = app.expire_promises(today=dt.date(2026, 3, 7), now=at(dt.date(2026, 3, 7)))
    assert [b.material_code for b in broken] == ["M3"] and app.status == Status.TERMINATED
    assert "四邻签字意见" in app.termination["reason"]


# -- deemed acceptance across 国庆 2026 ----------------------------------------------------------
def test_deemed_acceptance_due_date_across_national_day_2026():
    # receipt Wed 2026-09-30; 10-01..10-07 国庆节 (off); Thu 10-08 = 1, Fri 10-09 = 2,
    # Sat 10-10 调休上班 = 3, Sun 10-11 off, Mon 10-12 = 4, Tue 10-13 = 5 → due 2026-10-13
    day = dt.date(2026, 9, 30)
    app = receive(day=day)
    assert app.decision_due == dt.date(2026, 10, 13)
    assert not app.deem_accepted(today=dt.date(2026, 10, 13), now=at(dt.date(2026, 10, 13)),
                                 **issued())
    assert app.deem_accepted(today=dt.date(2026, 10, 14), now=at(dt.date(2026, 10, 14)), **issued())
    assert app.status == Status.ACCEPTED and app.deemed and app.accepted_on == day
    assert app.case_number == "620602001000" + "20260930" + "000001"
    assert app.history[-1].what == "deemed_accepted" and app.history[-1].on == "2026-09-30"


def test_a_window_refusal_takes_effect_only_when_the_chief_representative_or_head_confirms_it():
    """Seed 003 §20: “制定‘吐槽找茬’和无权否决机制实施办法 … 只说‘YES’不说‘NO’提示牌” — the window alone
    cannot say no: until confirmed the application stays with the window, and the notice names who confirmed."""
    app = receive()
    app.reject("申请人不属于本行政区域户籍", "《甘肃省农村宅基地管理办法》", by="clerk", now=at(TODAY), today=TODAY)
    assert app.status == Status.RECEIVED and app.rejection_pending and app.history[-1].what == "rejection_proposed"
    assert "rejected" not in [h.what for h in app.history]
    with pytest.raises(FailedPrecondition) as e:            # one proposal at a time
        app.reject("x", "", by="clerk", now=at(TODAY), today=TODAY)
    assert field_of(e) == "application_id"
    with pytest.raises(FailedPrecondition) as e:            # not the one who proposed it
        app.confirm_rejection(confirm=True, by="clerk", by_name="王窗口", by_role="窗口首席代表", note="",
                              now=at(TODAY), today=TODAY)
    # the head overrules: the application stays with the window and may be accepted
    assert app.confirm_rejection(confirm=False, by="head", by_name="冯局长", by_role="机关负责人",
                                 note="户籍不是受理条件", now=at(TODAY), today=TODAY) is False
    assert app.status == Status.RECEIVED and not app.rejection and "冯局长" in app.history[-1].detail
    # proposed again and confirmed by the chief representative: now it is refused, naming who confirmed
    app.reject("申请人已有宅基地（一户一宅）", "", by="clerk", now=at(TODAY), today=TODAY)
    assert app.confirm_rejection(confirm=True, by="chief", by_name="冯首代", by_role="窗口首席代表", note="",
                                 now=at(TODAY, 11), today=TODAY) is True
    assert app.status == Status.REJECTED and app.rejection["confirmed_by"] == "chief"
    assert app.history[-1].what == "rejected" and "经窗口首席代表冯首代确认" in app.history[-1].detail
    template = NoticeTemplate("rejection", 1, "不予受理通知书", "$applicant_name：$reason。")
    notice = build_notice(app, template, issued_at=at(TODAY, 11), public_base_url="http://x")
    assert ["不予受理确认人", "窗口首席代表冯首代"] in [list(r) for r in notice["rows"]]
    assert to_doc(app)["rejection"]["confirmed_by_name"] == "冯首代"     # kept with the row
    with pytest.raises(FailedPrecondition):
        app.confirm_rejection(confirm=True, by="chief", by_name="", by_role="", note="", now=at(TODAY), today=TODAY)
    # a proposal the window replaces by an acceptance lapses
    other = receive()
    other.reject("x", "", by="clerk", now=at(TODAY), today=TODAY)
    other.accept(waived=[], by="clerk", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
    assert other.status == Status.ACCEPTED and not other.rejection_pending


def test_the_window_records_government_invested_and_key_construction_projects_only_where_the_item_asks():
    """Seed 001 §7: “对所有政府投资项目和重点建设项目，有上下限标准的，均按照‘收费从低’的原则，一律按下限征收”."""
    app = receive()
    with pytest.raises(InvalidArgument) as e:                # the homestead item asks no such question
        app.accept(waived=[], by="clerk", now=at(TODAY), today=TODAY, calendar=CAL, government_invested=True,
                   **issued())
    assert field_of(e) == "government_invested" and app.status == Status.RECEIVED
    project = ItemSnapshot(**{**vars(ITEM), "name": "建设工程规划许可证核发", "project_facts": True})
    app = receive(item=project)
    app.accept(waived=[], by="clerk", now=at(TODAY), today=TODAY, calendar=CAL, key_construction=True, **issued())
    assert app.key_construction and not app.government_invested and "重点建设项目" in app.history[-1].detail
    assert to_doc(app)["key_construction"] is True
    event = EventsOut().application_accepted(app)          # the fee rule's 重点建设项目, not the agency's key project
    assert event.key_project and not event.government_invested


def test_a_collected_application_is_the_deciding_units_and_names_the_window_that_took_it_in():
    """代收 — seed 000 §10: “依法应当先经下级行政机关审查后报上级行政机关决定的行政审批，由设在政务服务中心的部门窗口
    或其他事务代办窗口转相关部门，在法定时限内报送上级政务服务中心窗口，不得要求申请人重复提供申请材料”."""
    a = Application.receive(
        app_id="a9", tenant="620602", origin_tenant="620602001", idempotency_key="k9", item=ITEM, scenario_code="S1",
        channel=1, applicant=validate_applicant(Applicant(name="张三", id_number=rid()), ITEM.targets, TODAY),
        materials=[SubmittedMaterial(c) for c in ("M1", "M2", "M3", "M4")], via="window", by="dongdajie.clerk",
        now=at(TODAY), calendar=CAL, collect_tenant="620602001")
    assert (a.tenant, a.collect_tenant) == ("620602", "620602001")
    assert "由 620602001 窗口代收" in a.history[0].detail
    assert to_doc(a)["collect_tenant"] == "620602001"
    a.accept(waived=[], by="dongdajie.clerk", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
    assert a.status == Status.ACCEPTED and a.accepted_by == "dongdajie.clerk"


def test_late_correction_or_rejection_is_refused_after_the_deadline():
    app = receive()
    late = dt.date(2026, 3, 10)
    with pytest.raises(FailedPrecondition, match="视为受理"):
        app.request_correction([("M2", "x")], by="c", now=at(late), today=late)
    with pytest.raises(FailedPrecondition, match="视为受理"):
        app.reject("不符合条件", "", by="c", now=at(late), today=late)


def test_immediate_item_is_accepted_for_the_chief_representative_and_cannot_be_waived():
    item = ItemSnapshot(**{**ITEM.__dict__, "case_kind": "1", "promised_limit_days": 0})
    app = receive(item=item)
    with pytest.raises(InvalidArgument) as e:
        app.accept(waived=[("M2", "2026-03-03")], by="c", now=at(TODAY), today=TODAY, calendar=CAL,
                   **issued())
    assert e.value.field == "waived"
    app.accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
    assert app.status == Status.ACCEPTED and app.immediate and "首席代表" in app.history[-1].detail
    # decided on the spot (approval reports it), then the result is ready at once
    assert "准予许可" in app.record_decision(outcome="approved", document_number="D1", reasons=(), decider="chief",
                                          now=at(TODAY))
    assert app.complete(outcome="approved", now=at(TODAY)) and app.status == Status.COMPLETED


def test_decision_and_completion_are_recorded_once_and_only_while_in_progress():
    app = receive(materials=("M1", "M3", "M4"))
    assert app.complete(outcome="approved", now=at(TODAY)) is None            # not accepted yet: nothing
    app.accept(waived=[("M2", "2026-03-05")], by="c", now=at(TODAY), today=TODAY, calendar=CAL,
               **issued())
    with pytest.raises(InvalidArgument) as e:
        app.record_decision(outcome="maybe", document_number="", reasons=(), decider="d", now=at(TODAY))
    assert e.value.field == "outcome"
    denied = app.record_decision(outcome="denied", document_number="D2", reasons=("不符合规划",), decider="d",
                                 now=at(TODAY))
    assert "不符合规划" in denied and "行政复议" in denied
    assert app.record_decision(outcome="denied", document_number="D2", reasons=(), decider="d", now=at(TODAY)) is None
    done = app.complete(outcome="denied", now=at(TODAY))
    assert "不予许可决定书" in done and "容缺" in done and app.status == Status.COMPLETED
    assert app.complete(outcome="denied", now=at(TODAY)) is None
    assert [h.what for h in app.history][-2:] == ["decided", "completed"]


# -- case numbers ---------------------------------------------------------------------------------
def test_case_number_format():
    n = format_case_number("620602001", dt.date(2026, 3, 2), 17)
    assert n == "62060200100020260302000017" and len(n) == 26
    assert parse_case_number(n) == ("620602001000", dt.date(2026, 3, 2), 17)
    assert format_case_number("620602", dt.date(2026, 12, 31), 999_999).startswith("620602000000")
    with pytest.raises(FailedPrecondition):
        format_case_number("620602", dt.date(2026, 1, 1), 1_000_000)
    with pytest.raises(FailedPrecondition, match="最大长度"):
        format_case_number("620602", dt.date(2026, 1, 1), 1, max_length=20)


def test_pickup_checks_the_collector():
    app = receive()
    app.accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
    with pytest.raises(FailedPrecondition, match="尚未办结"):
        app.pick_up(picked_up_by="张三", id_number=rid(), channel="window", what="", tracking_number="", by="c",
                    now=at(TODAY), today=TODAY)
    app.complete(outcome="approved", now=at(TODAY))
    for kw, field in [({"id_number": "123"}, "id_number"), ({"channel": "drone"}, "channel"),
                      ({"channel": "post"}, "tracking_number"), ({"channel": "village"}, "channel"),
                      ({"picked_up_by": ""}, "picked_up_by")]:
        args = {"picked_up_by": "张三", "id_number": rid(), "channel": "window", "what": "", "tracking_number": "",
                **kw}
        with pytest.raises(InvalidArgument) as e:
            app.pick_up(**args, by="c", now=at(TODAY), today=TODAY)
        assert e.value.field == field
    app.pick_up(picked_up_by="张三", id_number=rid(), channel="window", what="批复", tracking_number="", by="c",
                now=at(TODAY), today=TODAY)
    assert app.status == Status.PICKED_UP and app.pickup["what"] == "批复"


def test_document_round_trip():
    app = receive(materials=("M1", "M4"))
    app.request_correction([("M4", "模糊")], by="c", now=at(TODAY), today=TODAY)
    doc = to_doc(app)
    back = from_doc(id=app.id, tenant=app.tenant, origin_tenant=app.origin_tenant,
                    idempotency_key=app.idempotency_key, scenario_code=app.scenario_code, channel=app.channel,
                    status=str(app.status), case_number=None, received_at=app.received_at,
                    received_on=app.received_on, decision_due=app.decision_due, accepted_on=None,
                    proxy_tenant=None, proxy_request_id=None, doc=doc)
    assert to_doc(back) == doc and back.open_corrections() == app.open_corrections()


def test_notice_is_built_from_a_template_and_printed():
    app = receive(materials=("M1", "M3", "M4"))
    app.accept(waived=[("M2", "2026-03-05")], by="c", now=at(TODAY), today=TODAY, calendar=CAL,
               **issued())
    tpl = NoticeTemplate("acceptance", 3, "受理通知书",
                         "$applicant_name：\n决定予以受理。办件编号：$case_number。$waived_clause")
    data = build_notice(app, tpl, issued_at=at(TODAY), public_base_url="https://zw.example.gov.cn/")
    assert data["template_version"] == 3 and app.case_number in data["body"] and "容缺" in data["body"]
    # the query code next to the case number, and inside the QR code's link
    assert data["rows"][:2] == [("办件编号", app.case_number), ("查询码", app.query_code)]
    assert data["qr_url"] == f"https://zw.example.gov.cn/progress?case={app.case_number}&code={app.query_code}"
    assert data["waived"] == [["户口簿复印件", "2026年3月5日"]]
    pdf = render_notice_pdf(data)
    assert pdf[:4] == b"%PDF"
    # a notice is kept and shown elsewhere: its font travels in the file, and it reads back as written
    reader = PdfReader(io.BytesIO(pdf))
    fonts = {str(f.get_object()["/BaseFont"]): f.get_object() for page in reader.pages
             for f in page["/Resources"]["/Font"].values()}
    chinese = [f for name, f in fonts.items() if name.endswith("UMingCN-0")]
    assert chinese and all("/FontFile2" in f["/FontDescriptor"].get_object() for f in chinese)
    text = "".join(page.extract_text() for page in reader.pages)
    assert app.case_number in text and "受理通知书" in re.sub(r"\s+", "", text)
    assert re.sub(r"\s+", "", text).count(app.query_code) >= 2       # in the table and beside the QR code


def test_a_notice_before_acceptance_has_no_code_and_no_lookup_link():
    app = receive(materials=("M1", "M4"))
    app.request_correction([("M4", "模糊")], by="c", now=at(TODAY), today=TODAY)
    tpl = NoticeTemplate("correction", 1, "补正材料通知书", "$applicant_name：\n请补正。")
    data = build_notice(app, tpl, issued_at=at(TODAY), public_base_url="https://zw.example.gov.cn",
                        correction_round=1)
    assert data["qr_url"] == "" and data["query_code"] == "" and "查询码" not in dict(data["rows"])


# -- query codes (查询码) --------------------------------------------------------------------------
def test_an_accepted_case_keeps_the_query_code_it_is_given():
    app = receive()
    app.accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL, next_case_number=numbers(),
               query_code="ABCD2345")
    assert app.query_code == "ABCD2345"
    back = from_doc(id=app.id, tenant=app.tenant, origin_tenant=app.origin_tenant,
                    idempotency_key=app.idempotency_key, scenario_code=app.scenario_code, channel=app.channel,
                    status=str(app.status), case_number=app.case_number, received_at=app.received_at,
                    received_on=app.received_on, decision_due=app.decision_due, accepted_on=app.accepted_on,
                    proxy_tenant=None, proxy_request_id=None, doc=to_doc(app))
    assert back.query_code == "ABCD2345"
    # an accepted case always has its code: one without would be found by no one but its ID number
    with pytest.raises(ValueError):
        receive().accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL, next_case_number=numbers(),
                         query_code="")
    late = receive(day=dt.date(2026, 9, 30))
    with pytest.raises(ValueError):
        late.deem_accepted(today=dt.date(2026, 10, 14), now=at(dt.date(2026, 10, 14)), next_case_number=numbers(),
                           query_code="")


def test_query_codes_are_random_over_an_alphabet_without_look_alikes():
    codes = [new_query_code() for _ in range(3000)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == 8 and set(c) <= set(ALPHABET) for c in codes)
    assert set("".join(codes)) == set(ALPHABET)             # every symbol drawn: the whole alphabet is used
    assert not set("01OIL") & set(ALPHABET) and len(ALPHABET) == 31
    assert len(new_query_code(12)) == 12
    for length in (6, 17):
        with pytest.raises(ValueError):
            new_query_code(length)


def test_query_codes_are_read_as_people_type_them():
    assert check_query_code(" abcd-2345 ") == "ABCD2345"
    assert check_query_code("abcd 2345 efgh") == "ABCD2345EFGH"
    for bad in ("", "   ", "ABC2345", "ABCD234O", "ABCD2341", "2" * 17, "查询码查询码查询码", "ABCD2345;--"):
        with pytest.raises(InvalidArgument) as e:
            check_query_code(bad)
        assert e.value.field == "query_code", bad


def test_the_digest_binds_a_code_to_its_case():
    d = query_code_digest("62060200100020260302000001", "ABCD2345")
    assert len(d) == 64 and d == query_code_digest("62060200100020260302000001", "ABCD2345")
    assert d != query_code_digest("62060200100020260302000002", "ABCD2345")
    assert d != query_code_digest("62060200100020260302000001", "ABCD2346")
    assert "ABCD2345" not in d


def test_clock_pins_the_date_from_settings_and_moves():
    class S:
        fixed_today = "2026-09-30"
    clock = Clock.from_settings(S())
    assert clock.today() == dt.date(2026, 9, 30) and clock.now().date() == dt.date(2026, 9, 30)
    clock.set_today(dt.date(2026, 10, 14))
    assert clock.today() == dt.date(2026, 10, 14)
    assert Clock.from_settings(object()).fixed is False


def test_a_notice_names_the_applicant_and_then_says_you_or_your_unit():
    tpl = NoticeTemplate("correction", 2, "补正材料通知书", "$applicant_name：\n$you于$received_date提出的申请……")
    person = build_notice(receive(materials=("M1",)), tpl, issued_at=at(TODAY), public_base_url="https://x/",
                          correction_round=0)
    assert person["body"].startswith("张三：\n你于2026年3月2日") and "（单位）" not in person["body"]
    company = receive(materials=("M1",), item=dataclasses.replace(ITEM, targets=("legal_person",)),
                      applicant=Applicant(name="凉州区某某宾馆有限公司", id_number=uscc()))
    assert company.applicant.kind == "legal_person"
    body = build_notice(company, tpl, issued_at=at(TODAY), public_base_url="https://x/")["body"]
    assert body.startswith("凉州区某某宾馆有限公司：\n你单位于")


def test_the_promised_finish_date_counts_working_days_and_leaves_out_suspensions():
    app = receive()
    assert app.promised_deadline(CAL) is None                         # not accepted yet: no promise
    app.accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
    d = app.promised_deadline(CAL)
    assert (d.due, d.working_days) == (dt.date(2026, 3, 16), 10)
    assert explain_deadline(d) == "受理次日起计 10 个工作日，周末 4 天不计"
    # a special procedure from Wednesday 4 March, resumed on Monday 9 March: 4–8 March (3 working days) not counted
    app.record_clock(suspended=True, detail="专家评审", now=at(dt.date(2026, 3, 4)))
    paused = app.promised_deadline(CAL)
    assert paused.due is None and paused.paused_open
    assert "审批暂停计时中" in explain_deadline(paused)
    app.record_clock(suspended=False, detail="恢复计时", now=at(dt.date(2026, 3, 9)))
    d = app.promised_deadline(CAL)
    assert d.due == dt.date(2026, 3, 19)
    assert explain_deadline(d) == "受理次日起计 10 个工作日，周末 2 天、暂停计时 5 天不计"
    app.record_decision(outcome="approved", document_number="", reasons=(), decider="d", now=at(dt.date(2026, 3, 10)))
    assert app.promised_deadline(CAL) is None                         # decided: nothing promised any more


def test_the_promised_finish_date_over_the_labour_day_holiday():
    app = receive(day=dt.date(2026, 4, 27))
    app.accept(waived=[], by="c", now=at(dt.date(2026, 4, 27)), today=dt.date(2026, 4, 27), calendar=CAL, **issued())
    text = explain_deadline(app.promised_deadline(CAL))
    assert "法定节假日" in text and text.startswith("受理次日起计 10 个工作日")
    immediate = receive(item=dataclasses.replace(ITEM, promised_limit_days=0))
    immediate.accept(waived=[], by="c", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
    d = immediate.promised_deadline(CAL)
    assert d.due == TODAY and explain_deadline(d) == "即办件：受理当日办结"


def test_a_promise_whose_day_is_off_runs_to_the_next_working_day():
    # 民法典 第二百零三条: a period whose last day is a day off ends on the next working day — the window is shut
    # on the signed day. Signed for Saturday 2026-03-07: handed in on Monday 03-09 is in time, 03-10 is not
    app = receive(materials=("M1", "M2", "M4"))
    app.accept(waived=[("M3", "2026-03-07")], by="c", now=at(TODAY), today=TODAY, calendar=CAL, **issued())
    assert app.open_promises()[0].last_day(CAL) == dt.date(2026, 3, 9)
    assert app.open_promises()[0].promised_by == dt.date(2026, 3, 7)                  # as signed, on the notice
    assert app.expire_promises(today=dt.date(2026, 3, 9), now=at(dt.date(2026, 3, 9)), calendar=CAL) == []
    broken = app.expire_promises(today=dt.date(2026, 3, 10), now=at(dt.date(2026, 3, 10)), calendar=CAL)
    assert [b.material_code for b in broken] == ["M3"] and app.status == Status.TERMINATED


def test_a_promise_on_a_statutory_holiday_runs_past_the_whole_holiday():
    # 国庆 2026: 10-01..10-07 off, Thursday 10-08 the first working day
    promise = Promise(material_code="M3", promised_by=dt.date(2026, 10, 1), limit=dt.date(2026, 10, 30))
    assert promise.last_day(CAL) == dt.date(2026, 10, 8)
    assert promise.last_day(None) == dt.date(2026, 10, 1)
    assert Promise(material_code="M3", promised_by=dt.date(2026, 10, 9), limit=dt.date(2026, 10, 30)
                   ).last_day(CAL) == dt.date(2026, 10, 9)                                 # a working Friday
