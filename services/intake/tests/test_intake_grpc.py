"""The intake through its gRPC API: real PostgreSQL, real tokens, the real catalogue server — the three
decisions, 容缺, deemed acceptance, what the back office reports back, the hand-out, the public lookup."""

from __future__ import annotations

import datetime as dt
import re

import grpc
import pytest
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.intake.v1 import intake_pb2 as pb

from services.intake.service import SUBSCRIPTIONS
from services.intake.tests.conftest import (
    COUNTY,
    TOWNSHIP,
    VILLAGE,
    codes,
    collected_item,
    elements,
    err,
    field_of,
    notice_pdf,
    outbox,
    proxy_request,
    rid,
    rows_with_key,
    submit_request,
    uscc,
    whole_list,
)
from shared.grpc.client import bearer
from shared.messaging import PoisonMessage
from tests.support import deliver_event, report_from_approval, subscribed

CODE = grpc.StatusCode


# -- the three decisions ---------------------------------------------------------------------------
def test_accept_gives_a_case_number_an_acceptance_notice_and_events(clerk, township_item, intake_db, today):
    app = clerk.SubmitApplication(submit_request(township_item))
    assert (app.status, app.tenant, app.handling_unit_name) == (pb.APPLICATION_STATUS_RECEIVED, TOWNSHIP, "东大街街道")
    assert app.decision_due == "2026-03-09" and app.received_at.startswith("2026-03-02")
    assert [(m.code, m.supplied, m.revision, m.supplied_via) for m in app.materials] == [
        (c, True, 1, "window") for c in ("M1", "M2", "M3", "M4")]
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id, note="原件已核验"))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED and accepted.accepted_on == "2026-03-02"
    assert re.fullmatch(r"62060200100020260302\d{6}", accepted.case_number)
    assert [n.kind for n in accepted.notices] == ["acceptance"]
    assert accepted.notices[0].pdf_url == f"/api/v1/intake/applications/{app.id}/notices/{accepted.notices[0].id}.pdf"
    text_ = notice_pdf(clerk, accepted, "acceptance")
    assert "受理通知书" in text_ and accepted.case_number in text_ and "农村村民宅基地审批" in text_
    assert "东大街街道" in text_ and "张三" in text_ and "2026年3月2日" in text_
    # the salutation names the applicant and the text then says 你, not the unfilled 「你（单位）」
    assert "张三：你于2026年3月2日" in text_ and "你（单位）" not in text_
    events = outbox(intake_db, app.id, accepted.case_number)
    assert [(e[0], e[2]) for e in events] == [("application_submitted", TOWNSHIP), ("application_accepted", TOWNSHIP)]
    body = events[1][1]
    assert body["case_number"] == accepted.case_number and body["deemed"] is False and body["immediate"] is False
    assert body["accepted_by"] == "dongdajie.clerk" and body["case_kind"] == "2"
    # what the approval service opens the case with, from the version accepted under
    assert (body["item_name"], body["item_type"]) == ("农村村民宅基地审批", "01")
    assert body["department"] == "凉州区农业农村局"
    assert (body["promised_limit_days"], body["statutory_limit_days"], body["scenario_name"]) == (10, 20, "新建住房")
    assert [(m["code"], m["supplied"], m["core"]) for m in body["materials"]] == [
        ("M1", True, True), ("M2", True, False), ("M3", True, False), ("M4", True, False)]


