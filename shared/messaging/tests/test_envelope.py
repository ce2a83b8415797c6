"""The envelope on the wire: round trip, validation, and the exact shape a nameko handler receives."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pika
import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from shared.messaging import Envelope, PoisonMessage, from_amqp, queue_name, to_amqp
from shared.messaging.tests import TENANT, open_bus, wait_until

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7
TRACEPARENT = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


@pytest.fixture
def bus(test_settings):
    with open_bus(test_settings) as b:
        yield b


def outbox_row(**overrides):
    row = {"seq": 1, "id": uuid.uuid4(), "exchange": "catalogue.events", "routing_key": "item_published",
           "tenant": TENANT, "correlation_id": "LZ-2024-0001", "event_version": 2,
           "body": json.dumps({"item_id": "i-1", "name": "事项"}, ensure_ascii=False),
           "headers": {"traceparent": TRACEPARENT, "tracestate": "vendor=1", "other": "dropped"},
           "created_at": dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)}
    return row | overrides


def deliver(exchange="catalogue.events", routing_key="item_published"):
    return pika.spec.Basic.Deliver(delivery_tag=1, exchange=exchange, routing_key=routing_key)


def test_round_trip():
    row = outbox_row()
    exchange, routing_key, props, body = to_amqp(row)
    assert (exchange, routing_key) == ("catalogue.events", "item_published")
    assert props.headers == {"tenant": TENANT, "event_version": 2, "correlation_id": "LZ-2024-0001",
                             "traceparent": TRACEPARENT, "tracestate": "vendor=1"}
    env = from_amqp(deliver(), props, body)
    assert env == Envelope(event_id=str(row["id"]), event_type="item_published", tenant=TENANT,
                           correlation_id="LZ-2024-0001", event_version=2, traceparent=TRACEPARENT,
                           tracestate="vendor=1", timestamp=int(row["created_at"].timestamp()),
                           source="catalogue", body={"item_id": "i-1", "name": "事项"})


def test_optional_headers_are_left_out():
    _, _, props, _ = to_amqp(outbox_row(correlation_id=None, headers={}))
    assert props.headers == {"tenant": TENANT, "event_version": 2}
    assert from_amqp(deliver(), props, b"{}").correlation_id is None


@pytest.mark.parametrize(("change", "reason"), [
    (lambda p, b: (p, b"not json"), "not JSON"),
    (lambda p, b: (p, b"[1, 2]"), "not an object"),
    (lambda p, b: (p, b"\xff\xfe"), "not JSON"),
    (lambda p, b: (_without_header(p, "tenant"), b), "missing header 'tenant'"),
    (lambda p, b: (_with_header(p, "tenant", "Lanzhou"), b), "not a division code"),
    (lambda p, b: (_with_header(p, "event_version", "two"), b), "event_version"),
    (lambda p, b: (_with(p, message_id=None), b), "message_id"),
    (lambda p, b: (_with(p, message_id="42"), b), "message_id"),
])
def test_unusable_deliveries_are_poison(change, reason):
    _, _, props, body = to_amqp(outbox_row())
    props, body = change(props, body)
    with pytest.raises(PoisonMessage, match=reason):
        from_amqp(deliver(), props, body)


def _with(props, **fields):
    new = pika.BasicProperties(**{k: getattr(props, k) for k in (
        "content_type", "content_encoding", "headers", "delivery_mode", "message_id", "timestamp", "type",
        "app_id")})
    for k, v in fields.items():
        setattr(new, k, v)
    return new


def _with_header(props, key, value):
    return _with(props, headers=props.headers | {key: value})


def _without_header(props, key):
    return _with(props, headers={k: v for k, v in props.headers.items() if k != key})


def test_published_message_is_what_a_nameko_handler_consumes(bus):
    """The relay's message, read from a queue named and bound as nameko's @event_handler does."""
    ch = bus.channel()
    queue = queue_name(bus.service, "item_published", "listener", "on_item_published")
    assert queue == f"evt-{bus.service}-item_published--listener.on_item_published"
    ch.exchange_declare(bus.exchange, exchange_type="topic", durable=True, auto_delete=False)
    ch.queue_declare(queue, durable=True)
    ch.queue_bind(queue, bus.exchange, routing_key="item_published")
    bus.queues.append(queue)

    parent = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(1)))
    with trace.use_span(parent):
        [event_id] = bus.emit(1, correlation_id="LZ-2024-0007")
    assert bus.relay().run_once() == 1

    method, props, body = wait_until(lambda: _get(ch, queue), message="the published message")
    assert (method.exchange, method.routing_key) == (bus.exchange, "item_published")
    assert props.content_type == "application/json"
    assert props.content_encoding == "utf-8"
    assert props.delivery_mode == 2
    assert props.message_id == event_id
    assert props.type == "item_published"
    assert props.app_id == bus.service
    assert isinstance(props.timestamp, int) and props.timestamp > 1_700_000_000
    assert set(props.headers) == {"tenant", "event_version", "correlation_id", "traceparent"}
    assert props.headers["tenant"] == TENANT
    assert props.headers["event_version"] == 1
    assert props.headers["correlation_id"] == "LZ-2024-0007"
    assert props.headers["traceparent"].split("-")[1] == f"{TRACE_ID:032x}"  # same trace
    assert json.loads(body) == {"item_id": "item-0", "version": 1, "tenant": TENANT, "name": "事项0",
                                "basic_code": "", "item_type": "", "exercise_level": "", "published_at": ""}
    # the exchange is topic, durable, not auto-delete: redeclaring with those attributes is accepted
    ch.exchange_declare(bus.exchange, exchange_type="topic", durable=True, auto_delete=False)


def _get(ch, queue):
    method, props, body = ch.basic_get(queue, auto_ack=True)
    return (method, props, body) if method else None
