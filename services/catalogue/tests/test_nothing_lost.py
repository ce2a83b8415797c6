"""Nothing lost: catalogue items published while the broker is unreachable all arrive, once each.

The relay of the catalogue's outbox reaches RabbitMQ through a loopback TCP proxy that the test
cuts and restores (we never stop a broker we did not start); a subscriber with an inbox records
every item_published it handles.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sanji.catalogue.v1 import catalogue_pb2 as pb

from services.catalogue.tests.test_catalogue_grpc import elements
from shared.grpc.client import bearer
from shared.messaging import OutboxRelay
from shared.messaging.tests import open_bus, wait_until
from tests.faults.tcp_proxy import TcpProxy


@pytest.fixture
def bus(migrated):
    with open_bus(migrated) as b:
        yield b


def test_items_published_during_a_broker_outage_arrive_exactly_once(bus, stub, tokens, catalogue_db, migrated):
    md = bearer(tokens["county.admin"])

    def publish(n: int) -> list[str]:
        ids = []
        for _ in range(n):
            item = stub.CreateItem(pb.CreateItemRequest(elements=elements()), metadata=md, timeout=10)
            ids.append(stub.PublishItem(pb.PublishItemRequest(item_id=item.id), metadata=md, timeout=10).id)
        return ids

    consumer = bus.consumer(service="lostcheck")
    consumer.subscribe("catalogue", "item_published", "record", bus.record)
    consumer.declare()
    consumer.start()
    url = urlsplit(migrated.amqp_url)
    with TcpProxy(url.hostname or "127.0.0.1", url.port or 5672) as proxy:
        relay = OutboxRelay(catalogue_db.engine, "catalogue", proxy.rewrite_url(migrated.amqp_url), service="catalogue")
        relay.start()
        try:
            before = publish(3)
            wait_until(lambda: set(before) <= {i for _, i in bus.handled("620602")}, timeout=30,
                       message="items published before the outage")
            proxy.cut()
            failures = relay.stats.connect_failures
            during = publish(12)
            wait_until(lambda: relay.stats.connect_failures >= failures + 1, message="the relay noticing the outage")
            assert not set(during) & {i for _, i in bus.handled("620602")}
            proxy.restore()
            wait_until(lambda: set(during) <= {i for _, i in bus.handled("620602")}, timeout=40,
                       message="items published during the outage")
        finally:
            relay.stop()
    mine = [i for _, i in bus.handled("620602") if i in set(before + during)]
    assert sorted(mine) == sorted(before + during)  # every one, exactly once
