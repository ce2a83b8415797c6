"""SearchItems sorts and counts its hits from the term rows and the listings alone, and takes each version's content
from the cache of published versions (issue 22 item 3, migration 0010): the same answer as the unit's list filtered
by the same query, nothing of another unit's, nothing stale after an adjustment or a cancellation."""

from __future__ import annotations

import pytest
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as pb
from sqlalchemy import text

from services.catalogue import translate
from services.catalogue.domain import ListingKind
from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.tests.test_catalogue_grpc import RUN, elements
from services.catalogue.translate import EventsOut
from shared.tenancy import DivisionCode, Principal, Role
from tests.support import Caller


@pytest.fixture
def as_(stub, tokens):
    return lambda username: Caller(stub, tokens[username], timeout=10)


def admin_of(tenant: str) -> Principal:
    return Principal(subject=f"test:{tenant}", username=f"admin.{tenant}", tenant=DivisionCode(tenant),
                     roles=frozenset({str(Role.TENANT_ADMIN)}), display_name="测试管理员")


def listed(items) -> list[tuple]:
    """What a caller sees of each item found, content included."""
    return [(i.id, i.version, i.status, i.listing, i.tenant, json_format.MessageToJson(i.elements, sort_keys=True),
             i.published_at, i.change_reason) for i in items]


def test_search_answers_what_the_list_filtered_by_the_query_answers(as_):
    """SearchItems (the term rows' name and status, the listings' index, content from the cache) against ListMyItems
    with the same query (list_for: items, listings and versions joined): the same versions with the same content and
    listing, in the same order, with the same total — for the county, a township it delegated to (one item listed
    there twice, delegated and proxied) and a unit of another province; after an adjustment, a cancellation and a
    draft; a page shorter than the hits included."""
    county, township = as_("county.admin"), as_("dongdajie.admin")
    mark = f"核{RUN}"
    made = []
    for name in ("乙类设施许可", "甲类设施许可", "丙类设施许可", "丁类设施许可"):
        item = county.CreateItem(pb.CreateItemRequest(elements=elements(name=name, keywords=[mark, "设施许可"])))
        made.append(county.PublishItem(pb.PublishItemRequest(item_id=item.id)))
    county.CreateItem(pb.CreateItemRequest(elements=elements(name="戊类设施许可", keywords=[mark])))     # a draft
    county.AdjustItem(pb.AdjustItemRequest(item_id=made[0].id, reason="更名", elements=elements(
        name="庚类设施许可", basic_code=made[0].elements.basic_code, keywords=[mark])))
    county.CancelItem(pb.CancelItemRequest(item_id=made[3].id, reason="法律依据废止"))
    for kind in (pb.LISTING_KIND_DELEGATED, pb.LISTING_KIND_PROXY):
        county.DelegateItem(pb.DelegateItemRequest(item_id=made[1].id, target_tenants=["620602001"], kind=kind))
    for caller, expected in ((county, 3), (township, 2), (as_("wenchuan.admin"), 0)):
        # one term (its rows are the hits), two, and more; a page shorter than the hits
        for query, limit in ((mark, 200), (mark, 2), (f"设施{mark}", 200), ("类设施许可", 200), ("设施", 200),
                             ("设施", 3)):
            searched = caller.SearchItems(pb.SearchItemsRequest(query=query, limit=limit))
            for _ in range(2):      # once read from the database, then from the cache
                again = caller.SearchItems(pb.SearchItemsRequest(query=query, limit=limit))
                assert listed(again.items) == listed(searched.items) and again.total == searched.total
            filtered = caller.ListMyItems(pb.ListMyItemsRequest(query=query, limit=limit))
            assert searched.total == filtered.total, (query, limit)
            assert [i.id for i in searched.items] == [i.id for i in filtered.items], (query, limit)
            assert sorted(listed(searched.items)) == sorted(listed(filtered.items)), (query, limit)
            if query == mark:
                assert searched.total == expected
    found = county.SearchItems(pb.SearchItemsRequest(query=mark, limit=200)).items
    # sorted by the current name (乙 became 庚 by its adjustment; the database's order of the characters)
    assert [(i.elements.name, i.version) for i in found] == [("丙类设施许可", 1), ("庚类设施许可", 2),
                                                             ("甲类设施许可", 1)]
    assert {i.listing for i in found} == {pb.LISTING_KIND_OWN}
    there = township.SearchItems(pb.SearchItemsRequest(query=mark, limit=200)).items
    assert sorted(i.listing for i in there) == [pb.LISTING_KIND_DELEGATED, pb.LISTING_KIND_PROXY]


def test_term_rows_carry_their_versions_name(as_, catalogue_db):
    """The name a search sorts by is the version's own, through a draft's renaming, publication and adjustment."""
    admin = as_("county.admin")
    item = admin.CreateItem(pb.CreateItemRequest(elements=elements(name="初拟名称审批", keywords=[f"名{RUN}"])))
    admin.UpdateDraft(pb.UpdateDraftRequest(item_id=item.id, elements=elements(
        name="改拟名称审批", basic_code=item.elements.basic_code, keywords=[f"名{RUN}"])))
    admin.PublishItem(pb.PublishItemRequest(item_id=item.id))
    admin.AdjustItem(pb.AdjustItemRequest(item_id=item.id, reason="更名", elements=elements(
        name="调整名称审批", basic_code=item.elements.basic_code, keywords=[f"名{RUN}"])))
    with catalogue_db.unit_of_work(tenant="620602") as uow:
        rows = uow.rows(text("SELECT v.version, v.name, array_agg(DISTINCT t.name) FROM catalogue.item_versions v"
                             " JOIN catalogue.item_terms t ON t.item_id = v.item_id AND t.version = v.version"
                             " WHERE v.item_id = :id GROUP BY v.version, v.name ORDER BY v.version"),
                        {"id": item.id})
    assert [(r[0], r[1], r[2]) for r in rows] == [(1, "改拟名称审批", ["改拟名称审批"]),
                                                  (2, "调整名称审批", ["调整名称审批"])]


