"""A database outage longer than the retry window (issue 20 item 3): the consumer's PostgreSQL is cut through
a TCP proxy (the machine's PostgreSQL keeps running), every event consumed meanwhile fails through its whole
retry schedule and is parked; the parked count and the oldest's age are visible; `python -m
shared.messaging.replay` moves them back once the database is there again, and every event is applied,
each exactly once. The schedule here is shortened to a fraction of a second so the outage can outlast it
without a long test; the platform's own (DEFAULT_BACKOFF) outlasts 13 hours."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from shared.db import Database
from shared.messaging import EventConsumer
from shared.messaging import replay as replay_command
from shared.messaging.tests import open_bus, wait_until
from shared.messaging.topology import DEFAULT_BACKOFF
from tests.faults.tcp_proxy import TcpProxy

SHORT_SCHEDULE = (0.1, 0.2)       # the retry window of this test: 0.3 s


@pytest.fixture
def bus(test_settings):
    with open_bus(test_settings) as b:
        yield b


@pytest.fixture
def pg_proxy(test_settings):
    url = urlsplit(test_settings.database_url)
    with TcpProxy(url.hostname or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy


def test_the_platform_schedule_outlasts_an_ordinary_outage():
    assert sum(DEFAULT_BACKOFF) >= 12 * 3600            # a night without the on-call engineer
    assert list(DEFAULT_BACKOFF) == sorted(DEFAULT_BACKOFF)


def test_events_parked_by_an_outage_longer_than_the_retries_are_all_applied_after_replay(bus, pg_proxy, capsys):
    db = Database.connect(pg_proxy.rewrite_url(bus.settings.database_url), schema=bus.schema, pool_size=2)
    consumer = EventConsumer(bus.amqp_url, service=f"{bus.service}c", database=db, max_retries=len(SHORT_SCHEDULE),
                             backoff=SHORT_SCHEDULE)
    queue = consumer.subscribe(bus.service, "item_published", "record", bus.record)
    bus.queues.extend(consumer.queue_names())
    try:
        consumer.declare()
        consumer.start()
        relay = bus.relay()           # straight to PostgreSQL: only the consumer loses its database
        relay.start()
        before = bus.emit(5)
        wait_until(lambda: len(bus.handled()) == 5, message="events before the outage")

        pg_proxy.cut()
        during = []
        for n in range(4):
            during += bus.emit(10, start=100 + 10 * n)
        wait_until(lambda: consumer.dead_letter_count(queue) == 40, timeout=60,
                   message="every event of the outage parked after its retries")
        assert len(bus.handled()) == 5 and consumer.stats.retried >= 40 * len(SHORT_SCHEDULE)
        rows = replay_command.parked(bus.amqp_url, [queue])
        assert rows[0].parked == 40 and rows[0].oldest_age_seconds is not None
        outage = (f"outage: 40 events consumed with the database cut, {consumer.stats.retried} retries, "
                  f"{rows[0].parked} parked, the oldest {rows[0].oldest_age_seconds:.1f}s old")

        pg_proxy.restore()
        assert replay_command.main([consumer.service, "--queue", queue, "--amqp-url", bus.amqp_url]) == 0
        assert consumer.dead_letter_count(queue) == 40          # listing moves nothing
        assert replay_command.main([consumer.service, "--queue", queue, "--replay", "--amqp-url", bus.amqp_url]) == 0
        out = capsys.readouterr().out
        assert "replayed 40 in all" in out and "40" in out
        print(outage)
        wait_until(lambda: len(bus.handled()) == 45, timeout=30, message="every parked event applied")
        handled = [event_id for event_id, _ in bus.handled()]
        assert sorted(handled) == sorted(before + during)       # each once
        assert consumer.dead_letter_count(queue) == 0
        print(f"after replay: {len(handled)} applied, 0 lost, {len(handled) - len(set(handled))} twice, 0 parked")
    finally:
        consumer.stop()
        db.dispose()
