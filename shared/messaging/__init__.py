"""Messaging (DESIGN §5): the event envelope, the outbox relay and the event consumer."""

from shared.messaging.consumer import (
    ConsumerStats,
    DeadLetter,
    EventConsumer,
    Subscription,
    dead_letter_queue,
    queue_name,
    retry_queue,
)
from shared.messaging.envelope import Envelope, PoisonMessage, exchange_for, from_amqp, to_amqp
from shared.messaging.relay import OutboxRelay, RelayStats
from shared.messaging.subscriptions import On, consumer_for

__all__ = [
    "ConsumerStats", "DeadLetter", "Envelope", "EventConsumer", "On", "OutboxRelay", "PoisonMessage", "RelayStats",
    "Subscription", "consumer_for", "dead_letter_queue", "exchange_for", "from_amqp", "queue_name", "retry_queue",
    "to_amqp",
]
