"""The intake through its gRPC API: real PostgreSQL, real tokens, the real catalogue server."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
import uuid

import grpc
import pytest
from pypdf import PdfReader
from sanji.intake.v1 import intake_pb2 as pb
from sqlalchemy import text

from services.intake.service import SUBSCRIPTIONS
from services.intake.tests.conftest import (
    COUNTY,
    SIBLING,
    TOWNSHIP,
    VILLAGE,
    err,
    field_of,
    key,
    rid,
    submit_request,
    uscc,
)
from shared.messaging import PoisonMessage
from tests.support import deliver_event, report_from_approval, subscribed

CODE = grpc.StatusCode


def outbox(db, *correlation_ids: str) -> list[tuple[str, dict, str]]:
    with db.engine.connect() as c:
        rows = c.execute(text("SELECT routing_key, body, tenant FROM intake.outbox WHERE correlation_id = ANY(:c)"
                              " ORDER BY seq"), {"c": list(correlation_ids)}).all()
    return [(r[0], json.loads(r[1]), r[2]) for r in rows]


def outbox_count(db) -> int:
    with db.engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM intake.outbox")).scalar()


def rows_with_key(db, tenant: str, idem: str) -> int:
    with db.unit_of_work(tenant=tenant) as uow:
        return uow.session.execute(text("SELECT count(*) FROM intake.applications WHERE idempotency_key = :k"),
                                   {"k": idem}).scalar()


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "\n".join(p.extract_text() or "" for p in reader.pages))


def notice_pdf(caller, app: pb.Application, kind: str) -> str:
    notice = next(n for n in app.notices if n.kind == kind)
    got = caller.GetNotice(pb.GetNoticeRequest(application_id=app.id, notice_id=notice.id))
    assert got.pdf[:4] == b"%PDF" and got.kind == kind and got.template_version == "1"
    return pdf_text(got.pdf)


def codes(app: pb.Application) -> set[str]:
    return {c.material_code for c in app.open_corrections}


@pytest.fixture
def clerk(as_user):
    return as_user("dongdajie.clerk")


@pytest.fixture
def township_item(catalogue_items):
    return catalogue_items["township"]


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
    text_ = notice_pdf(clerk, accepted, "acceptance")
    assert "受理通知书" in text_ and accepted.case_number in text_ and "农村村民宅基地审批" in text_
    assert "东大街街道" in text_ and "张三" in text_ and "2026年3月2日" in text_
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


def test_reject_with_reason_and_remedies(clerk, township_item, intake_db, today):
    app = clerk.SubmitApplication(submit_request(township_item))
    e = err(clerk.RejectApplication, pb.RejectApplicationRequest(application_id=app.id, reason="  "))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "reason"
    rejected = clerk.RejectApplication(pb.RejectApplicationRequest(
        application_id=app.id, reason="申请人不属于本集体经济组织成员",
        legal_basis="《中华人民共和国土地管理法》第六十二条"))
    assert rejected.status == pb.APPLICATION_STATUS_REJECTED and rejected.case_number == ""
    text_ = notice_pdf(clerk, rejected, "rejection")
    assert "不予受理通知书" in text_ and "不属于本集体经济组织成员" in text_ and "土地管理法" in text_
    assert "六十日内" in text_ and "行政复议" in text_ and "六个月内" in text_ and "行政诉讼" in text_
    assert [e[0] for e in outbox(intake_db, app.id)] == ["application_submitted", "application_rejected"]
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
        as_user, clerk, township_item, intake_db, intake_handlers, today):
    from sanji.approval.v1 import events_pb2 as approval_ev

    app = as_user("nanyuan.agent").SubmitProxyApplication(proxy_request(township_item))
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


def test_public_progress_lookup_needs_the_right_id_suffix(clerk, township_item, intake_stub, today):
    number = rid()
    app = clerk.SubmitApplication(submit_request(township_item, applicant=pb.Applicant(name="李四", id_number=number)))
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    progress = intake_stub.LookupProgress(pb.LookupProgressRequest(case_number=accepted.case_number,
                                                                   id_suffix=number[-6:].lower()), timeout=10)
    assert progress.step == "已受理，办理中" and progress.item_name == "农村村民宅基地审批"
    assert [(s.at, s.what) for s in progress.steps] == [("2026-03-02", "已收件"), ("2026-03-02", "已受理")]
    assert "李四" not in str(progress) and "M1" not in str(progress) and number not in str(progress)
    wrong = err(intake_stub.LookupProgress, pb.LookupProgressRequest(case_number=accepted.case_number,
                                                                     id_suffix="000000"), timeout=10)
    unknown = err(intake_stub.LookupProgress, pb.LookupProgressRequest(case_number="62060200100020260302999999",
                                                                       id_suffix=number[-6:]), timeout=10)
    assert wrong.code() == unknown.code() == CODE.NOT_FOUND and wrong.details() == unknown.details()
    e = err(intake_stub.LookupProgress, pb.LookupProgressRequest(case_number=accepted.case_number, id_suffix="12"),
            timeout=10)
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "id_suffix"


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


# -- village proxy ---------------------------------------------------------------------------------------
def proxy_request(item, **over) -> pb.SubmitProxyApplicationRequest:
    d = dict(idempotency_key=key("proxy"), proxy_request_id=str(uuid.uuid4()), item_id=item.id, scenario_code="S1",
             applicant=pb.Applicant(name="马奶奶", id_number=rid("19400101"), address="南苑社区 3 号楼"),
             materials=[pb.MaterialSubmission(code=c, note="代办员上门收取") for c in ("M1", "M2", "M3", "M4")])
    d.update(over)
    return pb.SubmitProxyApplicationRequest(**d)


def test_village_proxy_lands_in_the_township_and_the_village_cannot_read_it(as_user, clerk, township_item,
                                                                            intake_db, intake_handlers, today):
    agent = as_user("nanyuan.agent")
    req = proxy_request(township_item)
    app = agent.SubmitProxyApplication(req)
    assert (app.tenant, app.proxy_tenant, app.proxy_request_id) == (TOWNSHIP, VILLAGE, req.proxy_request_id)
    assert {m.supplied_via for m in app.materials} == {f"village:{VILLAGE}"} and all(m.supplied for m in app.materials)
    assert not app.history and not app.notices                     # a receipt, not the case file
    assert agent.SubmitProxyApplication(req).id == app.id          # idempotent
    # the township window sees it and accepts it without asking for the materials again
    seen = clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id))
    assert seen.proxy_tenant == VILLAGE and seen.history[0].what == "received"
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED
    assert "经代办点" in notice_pdf(clerk, accepted, "acceptance")
    # the village reads none of it: not through the API, not through SQL
    for user in ("nanyuan.admin",):
        e = err(as_user(user).GetApplication, pb.GetApplicationRequest(application_id=app.id))
        assert e.code() == CODE.NOT_FOUND
        listed = as_user(user).ListApplications(pb.ListApplicationsRequest(limit=200))
        assert app.id not in {a.id for a in listed.applications}
    with intake_db.unit_of_work(tenant=VILLAGE) as uow:
        assert uow.session.execute(text("SELECT count(*) FROM intake.applications WHERE id = :i"),
                                   {"i": app.id}).scalar() == 0
    # it hears of progress by events addressed to its own tenant
    events = outbox(intake_db, app.id, accepted.case_number)
    assert [(e[0], e[2]) for e in events] == [
        ("application_submitted", TOWNSHIP), ("proxy_application_progressed", VILLAGE),
        ("application_accepted", TOWNSHIP), ("proxy_application_progressed", VILLAGE)]
    assert events[1][1]["step"] == "submitted" and events[1][1]["proxy_request_id"] == req.proxy_request_id
    assert events[0][1]["proxy_tenant"] == VILLAGE and events[2][1]["proxy_tenant"] == VILLAGE
    assert events[3][1]["step"] == "accepted" and events[3][1]["case_number"] == accepted.case_number
    # decided and completed by the back office: the village hears of both; the pick-up goes back the same way
    report_from_approval(intake_handlers, intake_db, TOWNSHIP, accepted.case_number)
    steps = [e[1].get("step") for e in outbox(intake_db, accepted.case_number)
             if e[0] == "proxy_application_progressed"]
    assert steps[-2:] == ["decided", "result_ready"]
    done = clerk.RecordPickup(pb.RecordPickupRequest(application_id=app.id, picked_up_by="金桂芳", id_number=rid(),
                                                     channel="village", what="批准书"))
    assert done.status == pb.APPLICATION_STATUS_PICKED_UP
    last = outbox(intake_db, accepted.case_number)[-2:]
    assert [(e[0], e[2], e[1].get("step")) for e in last] == [("result_picked_up", TOWNSHIP, None),
                                                              ("proxy_application_progressed", VILLAGE, "picked_up")]


def test_village_proxy_of_a_county_item_reaches_the_county_window(as_user, catalogue_items, intake_db, today):
    app = as_user("nanyuan.agent").SubmitProxyApplication(proxy_request(catalogue_items["county"]))
    assert app.tenant == COUNTY and app.handling_unit_name == "凉州区"
    accepted = as_user("county.clerk").AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    assert accepted.status == pb.APPLICATION_STATUS_ACCEPTED and accepted.case_number.startswith("620602000000")
    e = err(as_user("dongdajie.clerk").GetApplication, pb.GetApplicationRequest(application_id=app.id))
    assert e.code() == CODE.NOT_FOUND
    # the back office opens the case with the item's own rule for its site inspection (现场踏勘)
    event = next(e for e in outbox(intake_db, accepted.case_number) if e[0] == "application_accepted")
    assert event[1]["site_inspection"] == "suspends"


def test_proxy_is_refused_outside_the_proxy_list_and_for_other_roles(as_user, clerk, catalogue_items, today):
    e = err(as_user("dazhong.agent").SubmitProxyApplication, proxy_request(catalogue_items["township"]))
    assert e.code() == CODE.FAILED_PRECONDITION and field_of(e) == "item_id"
    e = err(clerk.SubmitProxyApplication, proxy_request(catalogue_items["township"]))
    assert e.code() == CODE.PERMISSION_DENIED
    e = err(as_user("nanyuan.agent").SubmitApplication, submit_request(catalogue_items["township"]))
    assert e.code() == CODE.PERMISSION_DENIED
    e = err(as_user("nanyuan.agent").SubmitProxyApplication, proxy_request(catalogue_items["township"],
                                                                           proxy_request_id=""))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "proxy_request_id"
    # the receiving unit's records are not prefilled into a proxy submission (the receipt would show them)
    number = rid()
    clerk.SubmitApplication(submit_request(catalogue_items["township"], applicant=pb.Applicant(
        name="钱七", id_number=number, phone="13911112222")))
    e = err(as_user("nanyuan.agent").SubmitProxyApplication, proxy_request(
        catalogue_items["township"], applicant=pb.Applicant(id_number=number)))
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == "applicant.name" and "钱七" not in e.details()


# -- walls ---------------------------------------------------------------------------------------------
def test_tenant_isolation_of_reads_and_decisions(as_user, clerk, township_item, today):
    app = clerk.SubmitApplication(submit_request(township_item))
    accept = pb.AcceptApplicationRequest(application_id=app.id)
    get = pb.GetApplicationRequest(application_id=app.id)
    sibling = as_user("xidajie.clerk")
    for call in (lambda: sibling.GetApplication(get), lambda: sibling.AcceptApplication(accept),
                 lambda: sibling.RejectApplication(pb.RejectApplicationRequest(application_id=app.id, reason="x")),
                 lambda: sibling.RequestCorrection(pb.RequestCorrectionRequest(
                     application_id=app.id, items=[pb.CorrectionItem(material_code="M1")]))):
        assert err(call).code() == CODE.NOT_FOUND
    assert app.id not in {a.id for a in sibling.ListApplications(pb.ListApplicationsRequest(limit=200)).applications}
    county_clerk = as_user("county.clerk")                     # the county window is not a supervisor
    assert err(county_clerk.GetApplication, get).code() == CODE.NOT_FOUND
    assert err(county_clerk.AcceptApplication, accept).code() == CODE.NOT_FOUND
    assert err(as_user("wenchuan.admin").GetApplication, get).code() == CODE.NOT_FOUND
    supervisor = as_user("county.supervisor")
    assert supervisor.GetApplication(get).id == app.id
    subtree = supervisor.ListApplications(pb.ListApplicationsRequest(subtree=True, limit=200))
    assert app.id in {a.id for a in subtree.applications} and all(a.tenant.startswith(COUNTY)
                                                                  for a in subtree.applications)
    own = supervisor.ListApplications(pb.ListApplicationsRequest(limit=200))
    assert app.id not in {a.id for a in own.applications}
    e = err(supervisor.AcceptApplication, accept)
    assert e.code() == CODE.PERMISSION_DENIED                  # read-only supervision
    e = err(clerk.ListApplications, pb.ListApplicationsRequest(subtree=True))
    assert e.code() == CODE.PERMISSION_DENIED
    mine = clerk.ListApplications(pb.ListApplicationsRequest(status=pb.APPLICATION_STATUS_RECEIVED, limit=200))
    assert app.id in {a.id for a in mine.applications}
    assert all(a.tenant == TOWNSHIP and a.status == pb.APPLICATION_STATUS_RECEIVED for a in mine.applications)


def test_rls_alone_walls_every_intake_table(clerk, township_item, intake_db, today):
    app = clerk.AcceptApplication(pb.AcceptApplicationRequest(
        application_id=clerk.SubmitApplication(submit_request(township_item)).id))
    with intake_db.unit_of_work(tenant=SIBLING) as uow:
        s = uow.session
        for table, col in (("applications", "id"), ("notices", "application_id"), ("deadlines", "application_id")):
            assert s.execute(text(f"SELECT count(*) FROM intake.{table} WHERE {col} = :i"), {"i": app.id}).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM intake.applicant_profiles WHERE tenant_code = :t"),
                         {"t": TOWNSHIP}).scalar() == 0
        assert s.execute(text("UPDATE intake.applications SET status = 'rejected' WHERE id = :i"),
                         {"i": app.id}).rowcount == 0
        with pytest.raises(Exception, match="row-level security"):
            s.execute(text("INSERT INTO intake.applicant_profiles (tenant_code, id_number, data)"
                           " VALUES (:t, 'x', '{}')"), {"t": TOWNSHIP})
    with intake_db.unit_of_work() as uow:                       # public: no application at all
        assert uow.session.execute(text("SELECT count(*) FROM intake.applications")).scalar() == 0
    with intake_db.engine.connect() as c:                        # no tenant bound: nothing
        assert c.execute(text("SELECT count(*) FROM intake.applications")).scalar() == 0
        owners = set(c.execute(text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'intake'")).scalars())
        assert owners == {"sanji_owner"}
        forced = set(c.execute(text("SELECT relname FROM pg_class WHERE relnamespace = 'intake'::regnamespace"
                                    " AND relrowsecurity AND relforcerowsecurity")).scalars())
        assert {"applications", "deadlines", "notices", "applicant_profiles"} <= forced
    with intake_db.unit_of_work(tenant=TOWNSHIP) as uow:
        assert uow.session.execute(text("SELECT count(*) FROM intake.applications WHERE id = :i"),
                                   {"i": app.id}).scalar() == 1


def test_case_number_sequences_are_drawn_only_for_the_bound_tenant(clerk, township_item, intake_db, today):
    number = clerk.AcceptApplication(pb.AcceptApplicationRequest(
        application_id=clerk.SubmitApplication(submit_request(township_item)).id)).case_number
    year = int(number[12:16])                                  # 12-digit unit code, then the date
    seq_name = f"intake.case_seq_{TOWNSHIP}_{year}"
    for bound, y, refusal in ((SIBLING, year, "bound to"), (TOWNSHIP, 1999, "no case-number sequence")):
        with intake_db.unit_of_work(tenant=bound) as uow:
            with pytest.raises(Exception, match=refusal):
                uow.session.execute(text("SELECT intake.next_case_sequence(:t, :y)"), {"t": TOWNSHIP, "y": y})
    with intake_db.unit_of_work(tenant=TOWNSHIP) as uow:      # the application role cannot touch it directly
        with pytest.raises(Exception, match="permission denied"):
            uow.session.execute(text(f"SELECT nextval('{seq_name}')"))
    with intake_db.unit_of_work(tenant=TOWNSHIP) as uow:      # the next draw follows the last number given
        nxt = uow.session.execute(text("SELECT intake.next_case_sequence(:t, :y)"),
                                  {"t": TOWNSHIP, "y": year}).scalar_one()
        assert nxt == int(number[-6:]) + 1
        uow.rollback()


# -- bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, field", [
    (lambda r, items: setattr(r, "item_id", str(uuid.uuid4())), "item_id"),
    (lambda r, items: setattr(r, "item_id", "not-a-uuid"), "item_id"),
    (lambda r, items: setattr(r, "scenario_code", "S9"), "scenario_code"),
    (lambda r, items: r.materials[1].MergeFrom(pb.MaterialSubmission(code="X1")), "materials[1].code"),
    (lambda r, items: setattr(r.applicant, "id_number", r.applicant.id_number[:17] + (
        "0" if r.applicant.id_number[17] != "0" else "1")), "applicant.id_number"),
    (lambda r, items: setattr(r.applicant, "id_number", "62060219800101"), "applicant.id_number"),
    (lambda r, items: setattr(r.applicant, "id_number", "620602198002300012"), "applicant.id_number"),
    (lambda r, items: setattr(r, "idempotency_key", ""), "idempotency_key"),
    (lambda r, items: setattr(r, "channel", pb.CHANNEL_UNSPECIFIED), "channel"),
    (lambda r, items: (setattr(r, "item_id", items["company"].id),
                       r.applicant.CopyFrom(pb.Applicant(name="凉州某公司", id_number=uscc()[:17] + "I"))),
     "applicant.id_number"),
    (lambda r, items: setattr(r, "item_id", items["company"].id), "applicant.kind"),
])
def test_bad_submissions_are_refused_naming_the_field_and_nothing_is_written(clerk, catalogue_items, intake_db, today,
                                                                             change, field):
    req = submit_request(catalogue_items["township"])
    change(req, catalogue_items)
    before = outbox_count(intake_db)
    e = err(clerk.SubmitApplication, req)
    assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == field, (e.details(), field_of(e))
    assert not e.details().isascii()
    assert rows_with_key(intake_db, TOWNSHIP, req.idempotency_key) == 0 and outbox_count(intake_db) == before


def test_bad_input_on_every_other_entrypoint(as_user, clerk, catalogue_items, intake_stub, today):
    app = clerk.SubmitApplication(submit_request(catalogue_items["township"], materials=("M1", "M3", "M4")))
    cases = [
        (lambda: clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id="x")), "application_id"),
        (lambda: clerk.RequestCorrection(pb.RequestCorrectionRequest(application_id=app.id)), "items"),
        (lambda: clerk.RequestCorrection(pb.RequestCorrectionRequest(application_id=app.id, items=[
            pb.CorrectionItem(material_code="Z9")])), "items[0].material_code"),
        (lambda: clerk.SupplyMaterials(pb.SupplyMaterialsRequest(application_id=app.id, materials=[
            pb.MaterialSubmission(code="Z9")])), "materials[0].code"),
        (lambda: clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id, waived=[
            pb.WaivedMaterial(material_code="M2", promised_by="下周")])), "waived[0].promised_by"),
        (lambda: clerk.GetApplicantProfile(pb.GetApplicantProfileRequest()), "id_number"),
        (lambda: clerk.ListApplications(pb.ListApplicationsRequest(limit=-1)), "limit"),
        (lambda: clerk.GetNotice(pb.GetNoticeRequest(application_id=app.id, notice_id="n")), "notice_id"),
        (lambda: intake_stub.LookupProgress(pb.LookupProgressRequest(id_suffix="123456"), timeout=10), "case_number"),
        (lambda: as_user("nanyuan.agent").SubmitProxyApplication(proxy_request(catalogue_items["township"],
                                                                               scenario_code="S7")), "scenario_code"),
    ]
    for call, field in cases:
        e = err(call)
        assert e.code() == CODE.INVALID_ARGUMENT and field_of(e) == field, (field, e.details())
    assert clerk.GetApplication(pb.GetApplicationRequest(application_id=app.id)).status == \
        pb.APPLICATION_STATUS_RECEIVED
    # an item outside the unit's list is refused with the catalogue's reason
    e = err(as_user("xidajie.clerk").SubmitApplication, submit_request(catalogue_items["township"]))
    assert e.code() == CODE.FAILED_PRECONDITION and field_of(e) == "item_id" and "清单" in e.details()


# -- concurrency ----------------------------------------------------------------------------------------------
def test_fifty_clerks_accepting_at_once_get_fifty_consecutive_case_numbers(as_user, catalogue_items, intake_stub,
                                                                          tokens, today):
    county = as_user("county.clerk")
    apps = [county.SubmitApplication(submit_request(catalogue_items["county"])) for _ in range(50)]
    md = (("authorization", f"Bearer {tokens['county.clerk']}"),)
    barrier = threading.Barrier(50)
    numbers: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def accept(app_id: str) -> None:
        barrier.wait()
        try:
            r = intake_stub.AcceptApplication(pb.AcceptApplicationRequest(application_id=app_id), metadata=md,
                                              timeout=60)
            with lock:
                numbers.append(r.case_number)
        except BaseException as exc:  # noqa: BLE001 — collected and asserted below
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=accept, args=(a.id,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len(numbers) == len(set(numbers)) == 50
    seqs = sorted(int(n[-6:]) for n in numbers)
    assert seqs == list(range(seqs[0], seqs[0] + 50))
    assert all(n[:20] == "62060200000020260302" for n in numbers)


def test_a_company_applies_with_its_unified_social_credit_code(clerk, as_user, catalogue_items, today):
    code = uscc()
    app = clerk.SubmitApplication(submit_request(catalogue_items["company"], applicant=pb.Applicant(
        name="凉州区某某宾馆有限公司", id_number=code.lower(), organisation="法定代表人 赵某")))
    assert (app.applicant.kind, app.applicant.id_type, app.applicant.id_number) == ("legal_person", "uscc", code)
    accepted = clerk.AcceptApplication(pb.AcceptApplicationRequest(application_id=app.id))
    e = err(as_user("xidajie.clerk").GetNotice, pb.GetNoticeRequest(application_id=app.id,
                                                                     notice_id=accepted.notices[0].id))
    assert e.code() == CODE.NOT_FOUND
    assert "凉州区某某宾馆有限公司" in notice_pdf(clerk, accepted, "acceptance")


def test_the_sweeper_worker_starts_sweeps_and_stops(intake_handlers, today):
    from services.intake.sweeper import DeadlineSweeper

    sweeper = DeadlineSweeper(intake_handlers, interval_seconds=3600)
    assert sweeper.run_once().failed == []
    sweeper.start()
    sweeper.stop()
    assert sweeper._thread is not None and not sweeper._thread.is_alive()


def test_the_same_key_sent_twice_at_once_makes_one_application(clerk, township_item, intake_db, today):
    req = submit_request(township_item)
    barrier = threading.Barrier(4)
    ids: list[str] = []

    def send() -> None:
        barrier.wait()
        ids.append(clerk.SubmitApplication(req).id)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 4 and len(set(ids)) == 1
    assert rows_with_key(intake_db, TOWNSHIP, req.idempotency_key) == 1
    assert [e[0] for e in outbox(intake_db, ids[0])] == ["application_submitted"]
