"""Custody of originals village → township → county: each hop owned by the giver, completed only by
a user of the receiving unit, visible to the units on the path and to nobody else."""

from __future__ import annotations

import uuid

import grpc
import pytest
from sanji.agency.v1 import agency_pb2 as pb
from sqlalchemy import text

from services.agency.tests.conftest import (
    COUNTY,
    OTHER_TOWNSHIP,
    SIBLING_VILLAGE,
    TOWNSHIP,
    VILLAGE,
    err,
    field_of,
    proxy_request,
    submitted_upward,
)
from shared.db import relay_transaction

INVALID, NOT_FOUND, DENIED = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                              grpc.StatusCode.PERMISSION_DENIED)
FAILED = grpc.StatusCode.FAILED_PRECONDITION
ORIGINALS = [pb.HandOverItem(description="居民身份证原件", copies=1, material_code="M1"),
             pb.HandOverItem(description="户口簿原件", copies=1, material_code="M2"),
             pb.HandOverItem(description="代办委托书", copies=1)]


@pytest.fixture
def at_county(as_, county_item) -> pb.ProxyRequest:
    """Submitted by 南苑 to the county (handled there): the originals go via 东大街街道."""
    return submitted_upward(as_, county_item)


def hand_over(as_, user, **kw) -> pb.HandOverRecord:
    return as_(user).HandOver(pb.HandOverRequest(**kw))


def ids(as_, user, **kw) -> set[str]:
    return {h.id for h in as_(user).ListHandOvers(pb.ListHandOversRequest(**kw)).handovers}


def test_a_hand_over_is_pending_on_both_sides_until_the_receiver_confirms(as_, at_county, agency_db):
    h = hand_over(as_, "nanyuan.agent", request_id=at_county.id, to_tenant=TOWNSHIP, items=ORIGINALS)
    assert (h.status, h.from_tenant, h.to_tenant, h.handed_by, h.handed_by_name) == (
        pb.HAND_OVER_STATUS_PENDING, VILLAGE, TOWNSHIP, "nanyuan.agent", "陈代办")
    assert (h.application_id, h.handling_tenant, h.origin_tenant) == (at_county.application_id, COUNTY, VILLAGE)
    assert [i.description for i in h.items] == ["居民身份证原件", "户口簿原件", "代办委托书"] and not h.received_by
    assert h.id in ids(as_, "nanyuan.agent", direction="outgoing", pending_only=True)
    assert h.id in ids(as_, "dongdajie.clerk", direction="incoming", pending_only=True)
    assert h.id in ids(as_, "dongdajie.admin", pending_only=True)
    assert h.id not in ids(as_, "nanyuan.agent", direction="incoming")

    done = as_("dongdajie.clerk").ConfirmReceipt(pb.ConfirmReceiptRequest(handover_id=h.id, note="原件齐全"))
    assert (done.status, done.received_by, done.note) == (pb.HAND_OVER_STATUS_RECEIVED, "dongdajie.clerk", "原件齐全")
    assert done.received_at >= done.handed_at
    assert h.id not in ids(as_, "nanyuan.agent", direction="outgoing", pending_only=True)
    assert h.id not in ids(as_, "dongdajie.clerk", direction="incoming", pending_only=True)
    assert h.id in ids(as_, "nanyuan.agent", direction="outgoing")       # the giver sees the receipt
    [mine] = [x for x in as_("nanyuan.agent").ListHandOvers(pb.ListHandOversRequest()).handovers if x.id == h.id]
    assert mine.status == pb.HAND_OVER_STATUS_RECEIVED and mine.received_by == "dongdajie.clerk"
    # confirming again changes nothing
    again = as_("dongdajie.admin").ConfirmReceipt(pb.ConfirmReceiptRequest(handover_id=h.id))
    assert (again.received_by, again.received_at) == (done.received_by, done.received_at)
    with relay_transaction(agency_db.engine) as c:
        events = c.execute(text("SELECT routing_key, tenant FROM agency.outbox WHERE body::jsonb ->> 'handover_id' = :h"
                                " ORDER BY seq"), {"h": h.id}).all()
    assert events == [("documents_handed_over", VILLAGE), ("documents_received", TOWNSHIP)]


def test_the_giver_cannot_confirm_and_a_third_unit_cannot_see_it(as_, at_county):
    h = hand_over(as_, "nanyuan.agent", request_id=at_county.id, to_tenant=TOWNSHIP, items=ORIGINALS)
    for user in ("nanyuan.agent", "nanyuan.admin"):
        e = err(as_(user).ConfirmReceipt, pb.ConfirmReceiptRequest(handover_id=h.id))
        assert e.code() == DENIED and "移交方不能自行确认" in e.details()
    for user in ("dazhong.agent", "xidajie.admin", "wenchuan.admin"):
        assert err(as_(user).ConfirmReceipt, pb.ConfirmReceiptRequest(handover_id=h.id)).code() == NOT_FOUND
        assert h.id not in ids(as_, user)
        e = err(as_(user).CustodyChain, pb.CustodyChainRequest(application_id=at_county.application_id))
        assert e.code() == NOT_FOUND
    # the county is on the path (it handles the case) and sees the hop, but only the addressee confirms
    assert h.id in {x.id for x in as_("county.clerk").CustodyChain(
        pb.CustodyChainRequest(application_id=at_county.application_id)).handovers}
    assert err(as_("county.clerk").ConfirmReceipt, pb.ConfirmReceiptRequest(handover_id=h.id)).code() == DENIED
    # supervisors read, never sign
    assert err(as_("county.supervisor").ConfirmReceipt, pb.ConfirmReceiptRequest(handover_id=h.id)).code() == DENIED
    assert as_("nanyuan.agent").ListHandOvers(pb.ListHandOversRequest(pending_only=True)).handovers


