"""Outbox → relay → RabbitMQ → consumer, against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json

import pika
import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, format_trace_id
from sqlalchemy import text

from shared.db import relay_transaction
from shared.messaging import to_amqp
from shared.messaging.tests import OTHER_TENANT, TENANT, open_bus, wait_until

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C


@pytest.fixture
def bus(test_settings):
    with open_bus(test_settings) as b:
        yield b


@pytest.mark.parametrize("spans", [False, True], ids=["no-spans-kept", "spans-kept"])
def test_events_arrive_once_each_in_order(bus, spans):
    """Whether or not the relay and the consumer make spans, the trace id travels from producer to consumer."""
    traces = []

    def handler(env, uow):
        traces.append(format_trace_id(trace.get_current_span().get_span_context().trace_id))
        bus.record(env, uow)

    consumer = bus.consumer(spans=spans)
    queue = consumer.subscribe(bus.service, "item_published", "record", handler)
    consumer.declare()
    relay = bus.relay(batch_size=7, spans=spans)
    relay.start()
    consumer.start()

    parent = NonRecordingSpan(SpanContext(TRACE_ID, 0x1234, is_remote=False, trace_flags=TraceFlags(1)))
    ids = []
    with trace.use_span(parent):
        for n in range(10):
            ids += bus.emit(3, correlation_id="LZ-2024-0100", start=3 * n)
    bus.emit(1, tenant=OTHER_TENANT, start=100)

    wait_until(lambda: len(bus.handled()) == 30, message="30 handled events")
    wait_until(lambda: len(bus.handled(OTHER_TENANT)) == 1, message="the other tenant's event")
    assert bus.handled() == [(event_id, f"item-{i}") for i, event_id in enumerate(ids)]
    assert bus.inbox_count(queue) == 31
    assert consumer.stats.handled == 31 and consumer.stats.duplicates == 0
    wait_until(lambda: bus.unsent() == 0, message="outbox marked sent")
    assert set(traces[:30]) == {format_trace_id(TRACE_ID)}  # one trace from producer to consumer


def test_redelivery_is_a_no_op(bus):
    calls = []
    consumer = bus.consumer()
    queue = consumer.subscribe(bus.service, "item_published", "record",
                               lambda env, uow: (calls.append(env.event_id), bus.record(env, uow)))
    consumer.declare()
    [event_id] = bus.emit(1)
    bus.relay().run_once()
    assert consumer.drain(1) == 1

    with relay_transaction(bus.db.engine) as conn:
        row = conn.execute(bus_sql(bus, "SELECT * FROM {s}.outbox")).mappings().one()
    exchange, routing_key, props, body = to_amqp(row)
    for _ in range(2):  # the same message, same message_id, published again
        bus.channel().basic_publish(exchange, routing_key, body, props)
    assert consumer.drain(2) == 2

    assert calls == [event_id]
    assert consumer.stats.duplicates == 2
    assert bus.inbox_count(queue) == 1
    assert bus.handled() == [(event_id, "item-0")]


def test_failing_handler_is_retried_then_succeeds(bus):
    calls = []

    def flaky(env, uow):
        calls.append(env.event_id)
        bus.record(env, uow)  # rolled back when it fails
        if len(calls) <= 2:
            raise RuntimeError(f"transient failure {len(calls)}")

    consumer = bus.consumer(max_retries=3, backoff=(0.2, 0.4))
    queue = consumer.subscribe(bus.service, "item_published", "flaky", flaky)
    consumer.declare()
    [event_id] = bus.emit(1)
    bus.relay().run_once()
    consumer.start()

    wait_until(lambda: consumer.stats.handled == 1, message="the event handled after retries")
    assert calls == [event_id] * 3
    assert consumer.stats.retried == 2
    assert bus.handled() == [(event_id, "item-0")]
    assert bus.inbox_count(queue) == 1
    assert consumer.dead_letter_count(queue) == 0


def test_always_failing_handler_ends_in_the_dead_letter_queue(bus):
    calls = []
    broken = [True]

    def handler(env, uow):
        calls.append(env.event_id)
        if broken[0]:
            raise ValueError("item-0 cannot be matched")
        bus.record(env, uow)

    consumer = bus.consumer(max_retries=2, backoff=(0.1, 0.2))
    queue = consumer.subscribe(bus.service, "item_published", "stubborn", handler)
    consumer.declare()
    [event_id] = bus.emit(1)
    bus.relay().run_once()
    consumer.start()

    wait_until(lambda: consumer.stats.dead_lettered == 1, message="the event parked")
    assert calls == [event_id] * 3  # first try + 2 retries
    assert consumer.dead_letter_count(queue) == 1
    [parked] = consumer.dead_letters(queue)
    assert parked.event_id == event_id
    assert parked.retries == 2
    assert parked.error == "ValueError: item-0 cannot be matched"
    assert parked.headers["tenant"] == TENANT
    assert json.loads(parked.body)["item_id"] == "item-0"
    assert bus.inbox_count(queue) == 0
    assert consumer.dead_letter_count(queue) == 1  # looking did not remove it

    broken[0] = False  # fixed: replay it
    assert consumer.replay_dead_letters(queue) == 1
    wait_until(lambda: consumer.stats.handled == 1, message="the replayed event handled")
    assert consumer.dead_letter_count(queue) == 0
    assert bus.handled() == [(event_id, "item-0")]


def test_poison_messages_are_parked_at_once(bus):
    calls = []
    consumer = bus.consumer(max_retries=3, backoff=(0.1,))
    queue = consumer.subscribe(bus.service, "item_published", "record", lambda env, uow: calls.append(env))
    consumer.declare()
    [event_id] = bus.emit(1)
    with relay_transaction(bus.db.engine) as conn:
        row = conn.execute(bus_sql(bus, "SELECT * FROM {s}.outbox")).mappings().one()
    exchange, routing_key, props, _ = to_amqp(row)
    ch = bus.channel()
    ch.basic_publish(exchange, routing_key, b"{not json", props)
    no_tenant = pika.BasicProperties(**{**props.__dict__, "headers": {"event_version": 1}})
    ch.basic_publish(exchange, routing_key, row["body"].encode(), no_tenant)
    consumer.start()

    wait_until(lambda: consumer.stats.dead_lettered == 2, message="two parked messages")
    assert calls == []
    assert consumer.stats.retried == 0
    assert consumer.dead_letter_count(queue) == 2
    errors = sorted(p.error for p in consumer.dead_letters(queue))
    assert errors[0].startswith("poison message: body is not JSON")
    assert errors[1] == "poison message: missing header 'tenant'"
    assert {p.event_id for p in consumer.dead_letters(queue)} == {event_id}
    assert bus.inbox_count(queue) == 0


def test_two_relays_never_publish_a_row_twice(bus):
    probe = bus.plain_queue()
    for n in range(20):
        bus.emit(20, start=20 * n)
    relays = [bus.relay(batch_size=15), bus.relay(batch_size=15)]
    for relay in relays:
        relay.start()

    wait_until(lambda: bus.unsent() == 0, message="outbox drained")
    wait_until(lambda: bus.message_count(probe) >= 400, message="400 messages in the probe queue")
    for relay in relays:
        relay.stop()
    assert sum(r.stats.published for r in relays) == 400
    assert bus.message_count(probe) == 400


def bus_sql(bus, sql):
    return text(sql.format(s=bus.schema))


def _queued(bus, consumer, count: int, **emit) -> list[str]:
    """`count` events published and waiting in the consumer's queue before it starts, so they arrive together."""
    queue = consumer.queue_names()[0]
    ids = bus.emit(count, **emit)
    bus.relay().run_once()
    wait_until(lambda: bus.message_count(queue) == count, message=f"{count} messages queued")
    return ids


