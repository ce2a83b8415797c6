"""The agency through its gRPC API: real PostgreSQL, real tokens, the real catalogue server."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import grpc
import pytest
from sanji.agency.v1 import agency_pb2 as pb
from sanji.intake.v1 import intake_pb2
from sqlalchemy import text

from services.agency.tests.conftest import COUNTY, SIBLING_VILLAGE, VILLAGE, err, field_of, proxy_request, today
from shared.db import relay_transaction

INVALID, NOT_FOUND, DENIED = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                              grpc.StatusCode.PERMISSION_DENIED)
FAILED = grpc.StatusCode.FAILED_PRECONDITION


def outbox(db, correlation_id: str) -> list[tuple[str, dict, str]]:
    with relay_transaction(db.engine) as c:
        rows = c.execute(text("SELECT routing_key, body, tenant FROM agency.outbox WHERE correlation_id = :i"
                              " ORDER BY seq"), {"i": correlation_id}).all()
    return [(r[0], json.loads(r[1]), r[2]) for r in rows]


def count_rows(db, tenant: str, table: str = "proxy_requests") -> int:
    with db.unit_of_work(tenant=tenant) as uow:
        return uow.session.execute(text(f"SELECT count(*) FROM agency.{table}")).scalar()


def soon(days: int = 1) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


# ------------------------------------------------------------------------------------------------
def test_a_village_point_records_a_free_proxy_request(as_, county_item, agency_db):
    r = as_("nanyuan.agent").RequestProxy(proxy_request(county_item))
    assert (r.tenant, r.status, r.special_group, r.door_to_door) == (
        VILLAGE, pb.PROXY_REQUEST_STATUS_REQUESTED, "elderly", True)
    assert r.free_of_charge and not r.key_project
    assert (r.item_name, r.handling_tenant, r.scenario_code) == ("高龄津贴申领", COUNTY, "S1")
    assert r.handling_unit_name == "凉州区"
    assert r.authorisation.signed_on == today().isoformat() and r.created_by == "nanyuan.agent"
    [note] = r.progress
    assert note.step == "requested" and "免费" in note.text and "上门" in note.text
    [(kind, body, tenant)] = outbox(agency_db, r.id)
    assert (kind, tenant) == ("proxy_requested", VILLAGE)
    assert body["request_id"] == r.id and body["handling_tenant"] == COUNTY and body["door_to_door"] is True


def test_the_same_idempotency_key_gives_the_same_request_never_a_second(as_, county_item, agency_db):
    req = proxy_request(county_item, key=f"retry-{uuid.uuid4()}")
    before = count_rows(agency_db, VILLAGE)
    first = as_("nanyuan.agent").RequestProxy(req)
    again = as_("nanyuan.admin").RequestProxy(req)
    assert again.id == first.id and count_rows(agency_db, VILLAGE) == before + 1
    changed = pb.RequestProxyRequest()
    changed.CopyFrom(req)
    changed.resident.name = "李四"
    e = err(as_("nanyuan.agent").RequestProxy, changed)
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS and field_of(e) == "idempotency_key"
    # another village may use the same key for its own request
    other = as_("dazhong.agent").RequestProxy(req)
    assert other.id != first.id and other.tenant == SIBLING_VILLAGE


def test_assign_schedule_and_record_a_door_to_door_visit(as_, county_item, agency_db):
    r = as_("nanyuan.agent").RequestProxy(proxy_request(county_item, group="disabled"))
    e = err(as_("nanyuan.agent").AssignAgent, pb.AssignAgentRequest(request_id=r.id, agent="nanyuan.agent2"))
    assert e.code() == DENIED and "指派自己" in e.details()
    e = err(as_("nanyuan.agent").ScheduleVisit, pb.ScheduleVisitRequest(request_id=r.id, scheduled_for=soon()))
    assert e.code() == FAILED and "指派代办员" in e.details()

    r = as_("nanyuan.agent").AssignAgent(pb.AssignAgentRequest(request_id=r.id))
    assert (r.status, r.agent, r.agent_name) == (pb.PROXY_REQUEST_STATUS_ASSIGNED, "nanyuan.agent", "陈代办")
    r = as_("nanyuan.admin").AssignAgent(pb.AssignAgentRequest(request_id=r.id, agent="nanyuan.agent2",
                                                               agent_name="周代办"))
    assert (r.agent, r.agent_name) == ("nanyuan.agent2", "周代办")
    # only the assigned agent (or the admin) schedules
    e = err(as_("nanyuan.agent").ScheduleVisit, pb.ScheduleVisitRequest(request_id=r.id, scheduled_for=soon()))
    assert e.code() == DENIED
    e = err(as_("nanyuan.agent2").ScheduleVisit, pb.ScheduleVisitRequest(
        request_id=r.id, scheduled_for=(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()))
    assert e.code() == INVALID and field_of(e) == "scheduled_for"
    r = as_("nanyuan.agent2").ScheduleVisit(pb.ScheduleVisitRequest(request_id=r.id, scheduled_for=soon(),
                                                                    purpose="上门收取身份证、户口簿原件"))
    [visit] = r.visits
    assert visit.address == "凉州区东大街街道南苑社区3号楼2单元" and not visit.done_at
    assert visit.scheduled_by == "nanyuan.agent2"

    bad = pb.RecordVisitRequest(request_id=r.id, visit_id=visit.id, outcome="已上门",
                                materials=[intake_pb2.MaterialSubmission(code="M1"),
                                           intake_pb2.MaterialSubmission(code="M9")])
    e = err(as_("nanyuan.agent2").RecordVisit, bad)
    assert e.code() == INVALID and field_of(e) == "materials[1].code"
    assert not as_("nanyuan.agent2").GetProxyRequest(pb.GetProxyRequestRequest(request_id=r.id)).visits[0].done_at
    e = err(as_("nanyuan.agent2").RecordVisit, pb.RecordVisitRequest(request_id=r.id, visit_id=visit.id))
    assert e.code() == INVALID and field_of(e) == "outcome"

    r = as_("nanyuan.agent2").RecordVisit(pb.RecordVisitRequest(
        request_id=r.id, visit_id=visit.id, outcome="已上门核验身份，收取材料",
        materials=[intake_pb2.MaterialSubmission(code="M1", note="原件已核验"),
                   intake_pb2.MaterialSubmission(code="M2")]))
    [visit] = r.visits
    assert visit.done_at and visit.by == "nanyuan.agent2" and visit.by_name == "周代办"
    assert [(m.code, m.supplied, m.supplied_via) for m in r.materials] == [
        ("M1", True, f"village:{VILLAGE}"), ("M2", True, f"village:{VILLAGE}")]
    assert [n.step for n in r.progress] == ["requested", "assigned", "assigned", "visit_scheduled", "visit_done"]
    assert "居民身份证、户口簿" in r.progress[-1].text
    e = err(as_("nanyuan.agent2").RecordVisit, pb.RecordVisitRequest(request_id=r.id, visit_id=visit.id,
                                                                     outcome="again"))
    assert e.code() == FAILED and field_of(e) == "visit_id"
    assert [k for k, _, _ in outbox(agency_db, r.id)] == ["proxy_requested", "agent_assigned", "agent_assigned"]


def test_anyone_may_book_a_visit_free_only_for_special_groups(as_, county_item):
    """Seeds 001/003: 上门服务 is a general service; “无偿的上门代办服务” for 特殊人群 only (issue 21 item 2)."""
    r = as_("nanyuan.agent").RequestProxy(proxy_request(county_item, group="none", door_to_door=True))
    assert r.door_to_door and not r.door_to_door_free and r.free_of_charge       # the proxy itself stays free
    assert "事先告知" in r.progress[0].text
    as_("nanyuan.agent").AssignAgent(pb.AssignAgentRequest(request_id=r.id))
    r = as_("nanyuan.agent").ScheduleVisit(pb.ScheduleVisitRequest(request_id=r.id, scheduled_for=soon(),
                                                                   address="南苑社区5号楼"))
    assert len(r.visits) == 1
    elderly = as_("nanyuan.agent").RequestProxy(proxy_request(county_item, group="elderly", door_to_door=True))
    assert elderly.door_to_door_free and "免费上门" in elderly.progress[0].text


def test_visits_are_only_for_door_to_door_requests(as_, county_item):
    r = as_("nanyuan.agent").RequestProxy(proxy_request(county_item, group="none", door_to_door=False))
    as_("nanyuan.agent").AssignAgent(pb.AssignAgentRequest(request_id=r.id))
    e = err(as_("nanyuan.agent").ScheduleVisit, pb.ScheduleVisitRequest(request_id=r.id, scheduled_for=soon()))
    assert e.code() == FAILED and "上门" in e.details()


def test_key_projects_get_full_process_agency_with_a_named_county_agent(as_, county_item, agency_db):
    req = proxy_request(county_item, group="none", door_to_door=True, key_project=True,
                        project_name="凉州区光伏产业园一期")
    r = as_("county.agent").RequestProxy(req)
    assert (r.tenant, r.key_project, r.project_name, r.status) == (COUNTY, True, "凉州区光伏产业园一期",
                                                                       pb.PROXY_REQUEST_STATUS_ASSIGNED)
    assert (r.agent, r.agent_name, r.handling_tenant) == ("county.agent", "孙重点", COUNTY)
    assert r.free_of_charge and "全程免费" in r.progress[0].text
    r = as_("county.agent").ScheduleVisit(pb.ScheduleVisitRequest(request_id=r.id, scheduled_for=soon(2),
                                                                  address="凉州区光伏产业园项目部"))
    assert len(r.visits) == 1
    assert [k for k, _, _ in outbox(agency_db, r.id)] == ["proxy_requested", "agent_assigned"]
    # a village cannot call its request a key project; the county's admin is not the named agent;
    # the county takes no ordinary proxy requests
    e = err(as_("nanyuan.agent").RequestProxy, proxy_request(county_item, key_project=True, project_name="x"))
    assert e.code() == INVALID and field_of(e) == "key_project"
    e = err(as_("county.admin").RequestProxy, proxy_request(county_item, key_project=True, project_name="x"))
    assert e.code() == DENIED
    ordinary = as_("county.agent").RequestProxy(proxy_request(county_item))       # the county's 帮办代办 team
    assert (ordinary.tenant, ordinary.key_project, ordinary.handling_tenant) == (COUNTY, False, COUNTY)
    e = err(as_("county.agent").RequestProxy, proxy_request(county_item, key_project=True))
    assert e.code() == INVALID and field_of(e) == "project_name"
    # the village does not see the county's key project
    assert err(as_("nanyuan.agent").GetProxyRequest, pb.GetProxyRequestRequest(request_id=r.id)).code() == NOT_FOUND


@pytest.mark.parametrize("change, field", [
    ({"resident": {"name": "张桂兰", "id_number": "620602194501011230"}}, "resident.id_number"),
    ({"resident": {"name": "张桂兰", "id_number": "62060219450101"}}, "resident.id_number"),
    ({"resident": {"name": "", "id_number": "11010519491231002X"}}, "resident.name"),
    ({"special_group": "veteran"}, "special_group"),
    ({"authorisation": {}}, "authorisation"),
    ({"authorisation": {"scope": "代办", "document_ref": "WT-1"}}, "authorisation.signed_on"),
    ({"authorisation": {"signed_on": "2999-01-01", "scope": "代办", "document_ref": "WT-1"}},
     "authorisation.signed_on"),
    ({"authorisation": {"signed_on": "2026-01-01", "document_ref": "WT-1"}}, "authorisation.scope"),
    ({"authorisation": {"signed_on": "2026-01-01", "scope": "代办"}}, "authorisation.document_ref"),
    ({"scenario_code": "S9"}, "scenario_code"),
    ({"scenario_code": ""}, "scenario_code"),
    ({"item_id": "not-a-uuid"}, "item_id"),
    ({"item_id": str(uuid.uuid4())}, "item_id"),
    ({"idempotency_key": " "}, "idempotency_key"),
])
def test_bad_requests_are_refused_naming_the_field_and_write_nothing(as_, county_item, agency_db, change, field):
    before = count_rows(agency_db, VILLAGE)
    req = proxy_request(county_item, **{k: v for k, v in change.items() if k != "idempotency_key"})
    if "idempotency_key" in change:
        req.idempotency_key = change["idempotency_key"]
    e = err(as_("nanyuan.agent").RequestProxy, req)
    assert e.code() == INVALID, e.details()
    assert field_of(e) == field
    assert not e.details().isascii()
    assert count_rows(agency_db, VILLAGE) == before


def test_an_item_outside_the_village_proxy_list_is_refused(as_, unlisted_item, township_item, agency_db):
    before = count_rows(agency_db, VILLAGE)
    e = err(as_("nanyuan.agent").RequestProxy, proxy_request(unlisted_item))
    assert e.code() == INVALID and field_of(e) == "item_id" and "清单" in e.details()
    # listed for 南苑 only: its sibling village cannot take it in
    e = err(as_("dazhong.agent").RequestProxy, proxy_request(township_item))
    assert e.code() == INVALID and field_of(e) == "item_id"
    assert count_rows(agency_db, VILLAGE) == before
    r = as_("nanyuan.agent").RequestProxy(proxy_request(township_item))
    assert r.handling_tenant == "620602001" and r.handling_unit_name == "东大街街道"


def test_roles_and_unit_kinds_are_checked(as_, county_item):
    for user in ("dongdajie.clerk", "county.supervisor"):
        assert err(as_(user).RequestProxy, proxy_request(county_item)).code() == DENIED
    # a township centre takes requests too (issue 21 item 1), but only for items it handles or lists for 代办
    e = err(as_("dongdajie.agent").RequestProxy, proxy_request(county_item))
    assert e.code() == INVALID and field_of(e) == "item_id"


# -- walls ---------------------------------------------------------------------------------------
def test_a_village_sees_only_its_own_proxy_requests(as_, county_item):
    mine = as_("nanyuan.agent").RequestProxy(proxy_request(county_item))
    theirs = as_("dazhong.agent").RequestProxy(proxy_request(county_item))
    listed = {r.id: r.tenant for r in as_("nanyuan.agent").ListProxyRequests(
        pb.ListProxyRequestsRequest(limit=200)).requests}
    assert mine.id in listed and theirs.id not in listed and set(listed.values()) == {VILLAGE}
    sibling = as_("dazhong.agent")
    for call in (lambda: sibling.GetProxyRequest(pb.GetProxyRequestRequest(request_id=mine.id)),
                 lambda: sibling.AssignAgent(pb.AssignAgentRequest(request_id=mine.id)),
                 lambda: sibling.ScheduleVisit(pb.ScheduleVisitRequest(request_id=mine.id, scheduled_for=soon())),
                 lambda: sibling.SubmitUpward(pb.SubmitUpwardRequest(request_id=mine.id)),
                 lambda: sibling.RecordVisit(pb.RecordVisitRequest(request_id=mine.id, visit_id=str(uuid.uuid4()),
                                                                   outcome="x"))):
        assert err(call).code() == NOT_FOUND
    for user in ("wenchuan.admin", "dongdajie.admin", "xidajie.admin", "county.admin"):
        e = err(as_(user).GetProxyRequest, pb.GetProxyRequestRequest(request_id=mine.id))
        assert e.code() == NOT_FOUND, user
    # the county's supervisor reads its subtree, read-only
    assert as_("county.supervisor").GetProxyRequest(pb.GetProxyRequestRequest(request_id=mine.id)).id == mine.id
    supervised = {r.id for r in as_("county.supervisor").ListProxyRequests(
        pb.ListProxyRequestsRequest(limit=200)).requests}
    assert {mine.id, theirs.id} <= supervised
    assert err(as_("county.supervisor").AssignAgent, pb.AssignAgentRequest(request_id=mine.id)).code() == DENIED


def test_reading_proxy_requests_needs_an_agency_role(as_, county_item):
    """Issue 15: agency's reads had no role check — any staff member of the unit saw residents' ID numbers,
    phones and addresses. A county key project has the county as its proxy point: its window clerk and
    cashier are staff of the very unit, and are refused; its agent, its admin and the supervisor read."""
    r = as_("county.agent").RequestProxy(proxy_request(county_item, group="none", door_to_door=False,
                                                       key_project=True, project_name="凉州区物流园二期"))
    for user in ("county.clerk", "county.cashier", "county.reviewer", "county.decider", "county.head"):
        caller = as_(user)
        for method, request in (("GetProxyRequest", pb.GetProxyRequestRequest(request_id=r.id)),
                                ("ListProxyRequests", pb.ListProxyRequestsRequest(limit=200))):
            e = err(getattr(caller, method), request)
            assert e.code() == DENIED and r.resident.id_number not in e.details(), user
    # the custody of originals is for those who hold them: the cashier neither lists nor traces hand-overs
    for call in (lambda: as_("county.cashier").ListHandOvers(pb.ListHandOversRequest()),
                 lambda: as_("county.cashier").CustodyChain(pb.CustodyChainRequest(request_id=r.id))):
        assert err(call).code() == DENIED
    assert as_("county.clerk").ListHandOvers(pb.ListHandOversRequest()) is not None     # the window receives them
    for user in ("county.agent", "county.admin", "county.supervisor"):
        assert as_(user).GetProxyRequest(pb.GetProxyRequestRequest(request_id=r.id)).resident.id_number == \
            r.resident.id_number, user
        assert r.id in {x.id for x in as_(user).ListProxyRequests(pb.ListProxyRequestsRequest(limit=200)).requests}
    # and a village's window clerk of the township above is no reader of the village's requests either
    mine = as_("nanyuan.agent").RequestProxy(proxy_request(county_item))
    assert err(as_("dongdajie.clerk").GetProxyRequest, pb.GetProxyRequestRequest(request_id=mine.id)).code() == \
        DENIED


def test_submit_upward_is_for_the_assigned_agent_only(as_, county_item):
    r = as_("nanyuan.agent").RequestProxy(proxy_request(county_item))
    e = err(as_("nanyuan.agent").SubmitUpward, pb.SubmitUpwardRequest(request_id=r.id))
    assert e.code() == FAILED and "指派代办员" in e.details()
    as_("nanyuan.agent").AssignAgent(pb.AssignAgentRequest(request_id=r.id))
    e = err(as_("nanyuan.agent2").SubmitUpward, pb.SubmitUpwardRequest(request_id=r.id))
    assert e.code() == DENIED
    e = err(as_("nanyuan.admin").SubmitUpward, pb.SubmitUpwardRequest(request_id=r.id))
    assert e.code() == DENIED
    e = err(as_("nanyuan.agent").SubmitUpward, pb.SubmitUpwardRequest(
        request_id=r.id, materials=[intake_pb2.MaterialSubmission(code="M7")]))
    assert e.code() == INVALID and field_of(e) == "materials[0].code"


def test_reads_validate_their_input(as_):
    e = err(as_("nanyuan.agent").GetProxyRequest, pb.GetProxyRequestRequest(request_id="42"))
    assert e.code() == INVALID and field_of(e) == "request_id"
    e = err(as_("nanyuan.agent").ListProxyRequests, pb.ListProxyRequestsRequest(status=99))
    assert e.code() == INVALID and field_of(e) == "status"
    e = err(as_("nanyuan.agent").ListProxyRequests, pb.ListProxyRequestsRequest(limit=-1))
    assert e.code() == INVALID and field_of(e) == "limit"
    e = err(as_("nanyuan.agent").ListHandOvers, pb.ListHandOversRequest(direction="sideways"))
    assert e.code() == INVALID and field_of(e) == "direction"
    e = err(as_("nanyuan.agent").CustodyChain, pb.CustodyChainRequest())
    assert e.code() == INVALID and field_of(e) == "application_id"


def test_unauthenticated_calls_are_refused(agency_stub):
    with pytest.raises(grpc.RpcError) as e:
        agency_stub.ListProxyRequests(pb.ListProxyRequestsRequest(), timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_rls_alone_walls_proxy_requests(as_, county_item, agency_db):
    """The database wall on its own: raw SQL with no tenant filter, as the application role."""
    mine = as_("nanyuan.agent").RequestProxy(proxy_request(county_item))
    with agency_db.unit_of_work(tenant=SIBLING_VILLAGE) as uow:
        s = uow.session
        assert s.execute(text("SELECT count(*) FROM agency.proxy_requests WHERE id = :i"), {"i": mine.id}).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM agency.progress_notes WHERE request_id = :i"),
                         {"i": mine.id}).scalar() == 0
        assert s.execute(text("UPDATE agency.proxy_requests SET status = 'delivered' WHERE id = :i"),
                         {"i": mine.id}).rowcount == 0
        assert s.execute(text("DELETE FROM agency.progress_notes WHERE request_id = :i"), {"i": mine.id}).rowcount == 0
        with pytest.raises(Exception, match="row-level security"):
            s.execute(text("INSERT INTO agency.progress_notes (tenant_code, request_id, note_key, at, step, text)"
                           " VALUES (:t, :i, 'forged', now(), 'accepted', '已受理')"), {"t": VILLAGE, "i": mine.id})
    with agency_db.unit_of_work() as uow:  # public mode: nothing
        assert uow.session.execute(text("SELECT count(*) FROM agency.proxy_requests")).scalar() == 0
    with agency_db.unit_of_work(tenant=VILLAGE) as uow:
        assert uow.session.execute(text("SELECT status FROM agency.proxy_requests WHERE id = :i"),
                                   {"i": mine.id}).scalar() == "requested"