def test_correction_then_supply_then_accept(clerk, township_item, intake_db, today):
    app = clerk.SubmitApplication(submit_request(township_item, materials=("M1", "M4")))
    corr = clerk.RequestCorrection(pb.RequestCorrectionRequest(application_id=app.id, items=[
        pb.CorrectionItem(material_code="M4", problem="照片模糊，看不清四至")]))
    assert corr.status == pb.APPLICATION_STATUS_CORRECTION and corr.decision_due == ""
    assert codes(corr) == {"M2", "M3", "M4"}                 # every missing material is on the one notice
    text_ = notice_pdf(clerk, corr, "correction")
    assert "补正材料通知书" in text_ and "一次性告知" in text_
    assert all(n in text_ for n in ("户口簿复印件", "四邻签字意见", "照片模糊"))
    today.set_today(dt.date(2026, 3, 4))
    supplied = clerk.SupplyMaterials(pb.SupplyMaterialsRequest(application_id=app.id, materials=[
        pb.MaterialSubmission(code=c, supplied=True) for c in ("M2", "M3", "M4")]))
    assert supplied.status == pb.APPLICATION_STATUS_RECEIVED and not supplied.open_corrections
    assert {m.code: m.revision for m in supplied.materials} == {"M1": 1, "M2": 1, "M3": 1, "M4": 2}
    assert supplied.decision_due == "2026-03-11"             # the correction days did not count
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED and accepted.accepted_on == "2026-03-04"
    events = outbox(intake_db, app.id, accepted.case_number)
    assert [e[0] for e in events] == ["application_submitted", "correction_requested", "materials_supplied",
                                      "application_accepted"]
    assert sorted(events[1][1]["material_codes"]) == ["M2", "M3", "M4"]


def test_second_correction_naming_an_unchanged_material_is_refused(clerk, township_item, today):
    app = clerk.SubmitApplication(submit_request(township_item))
    clerk.RequestCorrection(pb.RequestCorrectionRequest(application_id=app.id, items=[
        pb.CorrectionItem(material_code="M2", problem="复印件不清晰")]))
    clerk.SupplyMaterials(pb.SupplyMaterialsRequest(application_id=app.id,
                                                    materials=[pb.MaterialSubmission(code="M2")]))
    e = err(clerk.RequestCorrection, pb.RequestCorrectionRequest(application_id=app.id, items=[
        pb.CorrectionItem(material_code="M1", problem="申请人签名缺失")]))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "items[0].material_code"
    assert "一次性告知" in e.details()
    unchanged = clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert unchanged.status == pb.APPLICATION_STATUS_RECEIVED and len(unchanged.notices) == 1
    again = clerk.RequestCorrection(pb.RequestCorrectionRequest(application_id=app.id, items=[
        pb.CorrectionItem(material_code="M2", problem="补交的复印件缺页")]))
    assert again.status == pb.APPLICATION_STATUS_CORRECTION and codes(again) == {"M2"}


def test_a_refusal_the_head_overrules_stays_with_the_window(clerk, as_user, township_item, intake_db, today):
    """Seed 003 §20: 只说“YES”不说“NO” — overruled, the application is still the window's to accept."""
    app = clerk.SubmitApplication(submit_request(township_item))
    clerk.RejectApplication(pb.RejectApplicationRequest(application_id=app.id, reason="材料不全"))
    e = err(clerk.RejectApplication, pb.RejectApplicationRequest(application_id=app.id, reason="再次"))
    assert e.code() == CODE.FAILED_PRECONDITION and field_of(e) == "application_id"
    e = err(as_user("xidajie.clerk").ConfirmRejection, pb.ConfirmRejectionRequest(application_id=app.id))
    assert e.code() == CODE.PERMISSION_DENIED
    kept = as_user("dongdajie.head").ConfirmRejection(pb.ConfirmRejectionRequest(
        application_id=app.id, confirm=False, note="材料不全应一次性告知补正，不能不予受理"))
    assert kept.status == pb.APPLICATION_STATUS_RECEIVED and not kept.HasField("rejection")
    assert kept.history[-1].what == "rejection_overruled" and "一次性告知补正" in kept.history[-1].detail
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED
    assert "application_rejected" not in [e[0] for e in outbox(intake_db, app.id)]


