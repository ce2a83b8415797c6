"""Fault injection: the broker goes away under the relay; a consumer process dies mid-handling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from shared.db import Database, make_engine
from shared.messaging import EventConsumer
from shared.messaging.tests import open_bus, wait_until
from tests.faults.tcp_proxy import TcpProxy

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def bus(test_settings):
    with open_bus(test_settings) as b:
        yield b


@pytest.fixture
def proxy(test_settings):
    url = urlsplit(test_settings.amqp_url)
    with TcpProxy(url.hostname or "127.0.0.1", url.port or 5672) as p:
        yield p


def test_relay_publishes_everything_exactly_once_after_the_broker_comes_back(bus, proxy):
    consumer = bus.consumer()
    queue = consumer.subscribe(bus.service, "item_published", "record", bus.record)
    consumer.declare()
    consumer.start()  # straight to the broker; only the relay goes through the proxy
    relay = bus.relay(proxy.rewrite_url(bus.amqp_url))
    relay.start()
    before = bus.emit(5)
    wait_until(lambda: len(bus.handled()) == 5, message="events before the outage")

    proxy.cut()
    failures = relay.stats.connect_failures
    during = []
    for n in range(5):
        during += bus.emit(10, start=100 + 10 * n)
    wait_until(lambda: relay.stats.connect_failures >= failures + 2, message="the relay retrying")
    assert not relay.stats.connected
    assert bus.unsent() == 50  # nothing published, nothing lost
    assert bus.message_count(queue) == 0
    assert len(bus.handled()) == 5

    proxy.restore()
    wait_until(lambda: len(bus.handled()) == 55, timeout=30, message="every event after the outage")
    wait_until(lambda: bus.unsent() == 0, message="outbox marked sent")
    handled = [event_id for event_id, _ in bus.handled()]
    assert sorted(handled) == sorted(before + during)  # exactly once each
    assert bus.inbox_count(queue) == 55


def test_consumer_reconnects_after_the_broker_comes_back(bus, proxy):
    consumer = bus.consumer(proxy.rewrite_url(bus.amqp_url))
    queue = consumer.subscribe(bus.service, "item_published", "record", bus.record)
    consumer.declare()
    consumer.start()
    relay = bus.relay()
    relay.start()
    first = bus.emit(3)
    wait_until(lambda: len(bus.handled()) == 3, message="events before the outage")

    proxy.cut()
    later = bus.emit(20, start=100)
    wait_until(lambda: bus.message_count(queue) == 20, message="events waiting in the durable queue")
    proxy.restore()
    wait_until(lambda: len(bus.handled()) == 23, timeout=30, message="events after the outage")
    assert [e for e, _ in bus.handled()] == first + later
    assert bus.inbox_count(queue) == 23


def crash_consumer_main(database_url: str, amqp_url: str, schema: str, service: str, crash_event_id: str) -> None:
    """Child process: a consumer whose handler dies (no cleanup at all) on one given event."""
    db = Database(make_engine(database_url, pool_size=2), schema=schema, service=schema)

    def handler(env, uow):
        uow.session.execute(text(f"INSERT INTO {schema}.handled (tenant_code, event_id, item_id)"
                                 " VALUES (:t, :e, :i)"), {"t": env.tenant, "e": env.event_id,
                                                          "i": env.body["item_id"]})
        uow.session.flush()
        if env.event_id == crash_event_id:
            os._exit(1)

    consumer = EventConsumer(amqp_url, service=service, database=db)
    consumer.subscribe(schema, "item_published", "record", handler)
    consumer.run()


CHILD = ("import json, sys\n"
         "from shared.messaging.tests.test_faults import crash_consumer_main\n"
         "crash_consumer_main(**json.loads(sys.argv[1]))\n")


def test_consumer_crash_mid_handling_is_redelivered_and_handled_once(bus):
    service = f"{bus.service}c"
    consumer = bus.consumer(service=service)
    queue = consumer.subscribe(bus.service, "item_published", "record", bus.record)
    consumer.declare()
    ids = bus.emit(3)
    bus.relay().run_once()

    args = {"database_url": bus.settings.database_url, "amqp_url": bus.amqp_url, "schema": bus.schema,
            "service": service, "crash_event_id": ids[1]}
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 1, out
    # the crashed transaction left nothing: ids[0] is committed if it was handled on its own, and gone
    # with ids[1] if the two arrived together and shared the transaction
    before = [e for e, _ in bus.handled()]
    assert before in ([ids[0]], [])
    assert bus.inbox_count(queue) == len(before)

    consumer.start()
    wait_until(lambda: len(bus.handled()) == 3, message="the redelivered events handled")
    assert [e for e, _ in bus.handled()] == ids
    assert bus.inbox_count(queue) == 3
    assert consumer.stats.dead_lettered == 0


def test_cut_while_publishing_loses_nothing_and_consumers_see_each_event_once(bus, proxy):
    consumer = bus.consumer()
    queue = consumer.subscribe(bus.service, "item_published", "record", bus.record)
    consumer.declare()
    ids = []
    for n in range(15):
        ids += bus.emit(200, start=200 * n)
    relay = bus.relay(proxy.rewrite_url(bus.amqp_url), batch_size=100)
    relay.start()
    # the cut comes mid-stream: after some batches were confirmed, while one is on the wire
    wait_until(lambda: relay.stats.published > 0 and relay.in_flight > 0, interval=0.001,
               message="a batch in flight after others were confirmed")
    proxy.cut()
    wait_until(lambda: relay.stats.connect_failures > 0, message="the relay noticing")
    assert 0 < relay.stats.published < len(ids)
    assert relay.stats.failed_batches >= 1          # the batch in flight, unconfirmed, went back to the outbox
    returned = bus.scalar("SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL AND attempts > 0"
                          " AND last_error <> ''")
    assert returned > 0
    assert bus.unsent() == len(ids) - relay.stats.published
    proxy.restore()
    consumer.start()

    wait_until(lambda: bus.unsent() == 0, timeout=60, message="outbox drained")
    wait_until(lambda: bus.inbox_count(queue) == len(ids), timeout=60, message="every event handled")
    handled = [event_id for event_id, _ in bus.handled()]
    assert len(handled) == len(set(handled)) == len(ids)
    assert set(handled) == set(ids)


def test_a_broker_refusing_publishes_leaves_every_row_unsent_until_it_accepts_them(bus):
    """RabbitMQ refuses: the one queue bound to the exchange is full (`x-max-length` 0) and rejects what is
    published to it (`reject-publish`), which a publisher in confirm mode hears as a nack. Nothing may count
    as sent: the rows stay in the outbox with the attempts and the error; once the limit is lifted, every
    event arrives exactly once."""
    ch = bus.channel()
    ch.exchange_declare(bus.exchange, exchange_type="topic", durable=True, auto_delete=False)
    queue = f"{bus.service}.full"
    bus.queues.append(queue)
    ch.queue_declare(queue, durable=True, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    ch.queue_bind(queue, bus.exchange, routing_key="#")
    ids = bus.emit(6) + bus.emit(4, start=6)
    relay = bus.relay()

    for _ in range(2):
        assert relay.run_once() == 0
    assert (relay.stats.published, relay.stats.failed_batches) == (0, 2)
    assert bus.unsent() == 10
    assert bus.scalar("SELECT count(*) FROM {s}.outbox WHERE attempts = 2 AND last_error = 'nacked by the broker'") \
        == 10
    assert bus.message_count(queue) == 0

    # the limit lifted: the same queue, without it (nothing is published meanwhile: the relay runs here)
    ch.queue_delete(queue)
    ch.queue_declare(queue, durable=True)
    ch.queue_bind(queue, bus.exchange, routing_key="#")
    assert relay.drain() == 10
    assert bus.unsent() == 0
    arrived = []
    while (got := ch.basic_get(queue, auto_ack=True))[0] is not None:
        arrived.append(got[1].message_id)
    assert arrived == ids     # each once, in the order they were committed
