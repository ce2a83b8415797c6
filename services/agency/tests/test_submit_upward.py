"""A village proxy reaches the county window through the real intake service and comes back to the
resident through intake's real outbox, relay, RabbitMQ and the agency's consumer."""

from __future__ import annotations

import grpc
from sanji.agency.v1 import agency_pb2 as pb
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.intake.v1 import intake_pb2 as ipb
from sqlalchemy import text

from services.agency.tests.conftest import (
    COUNTY,
    TOWNSHIP,
    VILLAGE,
    collected_at_the_village,
    err,
    field_of,
    proxy_request,
    publish_item,
)
from shared.db import relay_transaction
from shared.idnumbers import uscc_check_char
from tests.support import report_from_approval


def applications_seen_by(intake_db, tenant: str, application_id: str) -> int:
    with intake_db.unit_of_work(tenant=tenant) as uow:
        return uow.session.execute(text("SELECT count(*) FROM intake.applications WHERE id = :i"),
                                   {"i": application_id}).scalar()


def test_proxy_reaches_the_county_window_and_is_accepted_without_resubmitting(
        as_, intake_as, county_item, intake_db, intake_handlers, pipeline, agency_db):
    r = collected_at_the_village(as_, county_item)
    r = as_("nanyuan.agent").SubmitUpward(pb.SubmitUpwardRequest(
        request_id=r.id, materials=[ipb.MaterialSubmission(code="M3", note="村里复印")], form={"bank": "农商银行"}))
    assert (r.status, r.handling_tenant) == (pb.PROXY_REQUEST_STATUS_SUBMITTED, COUNTY)
    assert r.application_id and r.submitted_at
    assert [m.code for m in r.materials] == ["M1", "M2", "M3"]
    assert r.progress[-1].step == "submitted" and "无需再次提交材料" in r.progress[-1].text

    # the application belongs to the county: its window sees it with the village's materials ...
    app = intake_as("county.clerk").GetApplication(ipb.GetApplicationRequest(application_id=r.application_id))
    assert (app.tenant, app.proxy_tenant, app.proxy_request_id) == (COUNTY, VILLAGE, r.id)
    assert app.applicant.id_number == r.resident.id_number and app.applicant.name == "张桂兰"
    assert {m.code: m.supplied for m in app.materials} == {"M1": True, "M2": True, "M3": True}
    assert all(m.supplied_via == f"village:{VILLAGE}" for m in app.materials)
    # ... and the village never reads the county's rows (its own admin, or raw SQL under its tenant)
    e = err(intake_as("nanyuan.admin").GetApplication, ipb.GetApplicationRequest(application_id=r.application_id))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    assert applications_seen_by(intake_db, VILLAGE, r.application_id) == 0
    assert applications_seen_by(intake_db, COUNTY, r.application_id) == 1

    # a retry never makes a second application
    again = as_("nanyuan.agent").SubmitUpward(pb.SubmitUpwardRequest(request_id=r.id))
    assert again.application_id == r.application_id
    with intake_db.unit_of_work(tenant=COUNTY) as uow:
        assert uow.session.execute(text("SELECT count(*) FROM intake.applications WHERE proxy_request_id = :r"),
                                   {"r": r.id}).scalar() == 1

    def now(request_id=r.id) -> pb.ProxyRequest:
        return as_("nanyuan.agent").GetProxyRequest(pb.GetProxyRequestRequest(request_id=request_id))

    pipeline.deliver(until=lambda: pipeline.consumer.stats.handled >= 1)  # intake's "submitted": known here already
    r = now()
    assert r.status == pb.PROXY_REQUEST_STATUS_SUBMITTED and [n.step for n in r.progress].count("submitted") == 1

    # the county window accepts as it is: no material asked again
    accepted = intake_as("county.clerk").AcceptApplication(ipb.AcceptApplicationRequest(
        application_id=r.application_id))
    assert accepted.status == ipb.APPLICATION_STATUS_ACCEPTED and accepted.case_number
    pipeline.deliver(until=lambda: now().status == pb.PROXY_REQUEST_STATUS_ACCEPTED)
    r = now()
    assert (r.status, r.case_number) == (pb.PROXY_REQUEST_STATUS_ACCEPTED, accepted.case_number)
    assert accepted.case_number in r.progress[-1].text

    # the back office decides and completes (approval's events reach intake): the resident hears of both
    report_from_approval(intake_handlers, intake_db, COUNTY, accepted.case_number)
    pipeline.deliver(until=lambda: now().status == pb.PROXY_REQUEST_STATUS_RESULT_READY)
    r = now()
    assert [n.step for n in r.progress][-2:] == ["decided", "result_ready"]
    assert "准予许可" in r.progress[-2].text and "可领取" in r.progress[-1].text

    # the result comes back through the village point
    intake_as("county.clerk").RecordPickup(ipb.RecordPickupRequest(
        application_id=r.application_id, picked_up_by="陈代办", id_number="11010519491231002X", channel="village",
        what="高龄津贴核定通知书"))
    pipeline.deliver(until=lambda: now().status == pb.PROXY_REQUEST_STATUS_DELIVERED)
    r = now()
    assert r.status == pb.PROXY_REQUEST_STATUS_DELIVERED and "已送达" in r.progress[-1].text
    with relay_transaction(agency_db.engine) as c:
        done = c.execute(text("SELECT tenant, body::jsonb ->> 'case_number' FROM agency.outbox"
                              " WHERE routing_key = 'proxy_completed' AND body::jsonb ->> 'request_id' = :r"),
                         {"r": r.id}).all()
    assert done == [(VILLAGE, accepted.case_number)]