def test_the_window_records_a_government_invested_project_where_the_item_asks(stub, tokens, clerk, intake_db,
                                                                               today):
    """Seed 001 §7: “对所有政府投资项目和重点建设项目，有上下限标准的，均按照‘收费从低’的原则，一律按下限征收” —
    the window records it, intake carries it to the back office (and on to fees), no cashier ticks a box."""
    md = bearer(tokens["county.admin"])
    item = stub.CreateItem(cpb.CreateItemRequest(elements=elements(name="建设工程规划许可证核发", project_facts=True)),
                           metadata=md, timeout=10)
    item = stub.PublishItem(cpb.PublishItemRequest(item_id=item.id), metadata=md, timeout=10)
    stub.DelegateItem(cpb.DelegateItemRequest(item_id=item.id, target_tenants=[TOWNSHIP], reason="测试",
                                              kind=cpb.LISTING_KIND_DELEGATED), metadata=md, timeout=10)
    app = clerk.SubmitApplication(submit_request(item))
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id, government_invested=True))
    assert accepted.government_invested and not accepted.key_construction_project
    assert "政府投资项目" in accepted.history[-1].detail
    [event] = [b for k, b, _ in outbox(intake_db, accepted.case_number) if k == "application_accepted"]
    assert event["government_invested"] is True and not event.get("key_project")


def test_the_project_question_is_refused_for_an_item_that_does_not_ask_it(clerk, township_item, intake_db, today):
    app = clerk.SubmitApplication(submit_request(township_item))
    e = err(clerk.AcceptApplication, pb.AcceptApplicationRequest(application_id=app.id,
                                                                 key_construction_project=True))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "key_construction_project"
    assert clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id)).status == \
        pb.APPLICATION_STATUS_RECEIVED


def test_a_township_window_collects_a_county_item_on_the_countys_behalf(stub, tokens, as_user, clerk, intake_db,
                                                                        intake_handlers, today):
    """代收 (issue 21 item 6): seed 000 §10 “依法应当先经下级行政机关审查后报上级行政机关决定的行政审批 … 在法定时限内
    报送上级 … 不得要求申请人重复提供申请材料”; seed 003 §4 “采取代为收件（受理）… 变‘群众多层跑’为‘上下协同办’”.
    The township window takes it in and accepts it on the county's behalf; the case is the county's; the
    township follows it and hands out the result."""
    item = collected_item(stub, tokens, "老年人优待证办理")
    app = clerk.SubmitApplication(submit_request(item))
    assert (app.tenant, app.collect_tenant) == (COUNTY, TOWNSHIP)
    # the sibling township's window neither sees it nor decides on it
    sibling = as_user("xidajie.clerk")
    assert err(sibling.GetApplication, pb.GetApplicationRequest(application_id=app.id)).code() == CODE.NOT_FOUND
    assert err(sibling.AcceptApplication, pb.AcceptApplicationRequest(application_id=app.id)).code() == \
        CODE.NOT_FOUND
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED and accepted.case_number.startswith(COUNTY + "000000")
    assert accepted.accepted_at and accepted.history[-1].by == "dongdajie.clerk"
    [(_, body, tenant)] = [e for e in outbox(intake_db, accepted.case_number) if e[0] == "application_accepted"]
    assert tenant == COUNTY and body["accepted_by"] == "dongdajie.clerk"        # the county's case
    # the county's window sees it as its own; the township lists it among what it collected
    county = as_user("county.clerk").GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert county.collect_tenant == TOWNSHIP
    assert app.id in [a.id for a in whole_list(clerk)]
    assert notice_pdf(clerk, accepted, "acceptance")
    # the county decides and completes (approval's events, in the county's tenant); the township hands out
    report_from_approval(intake_handlers, intake_db, COUNTY, accepted.case_number)
    done = clerk.RecordPickup(pb.RecordPickupRequest(application_id=app.id, picked_up_by="张三",
                                                     id_number=accepted.applicant.id_number, channel="window",
                                                     what="老年人优待证"))
    assert done.status == pb.APPLICATION_STATUS_PICKED_UP
    picked = [e for e in outbox(intake_db, accepted.case_number) if e[0] == "result_picked_up"]
    assert [t for _, _, t in picked] == [COUNTY]