def test_the_custody_chain_shows_every_hop_to_the_units_on_it(as_, at_county):
    first = hand_over(as_, "nanyuan.agent", request_id=at_county.id, to_tenant=TOWNSHIP, items=ORIGINALS)
    # the township cannot pass on what it has not signed for
    e = err(as_("dongdajie.clerk").HandOver, pb.HandOverRequest(application_id=at_county.application_id,
                                                                to_tenant=COUNTY))
    assert e.code() == FAILED
    as_("dongdajie.clerk").ConfirmReceipt(pb.ConfirmReceiptRequest(handover_id=first.id))
    # onward, carrying what it received (no items listed = the same originals)
    second = hand_over(as_, "dongdajie.clerk", application_id=at_county.application_id, to_tenant=COUNTY)
    assert (second.from_tenant, second.to_tenant, second.request_id) == (TOWNSHIP, COUNTY, at_county.id)
    assert [i.description for i in second.items] == [i.description for i in first.items]
    assert second.id in ids(as_, "county.clerk", direction="incoming", pending_only=True)
    as_("county.clerk").ConfirmReceipt(pb.ConfirmReceiptRequest(handover_id=second.id))
    # the county handles the case: the originals stop there
    e = err(as_("county.clerk").HandOver, pb.HandOverRequest(application_id=at_county.application_id,
                                                             to_tenant="6206"))
    assert e.code() == FAILED

    for user, by in (("nanyuan.agent", {"request_id": at_county.id}),
                     ("dongdajie.clerk", {"application_id": at_county.application_id}),
                     ("county.clerk", {"application_id": at_county.application_id}),
                     ("county.supervisor", {"application_id": at_county.application_id})):
        chain = as_(user).CustodyChain(pb.CustodyChainRequest(**by)).handovers
        assert [(h.from_tenant, h.to_tenant, h.handed_by, h.received_by, h.status) for h in chain] == [
            (VILLAGE, TOWNSHIP, "nanyuan.agent", "dongdajie.clerk", pb.HAND_OVER_STATUS_RECEIVED),
            (TOWNSHIP, COUNTY, "dongdajie.clerk", "county.clerk", pb.HAND_OVER_STATUS_RECEIVED)], user
        assert all(h.handed_at and h.received_at and len(h.items) == 3 for h in chain)


@pytest.mark.parametrize("to, code, field", [
    (COUNTY, INVALID, "to_tenant"),              # skipping the township
    (OTHER_TOWNSHIP, INVALID, "to_tenant"),      # not an ancestor
    (SIBLING_VILLAGE, INVALID, "to_tenant"),
    ("513221", INVALID, "to_tenant"),            # another county
    ("12345", INVALID, "to_tenant"),             # not a division code
    ("", INVALID, "to_tenant"),
])
def test_hand_over_to_a_non_ancestor_is_refused_and_writes_nothing(as_, at_county, agency_db, to, code, field):
    e = err(as_("nanyuan.agent").HandOver, pb.HandOverRequest(request_id=at_county.id, to_tenant=to, items=ORIGINALS))
    assert (e.code(), field_of(e)) == (code, field) and not e.details().isascii()
    with agency_db.unit_of_work(tenant=VILLAGE) as uow:
        assert uow.session.execute(text("SELECT count(*) FROM agency.handovers WHERE request_id = :r"),
                                   {"r": at_county.id}).scalar() == 0


