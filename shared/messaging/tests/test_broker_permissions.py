"""The broker is no open door (issue 15, item 2): each service has its own broker user, which can publish
only to its own exchanges and read only its own queues, and a consumer takes an event only from the broker
user of the service that publishes it. Tried against the real RabbitMQ with the users the bootstrap makes.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from urllib.parse import urlparse

import pika
import pika.exceptions
import pytest
from sanji.fees.v1.events_pb2 import FeesSettled

from infra.local import bootstrap
from infra.local.bootstrap import DEV_BROKER_PASSWORD, service_amqp_url
from shared.config import PlatformSettings
from shared.messaging import topology
from shared.messaging.tests import TENANT, open_bus, wait_until
from shared.protojson import message_to_json

CTL = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"


def _vhost(settings: PlatformSettings) -> str:
    return urlparse(settings.amqp_url).path.lstrip("/") or "/"


@pytest.fixture(scope="module")
def broker(test_settings):
    """A vhost set up as the bootstrap sets one up for make run: a user per service, the whole topology."""
    vhost = f"{_vhost(test_settings)}_broker"
    bootstrap.ensure_vhost(vhost, recreate=True)
    bootstrap.declare_topology(vhost)
    yield vhost
    subprocess.run([CTL, "-q", "delete_vhost", vhost], capture_output=True)


def _as(vhost: str, service: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(service_amqp_url(service, vhost)))


def _publish(conn: pika.BlockingConnection, exchange: str, routing_key: str, *, user_id: str | None = None) -> None:
    channel = conn.channel()
    channel.confirm_delivery()
    body = message_to_json(FeesSettled(case_number="620602-20261206-0001", tenant=TENANT, paid_fen=100)).encode()
    props = pika.BasicProperties(message_id=str(uuid.uuid4()), type=routing_key, user_id=user_id,
                                 headers={"tenant": TENANT, "event_version": 1}, content_type="application/json")
    channel.basic_publish(exchange, routing_key, body, props)


def test_a_service_publishes_to_its_own_exchange_and_no_other(broker):
    with _as(broker, "intake") as conn:
        _publish(conn, "intake.events", "result_picked_up", user_id="sanji-intake")       # its own: fine
    with _as(broker, "intake") as conn, pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
        _publish(conn, "fees.events", "fees_settled")                    # a forged fees_settled
    assert e.value.reply_code == 403 and "fees.events" in e.value.reply_text


def test_the_default_exchange_cannot_reach_another_services_queue(broker):
    queue = topology.queue_name("fees", "fees_settled", "approval", "settle_fees")
    with _as(broker, "intake") as conn, pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
        _publish(conn, "", queue)
    assert e.value.reply_code == 403


def test_a_service_cannot_publish_in_another_services_name(broker):
    with _as(broker, "intake") as conn, pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
        _publish(conn, "intake.events", "result_picked_up", user_id="sanji-fees")
    assert e.value.reply_code == 406          # RabbitMQ: user_id is not the connection's user


def test_a_service_reads_only_its_own_queues(broker):
    theirs = topology.queue_name("approval", "case_decided", "fees", "on_case_decided")
    with _as(broker, "approval") as conn, pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
        conn.channel().basic_get(theirs)
    assert e.value.reply_code == 403
    with _as(broker, "fees") as conn:
        conn.channel().queue_declare(theirs, passive=True)            # its own: the bootstrap declared it


def test_every_subscription_queue_exists_before_any_service_connects(broker):
    """Declared from the registry by the bootstrap: an event published before its consumer's first
    connection lands in the queue instead of vanishing."""
    with pika.BlockingConnection(pika.URLParameters(f"amqp://guest:guest@127.0.0.1:5672/{broker}")) as conn:
        channel = conn.channel()
        for spec in topology.registry.SERVICES:
            for q in topology.registry_queues(spec.name):
                channel.queue_declare(q.queue, passive=True)
                channel.queue_declare(topology.dead_letter_queue(q.queue), passive=True)


@pytest.fixture
def bus_with_user(test_settings):
    """A throw-away service whose broker user may use its own exchanges and queues (as the bootstrap sets)."""
    with open_bus(test_settings) as bus:
        vhost = _vhost(test_settings)
        names = [bus.service, f"{bus.service}c"]
        for name in names:
            user = topology.broker_user(name)
            subprocess.run([CTL, "-q", "add_user", user, DEV_BROKER_PASSWORD], capture_output=True)
            own = f"^({name}\\.(events|retry)|evt-.*--{name}\\..*|{bus.service}\\.events)$"
            subprocess.run([CTL, "-q", "set_permissions", "-p", vhost, user, own, own, own], check=True,
                           capture_output=True)
        try:
            yield bus
        finally:
            for name in names:
                subprocess.run([CTL, "-q", "delete_user", topology.broker_user(name)], capture_output=True)


def test_a_consumer_parks_an_event_its_source_did_not_publish(test_settings, bus_with_user):
    bus = bus_with_user
    consumer = bus.consumer(verify_publishers=True)
    queue = consumer.subscribe(bus.service, "item_published", "record", bus.record)
    consumer.declare()
    # the administrator (guest) can write anywhere; a message it sends is still not the source's event
    with pika.BlockingConnection(pika.URLParameters(test_settings.amqp_url)) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish(bus.exchange, "item_published", b'{"item_id": "forged", "tenant": "620602"}',
                              pika.BasicProperties(message_id=str(uuid.uuid4()), type="item_published",
                                                   user_id="guest", headers={"tenant": TENANT}))
    # the source's own relay, on its own broker user, publishes a real one
    own_url = service_amqp_url(bus.service, _vhost(test_settings))
    bus.emit(1)
    bus.relay(own_url).run_once()
    consumer.drain(max_messages=1, timeout=20)
    assert [item for _, item in bus.handled()] == ["item-0"]
    wait_until(lambda: consumer.dead_letter_count(queue) == 1, message="the forged event parked")
    [parked] = consumer.dead_letters(queue)
    assert "forged" in parked.error