@pytest.mark.parametrize("spans", [False, True], ids=["no-spans-kept", "spans-kept"])
def test_events_that_arrive_together_share_one_transaction(bus, spans):
    transactions = []

    def handler(env, uow):
        transactions.append(uow.value("SELECT txid_current()"))
        bus.record(env, uow)

    consumer = bus.consumer(batch=8, spans=spans)
    queue = consumer.subscribe(bus.service, "item_published", "record", handler)
    consumer.declare()
    ids = _queued(bus, consumer, 20)
    consumer.start()

    wait_until(lambda: consumer.stats.handled == 20, message="20 handled events")
    assert bus.handled() == [(event_id, f"item-{i}") for i, event_id in enumerate(ids)]
    assert bus.inbox_count(queue) == 20
    sizes = [transactions.count(t) for t in dict.fromkeys(transactions)]
    assert max(sizes) == 8 and sum(sizes) == 20      # at most `batch` together, none handled twice
    consumer.stop()
    assert bus.message_count(queue) == 0             # all acked


def test_with_a_linger_events_that_come_one_by_one_share_one_transaction(bus):
    """A consumer given a linger waits, after the first delivery, for those that follow shortly: six events
    relayed one at a time, while it runs, are handled in one transaction, in order, each once."""
    transactions = []

    def handler(env, uow):
        transactions.append(uow.value("SELECT txid_current()"))
        bus.record(env, uow)

    consumer = bus.consumer(batch=50, linger=1.0)
    queue = consumer.subscribe(bus.service, "item_published", "record", handler)
    consumer.declare()
    consumer.start()
    relay = bus.relay()
    ids = []
    for i in range(6):          # each its own commit and its own publish: never in one read from the broker
        ids += bus.emit(1, start=i)
        relay.run_once()

    wait_until(lambda: consumer.stats.handled == 6, message="6 handled events")
    assert bus.handled() == [(event_id, f"item-{i}") for i, event_id in enumerate(ids)]
    assert len(set(transactions)) == 1 and len(transactions) == 6
    consumer.stop()
    assert bus.message_count(queue) == 0 and bus.inbox_count(queue) == 6