def test_other_bad_hand_overs(as_, county_item, township_item, at_county):
    e = err(as_("nanyuan.agent").HandOver, pb.HandOverRequest(request_id=at_county.id, to_tenant=TOWNSHIP))
    assert (e.code(), field_of(e)) == (INVALID, "items")
    e = err(as_("nanyuan.agent").HandOver, pb.HandOverRequest(
        request_id=at_county.id, to_tenant=TOWNSHIP, items=[pb.HandOverItem(description="身份证", copies=0)]))
    assert (e.code(), field_of(e)) == (INVALID, "items[0].copies")
    e = err(as_("nanyuan.agent").HandOver, pb.HandOverRequest(to_tenant=TOWNSHIP, items=ORIGINALS))
    assert (e.code(), field_of(e)) == (INVALID, "request_id")
    # nothing to hand over before the application exists upstairs
    fresh = as_("nanyuan.agent").RequestProxy(proxy_request(county_item))
    e = err(as_("nanyuan.agent").HandOver, pb.HandOverRequest(request_id=fresh.id, to_tenant=TOWNSHIP,
                                                               items=ORIGINALS))
    assert e.code() == FAILED
    # a sibling village cannot hand over another village's originals
    e = err(as_("dazhong.agent").HandOver, pb.HandOverRequest(request_id=at_county.id, to_tenant=TOWNSHIP,
                                                               items=ORIGINALS))
    assert e.code() == NOT_FOUND
    e = err(as_("nanyuan.agent").ConfirmReceipt, pb.ConfirmReceiptRequest(handover_id=str(uuid.uuid4())))
    assert e.code() == NOT_FOUND
    e = err(as_("nanyuan.agent").ConfirmReceipt, pb.ConfirmReceiptRequest(handover_id="x"))
    assert (e.code(), field_of(e)) == (INVALID, "handover_id")
    # handled at the township: the chain ends there
    at_township = submitted_upward(as_, township_item)
    h = hand_over(as_, "nanyuan.agent", request_id=at_township.id, to_tenant=TOWNSHIP, items=ORIGINALS)
    as_("dongdajie.clerk").ConfirmReceipt(pb.ConfirmReceiptRequest(handover_id=h.id))
    e = err(as_("dongdajie.clerk").HandOver, pb.HandOverRequest(application_id=at_township.application_id,
                                                                to_tenant=COUNTY))
    assert e.code() == FAILED and "无需继续移交" in e.details()
    # and the county, not on that path, does not see it
    e = err(as_("county.clerk").CustodyChain, pb.CustodyChainRequest(application_id=at_township.application_id))
    assert e.code() == NOT_FOUND


def test_rls_alone_walls_hand_overs_and_receipts(as_, at_county, agency_db):
    """The database wall on its own, as the application role: writes stay in the writer's tenant."""
    h = hand_over(as_, "nanyuan.agent", request_id=at_county.id, to_tenant=TOWNSHIP, items=ORIGINALS)
    receipt = ("INSERT INTO agency.handover_receipts (handover_id, to_tenant, from_tenant, origin_tenant,"
               " handling_tenant, received_by) VALUES (:h, :to, :f, :o, :hd, 'forger')")
    params = {"h": h.id, "to": TOWNSHIP, "f": VILLAGE, "o": VILLAGE, "hd": COUNTY}
    # the giver cannot sign the receipt: not as the receiver (RLS) ...
    with agency_db.unit_of_work(tenant=VILLAGE) as uow, pytest.raises(Exception, match="row-level security"):
        uow.session.execute(text(receipt), params)
    # ... nor as itself (the receipt's owner must be the hand-over's addressee: foreign key)
    with agency_db.unit_of_work(tenant=VILLAGE) as uow, pytest.raises(Exception, match="foreign key"):
        uow.session.execute(text(receipt), {**params, "to": VILLAGE})
    # nor mark its hand-over received, nor remove it: signed records are append-only
    with agency_db.unit_of_work(tenant=VILLAGE) as uow, pytest.raises(Exception, match="permission denied"):
        uow.session.execute(text("UPDATE agency.handovers SET to_tenant = :t WHERE id = :h"), {"t": COUNTY, "h": h.id})
    with agency_db.unit_of_work(tenant=VILLAGE) as uow, pytest.raises(Exception, match="permission denied"):
        uow.session.execute(text("DELETE FROM agency.handovers WHERE id = :h"), {"h": h.id})
    # nobody writes a hand-over in another unit's name
    with agency_db.unit_of_work(tenant=SIBLING_VILLAGE) as uow, pytest.raises(Exception, match="row-level security"):
        uow.session.execute(text(
            "INSERT INTO agency.handovers (id, from_tenant, to_tenant, origin_tenant, handling_tenant, request_id,"
            " application_id, items, handed_by) VALUES (:id, :f, :t, :f, :hd, :r, 'x', '[{}]', 'forger')"),
            {"id": str(uuid.uuid4()), "f": VILLAGE, "t": TOWNSHIP, "hd": COUNTY, "r": at_county.id})

    def visible(tenant: str, table: str = "handovers", col: str = "id") -> int:
        with agency_db.unit_of_work(tenant=tenant) as uow:
            return uow.session.execute(text(f"SELECT count(*) FROM agency.{table} WHERE {col} = :h"),
                                       {"h": h.id}).scalar()

    assert [visible(t) for t in (VILLAGE, TOWNSHIP, COUNTY, SIBLING_VILLAGE, OTHER_TOWNSHIP, "513221")] == [
        1, 1, 1, 0, 0, 0]
    as_("dongdajie.clerk").ConfirmReceipt(pb.ConfirmReceiptRequest(handover_id=h.id))
    assert [visible(t, "handover_receipts", "handover_id")
            for t in (VILLAGE, TOWNSHIP, COUNTY, SIBLING_VILLAGE, OTHER_TOWNSHIP)] == [1, 1, 1, 0, 0]
