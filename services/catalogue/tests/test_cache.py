"""The cache of published item versions, no I/O: what a search may take from it (services/catalogue/cache.py)."""

from __future__ import annotations

from services.catalogue.cache import VersionCache
from services.catalogue.domain import ItemRow


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
