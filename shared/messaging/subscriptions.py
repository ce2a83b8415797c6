"""A service's subscription table: the events it consumes, as data beside its servicer (service.py).

Each row binds one subscription of the registry (`shared/registry.py`: source, event type, handler name)
to the event's message class and to the call that translates the message into the handler's own
arguments. The consumer reads every event the one typed way, `Envelope.message(cls)`, so handlers
never see protobuf or JSON. The table and the registry must agree row for row: `consumer_for` refuses
to start a service whose table names a subscription the registry does not, or misses one it does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from shared import registry
from shared.db import Database, UnitOfWork
from shared.messaging.consumer import EventConsumer
from shared.messaging.envelope import Envelope


@dataclass(frozen=True)
class On:
    """One row: on the registry's subscription `handler`, read the body as `message` and `call`
    (handlers, message, envelope, unit of work)."""

    handler: str
    message: type[Message]
    call: Callable[[Any, Any, Envelope, UnitOfWork], None]

    def deliver(self, handlers: Any, env: Envelope, uow: UnitOfWork) -> None:
        """One delivery: the body read as this row's message (the one typed way), then the row's call."""
        self.call(handlers, env.message(self.message), env, uow)

    def bound(self, handlers: Any) -> Callable[[Envelope, UnitOfWork], None]:
        """The consumer's handler for this row's queue."""
        return lambda env, uow: self.deliver(handlers, env, uow)


def check_table(service: str, table: Sequence[On]) -> None:
    """The table and the registry's subscriptions of `service` name the same handlers."""
    wanted = {sub.handler for sub in registry.spec(service).subscribes}
    have = [on.handler for on in table]
    if len(set(have)) != len(have) or set(have) != wanted:
        raise ValueError(f"{service}: subscription table {sorted(have)} does not match shared/registry.py"
                         f" {sorted(wanted)}")


def consumer_for(service: str, table: Sequence[On], handlers: Any, db: Database, amqp_url: str,
                 **options: Any) -> EventConsumer:
    """The service's event consumer with one queue per registry subscription, each bound through the table."""
    check_table(service, table)
    rows = {on.handler: on for on in table}
    consumer = EventConsumer(amqp_url, service=service, database=db, **options)
    for sub in registry.spec(service).subscribes:
        consumer.subscribe(sub.source, sub.event_type, sub.handler, rows[sub.handler].bound(handlers))
    return consumer