def test_reject_with_reason_and_remedies(clerk, as_user, township_item, intake_db, today):
    """Seed 003 §20 (无权否决, 只说“YES”不说“NO”): the window proposes a refusal, the unit's head (or the
    chief representative) confirms it; only then is it in force, and the notice names who confirmed it."""
    app = clerk.SubmitApplication(submit_request(township_item))
    e = err(clerk.RejectApplication, pb.RejectApplicationRequest(application_id=app.id, reason="  "))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "reason"
    proposed = clerk.RejectApplication(pb.RejectApplicationRequest(
        application_id=app.id, reason="申请人不属于本集体经济组织成员",
        legal_basis="《中华人民共和国土地管理法》第六十二条"))
    assert proposed.status == pb.APPLICATION_STATUS_RECEIVED and proposed.rejection.pending
    assert proposed.rejection.proposed_by == "dongdajie.clerk"
    assert "rejection" not in [n.kind for n in proposed.notices]
    assert [e[0] for e in outbox(intake_db, app.id)] == ["application_submitted"]
    # the clerk cannot confirm it, nor can a sibling township's head see it
    e = err(clerk.ConfirmRejection, pb.ConfirmRejectionRequest(application_id=app.id, confirm=True))
    assert e.code() == CODE.PERMISSION_DENIED
    head = as_user("dongdajie.head")
    rejected = head.ConfirmRejection(pb.ConfirmRejectionRequest(application_id=app.id, confirm=True, note="同意"))
    assert rejected.status == pb.APPLICATION_STATUS_REJECTED and rejected.case_number == ""
    assert not rejected.rejection.pending and rejected.rejection.confirmed_by == "dongdajie.head"
    assert rejected.rejection.confirmed_role == "机关负责人"
    text_ = notice_pdf(clerk, rejected, "rejection")
    assert "不予受理通知书" in text_ and "不属于本集体经济组织成员" in text_ and "土地管理法" in text_
    assert "六十日内" in text_ and "行政复议" in text_ and "六个月内" in text_ and "行政诉讼" in text_
    assert "不予受理确认人" in text_ and "周建华" in text_
    events = outbox(intake_db, app.id)
    assert [e[0] for e in events] == ["application_submitted", "application_rejected"]
    assert events[1][1]["confirmed_by"] == "dongdajie.head" and events[1][1]["proposed_by"] == "dongdajie.clerk"
    e = err(clerk.AcceptApplication, pb.AcceptApplicationRequest(application_id=app.id))
    assert e.code() == CODE.FAILED_PRECONDITION and "不予受理" in e.details()


# -- 容缺受理 ---------------------------------------------------------------------------------------
def test_waived_acceptance_then_supplied_closes_the_promise(clerk, township_item, intake_db, today):
    app = clerk.SubmitApplication(submit_request(township_item, materials=("M1", "M3", "M4")))
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id, waived=[
        pb.WaivedMaterial(material_code="M2", promised_by="2026-03-05")]))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED
    assert [(w.material_code, w.promised_by) for w in accepted.waived] == [("M2", "2026-03-05")]
    assert "户口簿复印件" in notice_pdf(clerk, accepted, "acceptance")
    e = err(clerk.SupplyMaterials, pb.SupplyMaterialsRequest(application_id=app.id,
                                                             materials=[pb.MaterialSubmission(code="M4")]))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "materials[0].code"
    today.set_today(dt.date(2026, 3, 5))
    kept = clerk.SupplyMaterials(pb.SupplyMaterialsRequest(application_id=app.id,
                                                           materials=[pb.MaterialSubmission(code="M2")]))
    assert kept.status == pb.APPLICATION_STATUS_ACCEPTED and not kept.waived
    supplied = [e for e in outbox(intake_db, accepted.case_number) if e[0] == "materials_supplied"]
    assert supplied[0][1]["closes_promise"] is True and supplied[0][1]["material_codes"] == ["M2"]
    accepted_event = next(e for e in outbox(intake_db, accepted.case_number) if e[0] == "application_accepted")
    assert accepted_event[1]["waived_materials"] == ["M2"]
    assert [m["code"] for m in accepted_event[1]["materials"] if m["waived"]] == ["M2"]


