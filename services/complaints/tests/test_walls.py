"""Tenant walls of the complaints service, each on its own: the handler's checks and row-level security with
the application's filter removed (straight SQL in a unit of work bound to the other tenant)."""

from __future__ import annotations

import grpc
from sanji.complaints.v1 import complaints_pb2 as pb

from .conftest import COUNTY, OTHER_TOWNSHIP, SIBLING_VILLAGE, TOWNSHIP, VILLAGE, complaint_request, err


def _ids(as_, user: str) -> set[str]:
    return {c.id for c in as_(user).ListComplaints(pb.ListComplaintsRequest(limit=200)).complaints}


def test_a_township_handler_cannot_see_or_touch_another_townships_complaints(as_):
    c = as_("dongdajie.clerk").FileComplaint(complaint_request(VILLAGE))
    assert c.id in _ids(as_, "dongdajie.complaints")
    assert c.id not in _ids(as_, "xidajie.complaints")
    e = err(as_("xidajie.complaints").GetComplaint, pb.GetComplaintRequest(complaint_id=c.id))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    e = err(as_("xidajie.complaints").AssignHandler, pb.AssignHandlerRequest(complaint_id=c.id))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    e = err(as_("xidajie.complaints").ReportProgress, pb.ReportProgressRequest(complaint_id=c.id, text="x"))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    # the county's supervisor sees the township's complaint (supervision of the subtree); its handler does not act
    assert c.id in _ids(as_, "county.supervisor")
    # an unassigned complaint is visible to supervision as such (第一时间安排专人: the sweep of the day's end)
    unassigned = as_("county.supervisor").ListComplaints(pb.ListComplaintsRequest(unassigned_only=True, limit=200))
    assert c.id in {x.id for x in unassigned.complaints}
    as_("dongdajie.complaints").AssignHandler(pb.AssignHandlerRequest(complaint_id=c.id))
    unassigned = as_("county.supervisor").ListComplaints(pb.ListComplaintsRequest(unassigned_only=True, limit=200))
    assert c.id not in {x.id for x in unassigned.complaints}
    e = err(as_("county.complaints").AssignHandler, pb.AssignHandlerRequest(complaint_id=c.id))
    assert e.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)


def test_a_village_agent_sees_only_what_it_filed(as_):
    mine = as_("nanyuan.agent").FileComplaint(complaint_request(VILLAGE, channel="agent"))
    assert mine.tenant == TOWNSHIP and mine.filed_by_tenant == VILLAGE
    other = as_("dongdajie.clerk").FileComplaint(complaint_request(VILLAGE))
    ids = _ids(as_, "nanyuan.agent")
    assert mine.id in ids and other.id not in ids
    assert as_("nanyuan.agent").GetComplaint(pb.GetComplaintRequest(complaint_id=mine.id)).number == mine.number
    e = err(as_("nanyuan.agent").GetComplaint, pb.GetComplaintRequest(complaint_id=other.id))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    assert mine.id not in _ids(as_, "dazhong.agent")
    # the agent reads its filing but does not handle it
    e = err(as_("nanyuan.agent").ReportProgress, pb.ReportProgressRequest(complaint_id=mine.id, text="x"))
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED


def test_row_level_security_holds_with_the_filter_removed(as_, complaints_db):
    c = as_("nanyuan.agent").FileComplaint(complaint_request(VILLAGE, channel="agent"))

    def visible(tenant: str | None, subtree: bool = False) -> int:
        uow = complaints_db.unit_of_work(tenant=tenant, subtree=subtree) if tenant else complaints_db.unit_of_work()
        with uow:
            n = uow.value("SELECT count(*) FROM complaints.complaints WHERE id = :id", {"id": c.id})
            r = uow.value("SELECT count(*) FROM complaints.complaint_records WHERE complaint_id = :id", {"id": c.id})
        return n + r

    assert visible(TOWNSHIP) == 2 and visible(VILLAGE) == 1         # the filer reads the complaint, not the records
    assert visible(OTHER_TOWNSHIP) == 0 and visible(SIBLING_VILLAGE) == 0 and visible(None) == 0
    assert visible(COUNTY) == 0 and visible(COUNTY, subtree=True) == 2
    assert visible("513221", subtree=True) == 0
    # the sibling township can neither change nor take it
    with complaints_db.unit_of_work(tenant=OTHER_TOWNSHIP) as uow:
        assert uow.execute("UPDATE complaints.complaints SET content = 'x' WHERE id = :id", {"id": c.id}) == 0
        uow.commit()
    with complaints_db.unit_of_work(tenant=TOWNSHIP) as uow:
        try:
            uow.execute("UPDATE complaints.complaints SET tenant_code = :o WHERE id = :id",
                        {"o": OTHER_TOWNSHIP, "id": c.id})
            moved = True
        except Exception:       # the policy's WITH CHECK refuses it
            moved = False
        uow.rollback()
    assert not moved


def test_the_public_scope_needs_both_the_number_and_the_code(complaints_db, as_):
    c = as_("dongdajie.clerk").FileComplaint(complaint_request(VILLAGE, tel="13911112222"))
    from services.complaints.repository import FOLLOW_UP

    def found(number: str, code: str) -> int:
        with complaints_db.unit_of_work() as uow:
            uow.widen(FOLLOW_UP, number=number, code=code)
            return uow.value("SELECT count(*) FROM complaints.complaints")
    assert found(c.number, "2222") == 1
    assert found(c.number, "2223") == 0
    assert found("TS620602001202609309999", "2222") == 0