def test_a_correction_request_reaches_the_resident_with_the_materials_named(as_, intake_as, township_item,
                                                                            pipeline):
    r = collected_at_the_village(as_, township_item)
    r = as_("nanyuan.agent").SubmitUpward(pb.SubmitUpwardRequest(request_id=r.id))
    assert r.handling_tenant == TOWNSHIP
    intake_as("dongdajie.clerk").RequestCorrection(ipb.RequestCorrectionRequest(
        application_id=r.application_id, items=[ipb.CorrectionItem(material_code="M3", problem="缺少")]))
    pipeline.deliver(until=lambda: as_("nanyuan.agent").GetProxyRequest(
        pb.GetProxyRequestRequest(request_id=r.id)).status == pb.PROXY_REQUEST_STATUS_CORRECTION)
    r = as_("nanyuan.agent").GetProxyRequest(pb.GetProxyRequestRequest(request_id=r.id))
    assert r.status == pb.PROXY_REQUEST_STATUS_CORRECTION
    assert r.progress[-1].step == "correction_requested" and "银行卡（折）复印件" in r.progress[-1].text


def test_intake_refusals_reach_the_agent_with_the_field_and_write_nothing(as_, catalogue_as, agency_db):
    """The county cancels the item between the request and the submission: intake refuses it
    (清单之外无许可), the agent hears why, and the village's record is unchanged."""
    item = publish_item(catalogue_as, "临时生活补助申请")
    catalogue_as("county.admin").DelegateItem(cpb.DelegateItemRequest(
        item_id=item.id, target_tenants=[VILLAGE], kind=cpb.LISTING_KIND_PROXY, reason="村级代办"))
    r = as_("nanyuan.agent").RequestProxy(proxy_request(item))
    as_("nanyuan.agent").AssignAgent(pb.AssignAgentRequest(request_id=r.id))
    catalogue_as("county.admin").CancelItem(cpb.CancelItemRequest(item_id=item.id, reason="并入其他事项"))
    e = err(as_("nanyuan.agent").SubmitUpward, pb.SubmitUpwardRequest(request_id=r.id))
    assert e.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT)
    assert field_of(e) == "item_id" and not e.details().isascii()
    after = as_("nanyuan.agent").GetProxyRequest(pb.GetProxyRequestRequest(request_id=r.id))
    assert (after.status, after.application_id, after.submitted_at) == (pb.PROXY_REQUEST_STATUS_ASSIGNED, "", "")
    assert [n.step for n in after.progress] == ["requested", "assigned"]


