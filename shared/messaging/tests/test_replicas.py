"""Replicas as competing consumers (issue 22 item 5): what per-case ordering needs under N replicas.

Two consumers of one service on the same queue are two replicas of it: RabbitMQ hands each delivery to
one of them, and with prefetch and batching both hold events of the same case at once. No order is
promised — not across queues (one per event type) even with one replica, and not within a queue under N —
so the platform's handlers need three things, and only these:

1. the inbox, in the handler's own transaction: a redelivery (a replica died before its ack, or the
   broker gave the message to the other one) is a no-op wherever it lands;
2. the case's row locked (SELECT … FOR UPDATE) before the handler reads and changes it: two replicas
   handling events of one case run one after the other, so no update is lost;
3. a handler whose prerequisite has not arrived yet does not guess: it raises, and the consumer's retry
   schedule brings the event back once the earlier one is applied (approval's application_terminated
   before its application_accepted, commit 55f4466); facts that commute (a decision recorded after the
   completion) are applied in whatever order they come.

The test plays that out on the real PostgreSQL and RabbitMQ: twenty cases, each opened by one event and
changed by nineteen more, the changes published *before* the opening, consumed by two replicas.
"""

from __future__ import annotations

import pytest
from sanji.catalogue.v1.events_pb2 import ItemPublished
from sqlalchemy import text

from shared.db import owner_connection, tenant_rls_statements
from shared.messaging.tests import TENANT, open_bus, wait_until

CASES, CHANGES = 20, 19
BACKOFF = (0.2, 0.5, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0)     # short: a test's minutes, not a machine room's hours


@pytest.fixture
def bus(test_settings):
    with open_bus(test_settings) as b:
        with owner_connection(test_settings.database_owner_url) as conn:
            for statement in [f"CREATE TABLE {b.schema}.cases (tenant_code text NOT NULL, case_number text PRIMARY KEY,"
                              " applied int[] NOT NULL DEFAULT '{}', by_consumer text[] NOT NULL DEFAULT '{}')",
                              *tenant_rls_statements(f"{b.schema}.cases")]:
                conn.execute(text(statement))
        yield b


class NotOpenYet(Exception):
    """The case this change belongs to has not been opened: retried later, never guessed."""


def _handler(bus, replica: str):
    def handle(env, uow):
        case, seq = env.correlation_id, int(env.body["version"])
        if seq == 0:                                          # the opening event
            uow.session.execute(text(f"INSERT INTO {bus.schema}.cases (tenant_code, case_number) VALUES (:t, :c)"
                                     " ON CONFLICT DO NOTHING"), {"t": env.tenant, "c": case})
            return
        found = uow.session.execute(text(f"SELECT 1 FROM {bus.schema}.cases WHERE case_number = :c FOR UPDATE"),
                                    {"c": case}).first()
        if found is None:
            raise NotOpenYet(case)
        uow.session.execute(text(f"UPDATE {bus.schema}.cases SET applied = array_append(applied, CAST(:n AS int)),"
                                 " by_consumer = array_append(by_consumer, CAST(:r AS text)) WHERE case_number = :c"),
                            {"n": seq, "r": replica, "c": case})
    return handle


def _emit(bus, case: str, seqs: range) -> None:
    with bus.db.unit_of_work(tenant=TENANT) as uow:
        for n in seqs:
            uow.emit(ItemPublished(item_id=f"{case}:{n}", version=n, tenant=TENANT, name="变更"), correlation_id=case)
        uow.commit()


def test_two_replicas_apply_every_event_of_every_case_once_whatever_the_order(bus):
    replicas = []
    for name in ("replica-1", "replica-2"):
        consumer = bus.consumer(service=f"{bus.service}c", prefetch=20, batch=5, backoff=BACKOFF,
                                max_retries=len(BACKOFF))
        queue = consumer.subscribe(bus.service, "item_published", "apply", _handler(bus, name))
        replicas.append(consumer)
    replicas[0].declare()
    cases = [f"LZ-2026-{i:04d}" for i in range(CASES)]
    for case in cases:
        _emit(bus, case, range(1, CHANGES + 1))               # the changes first …
    for case in cases:
        _emit(bus, case, range(0, 1))                         # … then the openings they need
    relay = bus.relay(batch_size=50)
    relay.start()
    for consumer in replicas:
        consumer.start()

    def applied() -> dict[str, list[int]]:
        with bus.db.unit_of_work(tenant=TENANT) as uow:
            return {c: list(a) for c, a in uow.session.execute(
                text(f"SELECT case_number, applied FROM {bus.schema}.cases"))}
    wait_until(lambda: sum(map(len, applied().values())) >= CASES * CHANGES, timeout=120,
               message="every change applied")
    wait_until(lambda: bus.inbox_count(queue) == CASES * (CHANGES + 1), timeout=30, message="every event in the inbox")
    for consumer in replicas:
        consumer.stop()

    done = applied()
    assert sorted(done) == cases
    assert all(sorted(seqs) == list(range(1, CHANGES + 1)) for seqs in done.values())   # none lost, none twice
    with bus.db.unit_of_work(tenant=TENANT) as uow:
        by = [r[0] for r in uow.session.execute(text(f"SELECT unnest(by_consumer) FROM {bus.schema}.cases"))]
    assert {"replica-1", "replica-2"} <= set(by)              # both replicas did part of the work
    assert sum(c.stats.duplicates for c in replicas) == 0
    assert replicas[0].dead_letter_count(queue) == 0          # nothing parked: retried until its case was open
    assert sum(c.stats.retried for c in replicas) > 0         # the changes did come before their opening
