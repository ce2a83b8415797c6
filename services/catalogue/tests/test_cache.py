"""The cache of published item versions, no I/O: what a search may take from it (services/catalogue/cache.py)."""

from __future__ import annotations

from dataclasses import replace

from sanji.catalogue.v1 import catalogue_pb2 as pb

from services.catalogue.cache import VersionCache
from services.catalogue.domain import ItemRow
from services.catalogue.translate import ItemMessages, row_to_item


def row(status: str, version: int = 1, reason: str = "") -> ItemRow:
    return ItemRow(id="0b6c1f4e-0000-4000-8000-000000000001", tenant="620602", version=version, status=status,
                   elements={"name": "农村村民宅基地审批"}, created_at=None, published_at=None, change_reason=reason)


def test_a_search_takes_a_version_as_published_and_never_a_cancelled_one():
    cache = VersionCache()
    assert cache.published(row("published").id, 1) is None
    cache.keep_published(row("published"))
    assert cache.published(row("published").id, 1) == row("published")
    # read since as superseded (GetItem of version 1 after an adjustment): the same content, still served as
    # published to a caller whose own statement found it published
    cache.store(row("superseded"), current_version=2, current_status="published")
    assert cache.published(row("published").id, 1) == row("published")
    # read since as cancelled: its cancellation gave it a reason of its own, so a search never takes it
    cache.store(row("cancelled", reason="法律依据废止"), current_version=1, current_status="cancelled")
    assert cache.published(row("published").id, 1) is None
    cache.keep_published(row("published"))          # a search's earlier read does not put the old content back
    assert cache.published(row("published").id, 1) is None
    assert cache.lookup(row("published").id, 1).change_reason == "法律依据废止"


def test_drafts_and_cancelled_versions_are_not_kept_for_searches():
    cache = VersionCache()
    for status in ("draft", "cancelled", "superseded"):
        cache.keep_published(row(status))
        assert cache.published(row(status).id, 1) is None, status


def test_what_a_search_keeps_is_bounded_with_the_rest():
    cache = VersionCache(max_versions=2)
    for v in (1, 2, 3):
        cache.keep_published(row("published", version=v))
    assert [cache.published(row("published").id, v) is not None for v in (1, 2, 3)] == [False, True, True]


def test_a_page_of_versions_is_taken_as_each_alone_would_be():
    cache = VersionCache()
    published, other = row("published"), replace(row("published"), id="0b6c1f4e-0000-4000-8000-000000000002")
    cache.keep_published(published)
    cache.store(replace(other, status="cancelled", change_reason="撤销"), current_version=1, current_status="cancelled")
    keys = [(published.id, 1), (other.id, 1), (published.id, 2)]
    assert cache.published_many(keys) == [published, None, None]
    assert cache.published_many(keys) == [cache.published(i, v) for i, v in keys]


def test_a_page_of_messages_says_each_rows_status_and_listing():
    """ItemMessages.items looks the page's messages up together; each still says its own row's status and listing,
    and a draft is translated anew every time."""
    messages = ItemMessages()
    own, delegated = replace(row("published"), listing="own"), replace(row("published"), listing="delegated")
    draft = replace(row("draft"), id="0b6c1f4e-0000-4000-8000-000000000003")
    first = messages.items([own, delegated, draft])
    again = messages.items([own, delegated, draft, replace(own, status="superseded")])
    assert [(m.status, m.listing) for m in again] == [
        (pb.ITEM_STATUS_PUBLISHED, pb.LISTING_KIND_OWN), (pb.ITEM_STATUS_PUBLISHED, pb.LISTING_KIND_DELEGATED),
        (pb.ITEM_STATUS_DRAFT, 0), (pb.ITEM_STATUS_SUPERSEDED, pb.LISTING_KIND_OWN)]
    assert messages.items([delegated])[0] is again[1] and again[2] is not first[2]    # translated once; drafts anew
    assert all(m == row_to_item(r) for m, r in zip(again, [own, delegated, draft, replace(own, status="superseded")],
                                                       strict=True))
