"""Events that reach no queue (issue 20 item 1): published `mandatory`, never marked sent when the broker
returns them, an alert naming each, and delivered once a queue is there."""

from __future__ import annotations

import logging

import pytest

from shared import registry
from shared.db import relay_transaction
from shared.messaging import replay
from shared.messaging.relay import UNROUTABLE, routed_event_types, unroutable_events
from shared.messaging.tests import open_bus, wait_until


def unsent(bus) -> tuple[int, int]:
    """(unsent events, of which kept for reaching no queue), seen as the relay sees the outbox."""
    with relay_transaction(bus.db.engine) as conn:
        row = conn.exec_driver_sql(f"SELECT count(*), count(*) FILTER (WHERE last_error LIKE '{UNROUTABLE}%%')"
                                   f" FROM {bus.schema}.outbox WHERE sent_at IS NULL").one()
    return int(row[0]), int(row[1])


@pytest.fixture
def bus(test_settings):
    with open_bus(test_settings) as b:
        yield b


def test_an_event_no_queue_takes_is_kept_unsent_with_an_alert_then_delivered_when_a_queue_is_there(bus, caplog,
                                                                                                    capsys):
    caplog.set_level(logging.ERROR, logger="shared.messaging.relay")
    relay = bus.relay(routed=frozenset({"item_published"}), unroutable_retry=0.2, max_unroutable_retry=0.5)
    relay.start()
    ids = bus.emit(3)
    wait_until(lambda: relay.stats.unroutable >= 3, message="the broker returning the events")
    assert unsent(bus) == (3, 3)                 # not one marked sent; each with its reason
    assert relay.stats.published == 0
    count, oldest = unroutable_events(bus.db.engine, bus.schema)
    assert count == 3 and oldest is not None
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT unroutable event")]
    for event_id in ids:                         # the alert names each event
        assert any(event_id in line and "item_published" in line for line in alerts), event_id

    replay._print_unroutable(bus.settings.database_url, bus.schema)   # what the replay command shows
    assert f"outbox of {bus.schema}: 3 event(s) kept unsent because they reached no queue" in capsys.readouterr().out

    queue = bus.plain_queue("item_published")    # the consumer's queue is declared now
    wait_until(lambda: unsent(bus)[0] == 0, message="the set-aside events delivered")
    wait_until(lambda: bus.message_count(queue) == 3, message="the events in the queue")
    assert unroutable_events(bus.db.engine, bus.schema)[0] == 0
    assert relay.stats.parked == 0


def test_an_event_type_nobody_consumes_goes_out_as_before(bus):
    relay = bus.relay(routed=frozenset({"something_else"}))
    relay.start()
    bus.emit(2)
    wait_until(lambda: unsent(bus)[0] == 0, message="events nobody is owed marked sent")
    assert relay.stats.unroutable == 0


def test_the_registry_says_which_events_must_reach_a_queue():
    assert "case_decided" in routed_event_types("approval")       # intake and fees consume it
    assert "application_accepted" in routed_event_types("intake")
    for spec in registry.SERVICES:                                 # exactly what someone subscribes to
        consumed = {sub.event_type for s in registry.SERVICES for sub in s.subscribes if sub.source == spec.name}
        assert routed_event_types(spec.name) == consumed
        assert routed_event_types(spec.name) <= set(spec.publishes) | consumed
    assert routed_event_types("t0123456789") == frozenset()         # not a registered service: nothing owed