def test_waived_acceptance_expired_terminates_with_a_notice(clerk, township_item, intake_handlers, intake_db, today):
    app = clerk.SubmitApplication(submit_request(township_item, materials=("M1", "M3", "M4")))
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id, waived=[
        pb.WaivedMaterial(material_code="M2", promised_by="2026-03-04")]))
    today.set_today(dt.date(2026, 3, 4))
    assert app.id not in intake_handlers.sweep().terminated           # the promised day itself is still in time
    today.set_today(dt.date(2026, 3, 5))
    assert app.id in intake_handlers.sweep().terminated
    ended = clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert ended.status == pb.APPLICATION_STATUS_TERMINATED
    text_ = notice_pdf(clerk, ended, "termination")
    assert "终止办理通知书" in text_ and "户口簿复印件" in text_
    assert accepted.case_number in text_ and "行政复议" in text_
    terminated = [e for e in outbox(intake_db, accepted.case_number) if e[0] == "application_terminated"]
    assert len(terminated) == 1 and terminated[0][2] == TOWNSHIP and "逾期未补交" in terminated[0][1]["reason"]
    assert app.id not in intake_handlers.sweep().terminated           # once only


def test_waived_beyond_the_limit_or_for_a_dishonest_applicant_is_refused(clerk, township_item, intake_db, today):
    app = clerk.SubmitApplication(submit_request(township_item, materials=("M1", "M3", "M4")))
    e = err(clerk.AcceptApplication, pb.AcceptApplicationRequest(application_id=app.id, waived=[
        pb.WaivedMaterial(material_code="M2", promised_by="2026-03-06")]))       # M2: 3 working days → 3-05
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "waived[0].promised_by" and "2026-03-05" in e.details()
    e = err(clerk.AcceptApplication, pb.AcceptApplicationRequest(application_id=app.id, waived=[
        pb.WaivedMaterial(material_code="M1", promised_by="2026-03-04")]))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "waived[0].material_code"
    untouched = clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert untouched.status == pb.APPLICATION_STATUS_RECEIVED and not untouched.case_number and not untouched.notices
    dishonest = pb.Applicant(name="赵某", id_number=rid(), dishonest=True)
    bad = clerk.SubmitApplication(submit_request(township_item, materials=("M1", "M3", "M4"), applicant=dishonest))
    e = err(clerk.AcceptApplication, pb.AcceptApplicationRequest(application_id=bad.id, waived=[
        pb.WaivedMaterial(material_code="M2", promised_by="2026-03-04")]))
    assert e.code() == CODE.FAILED_PRECONDITION and field_of(e) == "applicant.dishonest" and "失信" in e.details()
    assert [x[0] for x in outbox(intake_db, app.id, bad.id)] == ["application_submitted", "application_submitted"]


# -- deemed acceptance -------------------------------------------------------------------------------
def test_deemed_acceptance_after_five_working_days_across_national_day(clerk, township_item, intake_handlers,
                                                                       intake_db, as_user, today):
    today.set_today(dt.date(2026, 9, 30))
    app = clerk.SubmitApplication(submit_request(township_item))
    # 10-01..10-07 国庆节; 10-08 (1), 10-09 (2), Sat 10-10 调休上班 (3), 10-12 (4), 10-13 (5)
    assert app.decision_due == "2026-10-13"
    today.set_today(dt.date(2026, 10, 13))
    assert app.id not in intake_handlers.sweep().deemed
    still = clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert still.status == pb.APPLICATION_STATUS_RECEIVED
    today.set_today(dt.date(2026, 10, 14))
    assert app.id in intake_handlers.sweep().deemed
    deemed = clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert deemed.status == pb.APPLICATION_STATUS_ACCEPTED and deemed.deemed_accepted
    assert deemed.accepted_on == "2026-09-30" and deemed.accepted_at.startswith("2026-09-30")
    assert re.fullmatch(r"62060200100020260930\d{6}", deemed.case_number)
    assert deemed.history[-1].what == "deemed_accepted" and deemed.history[-1].by == "system"
    text_ = notice_pdf(clerk, deemed, "deemed_acceptance")
    assert "视为受理" in text_ and "2026年9月30日" in text_ and "2026年10月13日" in text_
    events = [e for e in outbox(intake_db, deemed.case_number) if e[0] == "application_accepted"]
    assert len(events) == 1 and events[0][1]["deemed"] is True and events[0][1]["accepted_at"].startswith("2026-09-30")
    # supervision sees that it happened
    seen = as_user("county.supervisor").GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert seen.deemed_accepted and any(h.what == "deemed_accepted" for h in seen.history)
    assert app.id not in intake_handlers.sweep().deemed                # once only