def test_the_content_cache_gives_no_unit_an_item_its_own_search_does_not_find(catalogue_db):
    """A version the county's search has put in the cache is still found only by units it is listed for: another
    province's county and a sibling township find nothing, the township it was delegated to finds it as delegated
    (the listing is the caller's own, never the cached one's)."""
    h = CatalogueHandlers(catalogue_db, events_out=EventsOut())
    county = admin_of("620602")
    mark = f"藏{RUN}"
    item = h.create_item(county, _elements(name="城镇排水许可", keywords=[mark]))
    h.publish(county, item.id)
    rows, total = h.search_mine(county, mark, 20)
    assert ([(r.id, r.listing) for r in rows], total) == ([(item.id, "own")], 1)
    assert h.cache.published(item.id, 1) is not None          # the content is held: what follows is not a miss
    hits = h.cache.hits
    for other in ("513221", "620602002", "62"):
        assert h.search_mine(admin_of(other), mark, 20) == ([], 0), other
    assert h.cache.hits == hits                                # nobody else was even looked up
    h.delegate(county, item.id, ["620602001"], ListingKind.DELEGATED, "下放街道")
    rows, total = h.search_mine(admin_of("620602001"), mark, 20)
    assert ([(r.id, r.listing, r.status) for r in rows], total) == ([(item.id, "delegated", "published")], 1)
    assert h.cache.hits == hits + 1
    assert [r.listing for r in h.search_mine(county, mark, 20)[0]] == ["own"]


def test_the_content_cache_serves_no_adjusted_or_cancelled_version(catalogue_db):
    """After an adjustment a search finds the new version with its new content, not the cached old one (whose terms
    it no longer holds); after a cancellation it finds nothing — even in the process that cached the versions."""
    h = CatalogueHandlers(catalogue_db, events_out=EventsOut())
    county = admin_of("620602")
    mark = f"旧{RUN}"
    item = h.create_item(county, _elements(name="临时占用道路审批", keywords=[mark, "占道"]))
    h.publish(county, item.id)
    first = h.search_mine(county, mark, 20)[0]
    assert [(r.version, r.elements["name"]) for r in first] == [(1, "临时占用道路审批")]
    h.adjust(county, item.id, _elements(name="临时占用城市道路审批", basic_code=item.elements["basic_code"],
                                        keywords=[mark, "占道"], promised_limit_days=5), "压缩时限")
    rows, total = h.search_mine(county, "占道", 20)
    mine = [r for r in rows if r.id == item.id]
    assert [(r.version, r.status, r.elements["name"], r.elements["promised_limit_days"], r.change_reason)
            for r in mine] == [(2, "published", "临时占用城市道路审批", 5, "压缩时限")]
    assert item.id not in {r.id for r in h.search_mine(county, "临时占用道路", 20)[0]}     # version 1's name
    again = h.search_mine(county, mark, 20)[0]                     # now from the cache
    assert [(r.version, r.elements["name"]) for r in again] == [(2, "临时占用城市道路审批")]
    h.cancel(county, item.id, "法律依据废止")
    assert h.search_mine(county, mark, 20) == ([], 0)
    assert h.search_mine(admin_of("620602001"), mark, 20) == ([], 0)


def _elements(**over):
    return translate.elements(elements(**over))


def test_a_search_whose_versions_are_cached_is_one_bound_read(catalogue_db, monkeypatch):
    """With every version found already in the cache, a search is the statement alone, read bound in one round trip
    (Database.read_bound: no unit of work, no BEGIN or ROLLBACK); with one missing, it runs again in one transaction
    with the read of the version. Both answer the same, for the unit's own listing and another unit's."""
    h = CatalogueHandlers(catalogue_db, events_out=EventsOut())
    county, township = admin_of("620602"), admin_of("620602001")
    mark = f"轮{RUN}"
    item = h.create_item(county, _elements(name="户外广告设置许可", keywords=[mark]))
    h.publish(county, item.id)
    h.delegate(county, item.id, ["620602001"], ListingKind.PROXY, "代办")
    opened = []
    real = catalogue_db.unit_of_work
    monkeypatch.setattr(catalogue_db, "unit_of_work", lambda *a, **k: opened.append(a) or real(*a, **k))
    cold = h.search_mine(county, mark, 20)
    assert len(opened) == 1 and [(r.id, r.listing) for r in cold[0]] == [(item.id, "own")]
    assert h.search_mine(county, mark, 20) == cold and len(opened) == 1           # warm: no unit of work
    warm = h.search_mine(township, mark, 20)
    assert len(opened) == 1 and [(r.id, r.listing) for r in warm[0]] == [(item.id, "proxy")]
    assert h.search_mine(admin_of("513221"), mark, 20) == ([], 0) and len(opened) == 1
