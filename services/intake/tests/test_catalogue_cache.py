"""The intake's short memory of the catalogue's answers: what it keeps, for whom, and for how long."""

from __future__ import annotations

import pytest
from sanji.catalogue.v1 import catalogue_pb2 as cpb

from services.intake.catalogue import CachedCatalogue, GrpcCatalogue, Resolution
from services.intake.tests.conftest import elements
from shared.errors import FailedPrecondition
from shared.grpc.client import bearer
from shared.tenancy import acting_as


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Catalogue:
    """The port's other side, counting the questions it is asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int]] = []
        self.refuse: set[str] = set()

    def resolve(self, item_id: str, version: int = 0, *, tenant: str) -> Resolution:
        self.asked.append((tenant, item_id, version))
        if item_id in self.refuse:
            raise FailedPrecondition("该事项已取消，不再受理新的申请", field="item_id")
        return Resolution(handling_tenant=tenant, handling_unit_name=f"unit {tenant}", proxy=False, item=None)


def test_an_answer_is_reused_for_the_same_unit_item_and_version_until_it_expires():
    inner, clock = Catalogue(), Clock()
    cache = CachedCatalogue(inner, ttl=2.0, clock=clock)
    first = cache.resolve("item-1", 0, tenant="620602")
    assert cache.resolve("item-1", 0, tenant="620602") is first
    clock.t += 1.9
    assert cache.resolve("item-1", 0, tenant="620602") is first
    assert inner.asked == [("620602", "item-1", 0)]
    clock.t += 0.2                                        # expired: asked again
    cache.resolve("item-1", 0, tenant="620602")
    assert len(inner.asked) == 2


def test_one_units_answer_is_never_given_to_another_nor_for_another_version():
    inner = Catalogue()
    cache = CachedCatalogue(inner, ttl=60, clock=Clock())
    assert cache.resolve("item-1", 0, tenant="620602").handling_tenant == "620602"
    assert cache.resolve("item-1", 0, tenant="620602001").handling_tenant == "620602001"
    cache.resolve("item-1", 3, tenant="620602")
    assert inner.asked == [("620602", "item-1", 0), ("620602001", "item-1", 0), ("620602", "item-1", 3)]


def test_refusals_are_not_kept():
    inner = Catalogue()
    inner.refuse.add("item-2")
    cache = CachedCatalogue(inner, ttl=60, clock=Clock())
    for _ in range(2):
        with pytest.raises(FailedPrecondition):
            cache.resolve("item-2", 0, tenant="620602")
    assert len(inner.asked) == 2
    inner.refuse.clear()
    cache.resolve("item-2", 0, tenant="620602")
    cache.resolve("item-2", 0, tenant="620602")
    assert len(inner.asked) == 3


def test_the_least_recently_used_answers_go_first_when_it_is_full():
    inner = Catalogue()
    cache = CachedCatalogue(inner, ttl=60, max_entries=2, clock=Clock())
    for item in ("a", "b", "a", "c"):                     # "a" used again: "b" is the oldest when "c" comes
        cache.resolve(item, 0, tenant="620602")
    cache.resolve("a", 0, tenant="620602")
    cache.resolve("b", 0, tenant="620602")
    assert [i for _, i, _ in inner.asked] == ["a", "b", "c", "b"]


def test_a_cancelled_item_is_refused_once_the_answer_expires(catalogue_server, stub, tokens, verifier):
    """Through the real catalogue: the window's kept answer outlives a cancellation by at most the ttl."""
    md = bearer(tokens["county.admin"])
    item = stub.CreateItem(cpb.CreateItemRequest(elements=elements(exercise_level="4")), metadata=md, timeout=10)
    item = stub.PublishItem(cpb.PublishItemRequest(item_id=item.id), metadata=md, timeout=10)
    clock = Clock()
    grpc_catalogue = GrpcCatalogue(catalogue_server)
    cache = CachedCatalogue(grpc_catalogue, ttl=2.0, clock=clock)
    try:
        with acting_as(verifier.verify(tokens["county.clerk"])):
            assert cache.resolve(item.id, 0, tenant="620602").handling_tenant == "620602"
            stub.CancelItem(cpb.CancelItemRequest(item_id=item.id, reason="依法取消"), metadata=md, timeout=10)
            assert cache.resolve(item.id, 0, tenant="620602").handling_tenant == "620602"
            clock.t += 2.5
            with pytest.raises(FailedPrecondition, match="已取消"):
                cache.resolve(item.id, 0, tenant="620602")
    finally:
        cache.close()