# -- 即办件, pickup, public lookup, idempotency, prefill -------------------------------------------
def test_immediate_item_goes_to_the_chief_representative_and_is_ready_once_decided(as_user, catalogue_items,
                                                                                    intake_db, intake_handlers, today):
    clerk = as_user("county.clerk")
    app = clerk.SubmitApplication(submit_request(catalogue_items["immediate"], materials=("M1", "M2")))
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED and accepted.case_kind == "1"
    assert accepted.case_number.startswith("62060200000020260302")
    events = [e for e in outbox(intake_db, accepted.case_number) if e[0] == "application_accepted"]
    assert events[0][1]["immediate"] is True and events[0][2] == COUNTY
    # the chief representative decides at once (approval); its events make the result ready here
    report_from_approval(intake_handlers, intake_db, COUNTY, accepted.case_number)
    report_from_approval(intake_handlers, intake_db, COUNTY, accepted.case_number)     # redelivered: no change
    done = clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert done.status == pb.APPLICATION_STATUS_COMPLETED
    assert [h.what for h in done.history][-2:] == ["decided", "completed"]


def test_a_suspension_in_the_back_office_reaches_the_applicants_record_and_the_village(
        via_agency, clerk, township_item, intake_db, intake_handlers, today):
    from sanji.approval.v1 import events_pb2 as approval_ev

    app = via_agency("nanyuan.agent").SubmitProxyApplication(proxy_request(township_item))
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    number = accepted.case_number
    # delivered as intake's consumer delivers them: through its subscription table
    deliver_event(subscribed(SUBSCRIPTIONS, "record_suspension", intake_handlers), intake_db, TOWNSHIP,
                  approval_ev.ClockSuspended(case_number=number, tenant=TOWNSHIP, procedure="expert_review",
                                             procedure_name="专家评审", days=5, suspended_on="2026-03-03",
                                             notice_number="620602001-2026-TZ000001", reason="需组织专家论证选址"))
    deliver_event(subscribed(SUBSCRIPTIONS, "record_resumption", intake_handlers), intake_db, TOWNSHIP,
                  approval_ev.ClockResumed(case_number=number, tenant=TOWNSHIP, resumed_on="2026-03-10"))
    seen = clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert [h.what for h in seen.history][-2:] == ["suspended", "resumed"]
    assert "专家评审" in seen.history[-2].detail and "5 个工作日" in seen.history[-2].detail
    assert "TZ000001" in seen.history[-2].detail
    told = [e[1] for e in outbox(intake_db, number) if e[0] == "proxy_application_progressed"]
    assert [t["step"] for t in told][-2:] == ["suspended", "resumed"] and told[-2]["proxy_tenant"] == VILLAGE
    assert seen.status == pb.APPLICATION_STATUS_ACCEPTED           # the clock is approval's; the case goes on