@pytest.mark.parametrize("linger", [-0.1, 1.5])
def test_a_linger_outside_zero_to_one_second_is_refused(bus, linger):
    with pytest.raises(ValueError, match="linger"):
        bus.consumer(linger=linger)


def test_a_failing_event_in_a_batch_is_retried_alone_and_the_others_are_handled_once(bus):
    calls = []

    def handler(env, uow):
        calls.append(env.body["item_id"])
        bus.record(env, uow)
        if env.body["item_id"] == "item-3":
            raise PermissionError("item-3 cannot be matched")

    consumer = bus.consumer(max_retries=1, backoff=(0.1,), batch=10)
    queue = consumer.subscribe(bus.service, "item_published", "record", handler)
    consumer.declare()
    ids = _queued(bus, consumer, 6)
    consumer.start()

    wait_until(lambda: consumer.stats.dead_lettered == 1, message="item-3 parked")
    assert consumer.stats.handled == 5 and consumer.stats.retried == 1
    assert bus.handled() == [(event_id, f"item-{i}") for i, event_id in enumerate(ids) if i != 3]
    assert bus.inbox_count(queue) == 5
    # together once (rolled back at item-3), then each on its own, then item-3's retry
    assert calls == [f"item-{i}" for i in range(4)] + [f"item-{i}" for i in range(6)] + ["item-3"]
    [parked] = consumer.dead_letters(queue)
    assert parked.error == "PermissionError: item-3 cannot be matched" and parked.event_id == ids[3]


def test_a_batch_is_split_by_tenant_and_each_part_bound_to_its_own(bus):
    seen = []

    def handler(env, uow):
        seen.append((env.tenant, uow.value("SELECT current_setting('app.tenant')"), uow.value("SELECT txid_current()")))
        bus.record(env, uow)       # RLS refuses a row for another tenant than the one bound

    consumer = bus.consumer(batch=50)
    consumer.subscribe(bus.service, "item_published", "record", handler)
    consumer.declare()
    queue = consumer.queue_names()[0]
    bus.emit(2, start=0)
    bus.emit(2, tenant=OTHER_TENANT, start=2)
    bus.emit(1, start=4)
    bus.relay().run_once()
    wait_until(lambda: bus.message_count(queue) == 5, message="5 messages queued")
    consumer.start()

    wait_until(lambda: consumer.stats.handled == 5, message="5 handled events")
    assert [(t, bound) for t, bound, _ in seen] == [(TENANT, TENANT)] * 2 + [(OTHER_TENANT, OTHER_TENANT)] * 2 + [
        (TENANT, TENANT)]
    assert len({tx for _, _, tx in seen}) == 3
    assert [i for _, i in bus.handled()] == ["item-0", "item-1", "item-4"]
    assert [i for _, i in bus.handled(OTHER_TENANT)] == ["item-2", "item-3"]


def test_a_batch_the_broker_refuses_goes_back_unsent_with_its_error_and_is_published_again(bus):
    relay = bus.relay(max_backoff=0.2)
    relay.start()
    bus.emit(1)
    wait_until(lambda: bus.unsent() == 0, message="the first event published (the exchange declared)")
    bus.channel().exchange_delete(bus.exchange)     # the relay still believes it declared: its next publish fails
    ids = bus.emit(2, start=1)

    def attempts():
        return bus.scalar("SELECT count(*) FROM {s}.outbox WHERE attempts > 0 AND last_error LIKE '%NOT_FOUND%'")

    wait_until(lambda: attempts() == 2, message="the refused batch recorded on its rows")
    # then a new channel declares the exchange again and the same rows go out
    wait_until(lambda: bus.unsent() == 0, message="the refused batch published again")
    with relay_transaction(bus.db.engine) as conn:
        rows = conn.execute(text(f"SELECT id::text, attempts, sent_at IS NOT NULL FROM {bus.schema}.outbox"
                                 " WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY seq"), {"ids": ids}).all()
    assert [tuple(r) for r in rows] == [(ids[0], 1, True), (ids[1], 1, True)]
