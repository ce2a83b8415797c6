"""Helpers for the messaging tests: a throw-away schema and service per test ("a bus").

Each test gets its own schema `t<hex>` (outbox, inbox and a tenant-walled `handled` table), the
service of the same name (exchange `t<hex>.events`), and a teardown that stops the relays and
consumers it made, deletes their queues and the exchange, and drops the schema.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pika
from sanji.catalogue.v1.events_pb2 import ItemPublished
from sqlalchemy import text

from shared.config import PlatformSettings
from shared.db import (
    Database,
    make_engine,
    messaging_tables_statements,
    owner_connection,
    relay_transaction,
    tenant_rls_statements,
)
from shared.messaging import Envelope, EventConsumer, OutboxRelay, exchange_for

TENANT = "620602"  # 凉州区
OTHER_TENANT = "620602001"


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05,
               message: str = "condition") -> Any:
    """Poll `condition` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message} (last: {value!r})")
        time.sleep(interval)


@dataclass
class Bus:
    settings: PlatformSettings
    service: str
    db: Database
    amqp_url: str
    _closers: list[Callable[[], None]] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    _channel: Any = None

    @property
    def schema(self) -> str:
        return self.service

    @property
    def exchange(self) -> str:
        return exchange_for(self.service)

    # --- things the test makes, cleaned up afterwards ------------------------------------------

    def relay(self, amqp_url: str | None = None, **kw: Any) -> OutboxRelay:
        relay = OutboxRelay(self.db.engine, self.schema, amqp_url or self.amqp_url, service=self.service, **kw)
        self._closers.append(relay.stop)
        return relay

    def consumer(self, amqp_url: str | None = None, *, service: str | None = None, **kw: Any) -> EventConsumer:
        consumer = EventConsumer(amqp_url or self.amqp_url, service=service or f"{self.service}c", database=self.db,
                                 **kw)
        self._closers.append(lambda: self.queues.extend(consumer.queue_names()))
        self._closers.append(consumer.stop)
        return consumer

    def channel(self) -> Any:
        """A channel of the test's own (one) connection."""
        if self._channel is None or not self._channel.is_open:
            conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
            self._closers.append(lambda: conn.is_open and conn.close())
            self._channel = conn.channel()
        return self._channel

    def plain_queue(self, routing_key: str = "#") -> str:
        """A queue bound to this service's exchange, to look at what was published."""
        ch = self.channel()
        ch.exchange_declare(self.exchange, exchange_type="topic", durable=True, auto_delete=False)
        name = f"{self.service}.probe.{uuid.uuid4().hex[:6]}"
        ch.queue_declare(name, durable=True)
        ch.queue_bind(name, self.exchange, routing_key=routing_key)
        self.queues.append(name)
        return name

    def message_count(self, queue: str) -> int:
        return self.channel().queue_declare(queue, passive=True).method.message_count

    # --- events and the database ---------------------------------------------------------------

    def emit(self, count: int = 1, *, tenant: str = TENANT, correlation_id: str | None = None,
             start: int = 0) -> list[str]:
        """Commit `count` ItemPublished events (item-<n>) in one unit of work; their event ids."""
        with self.db.unit_of_work(tenant=tenant) as uow:
            events = [uow.emit(ItemPublished(item_id=f"item-{start + i}", version=1, tenant=tenant,
                                             name=f"事项{start + i}"), correlation_id=correlation_id)
                      for i in range(count)]
            uow.commit()
        return [str(ev.event_id) for ev in events]

    def scalar(self, sql: str, **params: Any) -> Any:
        with relay_transaction(self.db.engine) as conn:
            return conn.execute(text(sql.format(s=self.schema)), params).scalar()

    def unsent(self) -> int:
        return self.scalar("SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL")

    def inbox_count(self, consumer: str) -> int:
        return self.scalar("SELECT count(*) FROM {s}.inbox WHERE consumer = :c", c=consumer)

    def record(self, env: Envelope, uow: Any) -> None:
        """A handler: one row in the tenant-walled `handled` table (RLS proves the tenant binding)."""
        uow.session.execute(text(f"INSERT INTO {self.schema}.handled (tenant_code, event_id, item_id)"
                                 " VALUES (:t, :e, :i)"),
                            {"t": env.tenant, "e": env.event_id, "i": env.body["item_id"]})

    def handled(self, tenant: str = TENANT) -> list[tuple[str, str]]:
        """(event_id, item_id) of the handled rows visible to `tenant`, in insertion order."""
        with self.db.unit_of_work(tenant=tenant) as uow:
            rows = uow.session.execute(text(f"SELECT event_id, item_id FROM {self.schema}.handled ORDER BY id"))
            return [(str(e), i) for e, i in rows]

    def close(self) -> None:
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):
                close()
        with pika.BlockingConnection(pika.URLParameters(self.amqp_url)) as conn:
            ch = conn.channel()
            for q in self.queues:
                ch.queue_delete(q)
            ch.exchange_delete(self.exchange)


@contextlib.contextmanager
def open_bus(settings: PlatformSettings) -> Iterator[Bus]:
    service = f"t{uuid.uuid4().hex[:10]}"
    with owner_connection(settings.database_owner_url) as conn:
        for sql in [f"CREATE SCHEMA {service}", f"GRANT USAGE ON SCHEMA {service} TO sanji_app",
                    *messaging_tables_statements(service),
                    f"CREATE TABLE {service}.handled (id bigserial PRIMARY KEY, tenant_code text NOT NULL,"
                    " event_id uuid NOT NULL, item_id text NOT NULL)",
                    f"GRANT USAGE ON SEQUENCE {service}.handled_id_seq TO sanji_app",
                    *tenant_rls_statements(f"{service}.handled")]:
            conn.execute(text(sql))
    db = Database(make_engine(settings.database_url, pool_size=5), schema=service, service=service)
    bus = Bus(settings=settings, service=service, db=db, amqp_url=settings.amqp_url)
    try:
        yield bus
    finally:
        try:
            bus.close()
        finally:
            db.dispose()
            with owner_connection(settings.database_owner_url) as conn:
                conn.execute(text(f"DROP SCHEMA {service} CASCADE"))