def test_approval_events_touch_only_their_own_tenants_case(clerk, township_item, intake_db, intake_handlers, today):
    app = clerk.SubmitApplication(submit_request(township_item))
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    report_from_approval(intake_handlers, intake_db, COUNTY, accepted.case_number)      # the county: not its case
    assert clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id)).status == \
        pb.APPLICATION_STATUS_ACCEPTED
    with pytest.raises(PoisonMessage):
        report_from_approval(intake_handlers, intake_db, TOWNSHIP, "")                  # no case number
    report_from_approval(intake_handlers, intake_db, TOWNSHIP, accepted.case_number)
    assert clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id)).status == \
        pb.APPLICATION_STATUS_COMPLETED


def test_pickup_records_who_collected_what(clerk, township_item, intake_db, intake_handlers, today):
    app = clerk.SubmitApplication(submit_request(township_item))
    early = err(clerk.RecordPickup, pb.RecordPickupRequest(application_id=app.id, picked_up_by="张三",
                                                           id_number=rid(), channel="window"))
    assert early.code() == CODE.FAILED_PRECONDITION
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    undecided = err(clerk.RecordPickup, pb.RecordPickupRequest(application_id=app.id, picked_up_by="张三",
                                                               id_number=rid(), channel="window"))
    assert undecided.code() == CODE.FAILED_PRECONDITION and "尚未办结" in undecided.details()
    report_from_approval(intake_handlers, intake_db, TOWNSHIP, accepted.case_number)
    e = err(clerk.RecordPickup, pb.RecordPickupRequest(application_id=app.id, picked_up_by="张三",
                                                       id_number="620602198001011234", channel="window"))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "id_number"
    e = err(clerk.RecordPickup, pb.RecordPickupRequest(application_id=app.id, picked_up_by="张三", id_number=rid(),
                                                       channel="post"))
    assert field_of(e) == "tracking_number"
    done = clerk.RecordPickup(pb.RecordPickupRequest(application_id=app.id, picked_up_by="张三", id_number=rid(),
                                                     channel="post", tracking_number="EMS1234567890CN",
                                                     what="农村宅基地批准书"))
    assert done.status == pb.APPLICATION_STATUS_PICKED_UP and done.picked_up_at.startswith("2026-03-02")
    assert "EMS1234567890CN" in done.history[-1].detail and "农村宅基地批准书" in done.history[-1].detail
    picked = [e for e in outbox(intake_db, accepted.case_number) if e[0] == "result_picked_up"]
    assert picked[0][1]["channel"] == "post" and picked[0][2] == TOWNSHIP
    assert (picked[0][1]["recorded_by"], picked[0][1]["picked_up_by"]) == ("dongdajie.clerk", "张三")


def test_public_progress_lookup_needs_the_query_code_or_the_full_id(clerk, township_item, intake_stub, today):
    """Issue 15: a sequential case number and six characters of an ID were about 3×10⁵ guesses. The lookup
    now needs the query code given on acceptance, or the applicant's whole ID number."""
    number = rid()
    app = clerk.SubmitApplication(submit_request(township_item, applicant=pb.Applicant(name="李四", id_number=number)))
    assert not app.query_code                                    # received: no number, no code yet
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    code = accepted.query_code
    assert len(code) == 8 and clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id)).query_code == code

    def lookup(**kw) -> pb.Progress:
        return intake_stub.LookupProgress(pb.LookupProgressRequest(case_number=accepted.case_number, **kw), timeout=10)

    progress = lookup(query_code=code)
    assert progress.step == "已受理，办理中" and progress.item_name == "农村村民宅基地审批"
    assert [(s.at, s.what) for s in progress.steps] == [("2026-03-02", "已收件"), ("2026-03-02", "已受理")]
    # the promised finish date (issue 19): 10 working days from Monday 2 March, two weekends not counted
    assert (progress.promised_due, progress.promised_limit_days, progress.clock_paused) == ("2026-03-16", 10, False)
    assert progress.promised_due_explained == "受理次日起计 10 个工作日，周末 4 天不计"
    assert "李四" not in str(progress) and "M1" not in str(progress) and number not in str(progress)
    assert code not in str(progress)
    # as a person types it from the notice: lower case, in two groups
    assert lookup(query_code=f"{code[:4].lower()} {code[4:].lower()}").case_number == accepted.case_number
    assert lookup(id_number=number.lower()).case_number == accepted.case_number
    # a wrong code, a wrong ID number, an unknown case and another case's code all answer alike
    other = clerk.AcceptApplication(pb.AcceptApplicationRequest(
        application_id=clerk.SubmitApplication(submit_request(township_item)).id))
    wrong_code = "".join("3" if c != "3" else "4" for c in code)
    refusals = [err(lookup, query_code=wrong_code), err(lookup, query_code=other.query_code),
                err(lookup, id_number=rid()),
                err(intake_stub.LookupProgress, pb.LookupProgressRequest(
                    case_number="62060200100020260302999999", query_code=code), timeout=10)]
    assert {(e.code(), e.details()) for e in refusals} == {(CODE.NOT_FOUND, refusals[0].details())}
    # six characters of the ID are no longer a key: not as a code, not as an ID number
    for kw, field in (({"id_number": number[-6:]}, "id_number"), ({"query_code": number[-6:]}, "query_code"),
                      ({}, "query_code"), ({"query_code": code, "id_number": number}, "query_code")):
        e = err(lookup, **kw)
        assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == field, kw


