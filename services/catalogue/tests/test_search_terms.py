"""Search through catalogue.item_terms (issue 22 item 3, migration 0005): what is searched follows each
version, and Chinese search finds what it found before (宅基地 → 农村村民宅基地审批)."""

from __future__ import annotations

import pytest
from sanji.catalogue.v1 import catalogue_pb2 as pb
from sqlalchemy import text

from services.catalogue.tests.test_catalogue_grpc import RUN, elements
from tests.support import Caller


@pytest.fixture
def as_(stub, tokens):
    return lambda username: Caller(stub, tokens[username], timeout=10)


def test_search_follows_every_version_through_its_term_rows(as_, stub, catalogue_db):
    """Search reads catalogue.item_terms (migration 0005): the rows follow each version as it is drafted,
    published and adjusted, hold exactly the version's terms, and a search finds the current version only."""
    admin = as_("county.admin")
    mark = f"甲{RUN}"
    draft = admin.CreateItem(pb.CreateItemRequest(elements=elements(keywords=["宅基地", mark])))
    assert draft.id not in {i.id for i in admin.SearchItems(pb.SearchItemsRequest(query="宅基地", limit=200)).items}
    assert draft.id in {i.id for i in admin.ListMyItems(pb.ListMyItemsRequest(include_drafts=True, query="村民宅基",
                                                                              limit=200)).items}
    admin.PublishItem(pb.PublishItemRequest(item_id=draft.id))
    for q in ("宅基地", "农村村民宅基地审批", "村民宅基", mark):
        found = admin.SearchItems(pb.SearchItemsRequest(query=q, limit=200)).items
        assert draft.id in {i.id for i in found}, q
    admin.AdjustItem(pb.AdjustItemRequest(item_id=draft.id, reason="更名", elements=elements(
        name="农村村民住房建设审批", basic_code=draft.elements.basic_code, keywords=["建房"])))
    for q, expected in (("宅基地", False), ("住房建设", True), ("农村村民", True)):
        found = admin.SearchItems(pb.SearchItemsRequest(query=q, limit=200)).items
        assert (draft.id in {i.id for i in found}) is expected, q
        public = stub.SearchPublicItems(pb.SearchPublicItemsRequest(region="620602", query=q, limit=200), timeout=10)
        assert (draft.id in {i.id for i in public.items}) is expected, q
    with catalogue_db.unit_of_work(tenant="620602") as uow:
        rows = uow.rows(text("SELECT v.version, v.status, v.terms, array_agg(t.term ORDER BY t.term),"
                             " array_agg(DISTINCT t.status) FROM catalogue.item_versions v"
                             " JOIN catalogue.item_terms t ON t.item_id = v.item_id AND t.version = v.version"
                             " WHERE v.item_id = :id GROUP BY v.version, v.status, v.terms ORDER BY v.version"),
                        {"id": draft.id})
    assert [(r[0], r[1]) for r in rows] == [(1, "superseded"), (2, "published")]
    for _, status, terms, term_rows, statuses in rows:
        assert sorted(terms) == term_rows and statuses == [status]