def test_a_township_centre_forwards_an_enterprise_request_to_the_deciding_county(as_, intake_as, catalogue_as):
    """帮办代办 at every level, for enterprises as well as residents (issue 21 item 1): seed 001 “由乡镇（街道）
    民生服务中心或村（社区）免费代办”; seed 004 “为企业和群众提供免费的全过程代理帮办服务”."""
    item = publish_item(catalogue_as, "食品生产许可", item_type="01", targets=["legal_person"])
    catalogue_as("county.admin").DelegateItem(cpb.DelegateItemRequest(
        item_id=item.id, target_tenants=[TOWNSHIP], kind=cpb.LISTING_KIND_PROXY, reason="街道帮办代办"))
    agent = as_("dongdajie.agent")
    code = "91620602MA7ABCDE1"
    firm = {"name": "武威市凉州区利民食品有限公司", "id_number": code + uscc_check_char(code), "kind": "legal_person"}
    e = err(agent.RequestProxy, proxy_request(item, group="elderly", door_to_door=False, resident=firm))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e) == "special_group"
    r = agent.RequestProxy(proxy_request(item, group="none", door_to_door=False, resident=firm))
    assert (r.tenant, r.handling_tenant, r.resident.kind) == (TOWNSHIP, COUNTY, "legal_person")
    r = agent.AssignAgent(pb.AssignAgentRequest(request_id=r.id))
    r = agent.SubmitUpward(pb.SubmitUpwardRequest(request_id=r.id, materials=[ipb.MaterialSubmission(code="M1"),
                                                                              ipb.MaterialSubmission(code="M2")]))
    assert (r.status, r.handling_tenant) == (pb.PROXY_REQUEST_STATUS_SUBMITTED, COUNTY)
    app = intake_as("county.clerk").GetApplication(ipb.GetApplicationRequest(application_id=r.application_id))
    assert (app.tenant, app.proxy_tenant, app.applicant.kind, app.applicant.id_type) == (
        COUNTY, TOWNSHIP, "legal_person", "uscc")
    # the county's own 帮办代办 team takes an ordinary request for an item its window decides
    team = as_("county.agent")
    own = team.RequestProxy(proxy_request(item, group="none", door_to_door=False, resident=firm))
    own = team.AssignAgent(pb.AssignAgentRequest(request_id=own.id))
    own = team.SubmitUpward(pb.SubmitUpwardRequest(request_id=own.id, materials=[ipb.MaterialSubmission(code="M1")]))
    assert (own.status, own.handling_tenant, own.key_project) == (pb.PROXY_REQUEST_STATUS_SUBMITTED, COUNTY, False)


def test_a_key_project_is_submitted_by_its_named_county_agent(as_, intake_as, county_item):
    agent = as_("county.agent")
    r = agent.RequestProxy(proxy_request(county_item, group="none", key_project=True, project_name="凉州区冷链物流园"))
    # nothing handed over yet: the chain is empty for the owner, and unknown to anyone else
    assert list(agent.CustodyChain(pb.CustodyChainRequest(request_id=r.id)).handovers) == []
    r = agent.SubmitUpward(pb.SubmitUpwardRequest(request_id=r.id, materials=[ipb.MaterialSubmission(code="M1")]))
    assert (r.status, r.handling_tenant) == (pb.PROXY_REQUEST_STATUS_SUBMITTED, COUNTY)
    app = intake_as("county.clerk").GetApplication(ipb.GetApplicationRequest(application_id=r.application_id))
    assert (app.tenant, app.proxy_tenant, app.proxy_request_id) == (COUNTY, COUNTY, r.id)
    assert [(m.code, m.supplied_via) for m in app.materials if m.supplied] == [("M1", f"agency:{COUNTY}")]
    assert list(agent.CustodyChain(pb.CustodyChainRequest(application_id=r.application_id)).handovers) == []