def test_same_idempotency_key_returns_the_same_application(clerk, township_item, intake_db, today):
    req = submit_request(township_item)
    first = clerk.SubmitApplication(req)
    again = clerk.SubmitApplication(req)
    changed = clerk.SubmitApplication(submit_request(township_item, idem=req.idempotency_key, scenario="S2",
                                                     materials=("N1",)))
    assert first.id == again.id == changed.id and changed.scenario_code == "S1"
    assert rows_with_key(intake_db, TOWNSHIP, req.idempotency_key) == 1
    assert [e[0] for e in outbox(intake_db, first.id)] == ["application_submitted"]


def test_prefill_from_the_tenants_records(clerk, as_user, township_item, today):
    number = rid()
    clerk.SubmitApplication(submit_request(township_item, applicant=pb.Applicant(
        name="王五", id_number=number, phone="13800000000", address="东大街 8 号")))
    second = clerk.SubmitApplication(submit_request(township_item, applicant=pb.Applicant(id_number=number)))
    assert (second.applicant.name, second.applicant.phone, second.applicant.address) == ("王五", "13800000000",
                                                                                         "东大街 8 号")
    profile = clerk.GetApplicantProfile(pb.GetApplicantProfileRequest(id_number=number))
    assert profile.name == "王五" and profile.kind == "natural_person" and profile.id_type == "resident_id"
    e = err(as_user("xidajie.clerk").GetApplicantProfile, pb.GetApplicantProfileRequest(id_number=number))
    assert e.code() == CODE.NOT_FOUND                                   # another unit's records


def test_a_company_applies_with_its_unified_social_credit_code(clerk, as_user, catalogue_items, today):
    code = uscc()
    app = clerk.SubmitApplication(submit_request(catalogue_items["company"], applicant=pb.Applicant(
        name="凉州区某某宾馆有限公司", id_number=code.lower(), organisation="法定代表人 赵某")))
    assert (app.applicant.kind, app.applicant.id_type, app.applicant.id_number) == ("legal_person", "uscc", code)
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    e = err(as_user("xidajie.clerk").GetNotice, pb.GetNoticeRequest(application_id=app.id,
                                                                     notice_id=accepted.notices[0].id))
    assert e.code() == CODE.NOT_FOUND
    text_ = notice_pdf(clerk, accepted, "acceptance")
    assert "凉州区某某宾馆有限公司：你单位于" in text_ and "你（单位）" not in text_


def test_the_sweeper_worker_starts_sweeps_and_stops(intake_handlers, today):
    from services.intake.sweeper import DeadlineSweeper

    sweeper = DeadlineSweeper(intake_handlers, interval_seconds=3600)
    assert sweeper.run_once().failed == []
    sweeper.start()
    sweeper.stop()
    assert sweeper._thread is not None and not sweeper._thread.is_alive()
