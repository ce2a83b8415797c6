"""Messaging throughput beside bare pika baselines measured in the same run.

(a) baseline: pika BlockingConnection with confirm_delivery(), one persistent publish and one
    confirm round trip at a time;
(b) the outbox relay draining pre-written outbox rows (batched publisher confirms) — aim ≥ 2×(a);
(c) the event consumer (prefetch 100, one transaction with the inbox insert per message) beside a
    bare pika consume with prefetch 100 and one ack per message.
"""

from __future__ import annotations

import json
import time
import uuid

import pika
from sqlalchemy import text

from shared.config import PlatformSettings
from shared.db import Database, make_engine, messaging_tables_statements, owner_connection
from shared.messaging import EventConsumer, OutboxRelay, exchange_for
from tests.bench.common import Figure

PUBLISH_BASELINE_N = 3000
OUTBOX_N = 10_000
TENANT = "620602"
BODY = json.dumps({"item_id": "item-1", "version": 1, "tenant": TENANT, "name": "建筑工程施工许可证核发",
                   "basic_code": "", "item_type": "", "exercise_level": "", "published_at": ""},
                  ensure_ascii=False)


def _baseline_publish(channel, exchange: str, n: int) -> float:
    channel.confirm_delivery()
    props = pika.BasicProperties(content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                                 type="bench_baseline", headers={"tenant": TENANT, "event_version": 1})
    body = BODY.encode()
    t0 = time.perf_counter()
    for _ in range(n):
        props.message_id = str(uuid.uuid4())
        channel.basic_publish(exchange, "bench_baseline", body, props)
    return n / (time.perf_counter() - t0)


def _baseline_consume(channel, queue: str, n: int) -> float:
    channel.basic_qos(prefetch_count=100)
    seen = 0

    def on_message(ch, method, _props, _body):
        nonlocal seen
        ch.basic_ack(method.delivery_tag)
        seen += 1
        if seen >= n:
            ch.stop_consuming()

    channel.basic_consume(queue, on_message, auto_ack=False)
    t0 = time.perf_counter()
    channel.start_consuming()
    return n / (time.perf_counter() - t0)


def _write_outbox(db: Database, n: int) -> None:
    with db.engine.begin() as conn:
        # bound to the tenant as a unit of work is: a row's writer is its transaction's tenant (the outbox's walls)
        conn.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": TENANT})
        conn.execute(text(
            f"INSERT INTO {db.schema}.outbox (id, exchange, routing_key, tenant, body)"
            " SELECT gen_random_uuid(), :exchange, 'item_published', :tenant, :body FROM generate_series(1, :n)"),
            {"exchange": exchange_for(db.service), "tenant": TENANT, "body": BODY, "n": n})


def run(settings: PlatformSettings) -> list[Figure]:
    service = f"bench{uuid.uuid4().hex[:8]}"
    exchange = exchange_for(service)
    raw_queue = f"{service}.raw"
    with owner_connection(settings.database_owner_url) as conn:
        for sql in [f"CREATE SCHEMA {service}", f"GRANT USAGE ON SCHEMA {service} TO sanji_app",
                    *messaging_tables_statements(service)]:
            conn.execute(text(sql))
    db = Database(make_engine(settings.database_url, pool_size=4), schema=service, service=service)
    amqp = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    consumer = EventConsumer(settings.amqp_url, service=service, database=db, prefetch=100)
    consumer.subscribe(service, "item_published", "noop", lambda env, uow: None)
    try:
        ch = amqp.channel()
        ch.exchange_declare(exchange, exchange_type="topic", durable=True, auto_delete=False)
        ch.queue_declare(raw_queue, durable=True)
        ch.queue_bind(raw_queue, exchange, routing_key="item_published")
        ch.queue_declare(f"{service}.baseline", durable=True)
        ch.queue_bind(f"{service}.baseline", exchange, routing_key="bench_baseline")
        consumer.declare()

        publish_baseline = _baseline_publish(amqp.channel(), exchange, PUBLISH_BASELINE_N)
        _write_outbox(db, OUTBOX_N)
        relay = OutboxRelay(db.engine, service, settings.amqp_url, service=service, batch_size=200)
        t0 = time.perf_counter()
        published = relay.drain()
        relay_rate = published / (time.perf_counter() - t0)
        relay.stop()

        consume_baseline = _baseline_consume(amqp.channel(), raw_queue, OUTBOX_N)
        t0 = time.perf_counter()
        consumed = consumer.drain(max_messages=OUTBOX_N, timeout=300)
        consume_rate = consumed / (time.perf_counter() - t0)
        return [
            Figure("outbox relay publish (batched confirms)", relay_rate, "events/s",
                   baseline_name="pika publish, one confirm per message", baseline_value=publish_baseline,
                   note=f"{OUTBOX_N} outbox rows, batch 200; baseline {PUBLISH_BASELINE_N} messages"),
            Figure("event consumer (inbox insert + commit per message)", consume_rate, "events/s",
                   baseline_name="pika consume, prefetch 100, ack per message", baseline_value=consume_baseline,
                   note=f"{consumed} events, prefetch 100, no-op handler"),
        ]
    finally:
        ch = amqp.channel()
        for q in [raw_queue, f"{service}.baseline", *consumer.queue_names()]:
            ch.queue_delete(q)
        ch.exchange_delete(exchange)
        amqp.close()
        db.dispose()
        with owner_connection(settings.database_owner_url) as conn:
            conn.execute(text(f"DROP SCHEMA {service} CASCADE"))


if __name__ == "__main__":
    for fig in run(PlatformSettings()):
        ratio = f"{fig.ratio:.2f}×" if fig.ratio else "-"
        print(f"{fig.name}: {fig.value:,.0f} {fig.unit}  vs {fig.baseline_name}: "
              f"{fig.baseline_value:,.0f}  ratio {ratio}  ({fig.note})")
