"""The broker's topology, from the service registry: exchanges, queues, bindings and who may use them.

Per service `<s>` (a row of shared/registry.py):

- `<s>.events` (topic): the events it publishes; only `<s>`'s broker user may write to it;
- `<s>.retry` (direct): where its consumer sends a failed delivery to wait (`<queue>.retry.<n>`, routed
  by that queue's name), parks it (`<queue>.dlq`) and replays it (`<queue>`); only `<s>` writes to it,
  and it routes only to `<s>`'s own queues;
- for each subscription, `evt-<source>-<type>--<s>.<handler>` bound to `<source>.events`, its retry
  queues (with a TTL and a dead-letter route back to it) and its dead-letter queue.

`declare_registry` declares all of it before any service runs (`make run`, the tests' bootstrap, the
migration Job in k8s), so an event published before its consumer first connects still has a queue to
land in. A service then declares nothing outside its own exchanges: its consumer checks its queues
passively. `permissions` gives each service's broker user exactly this and nothing more: it can
publish only to its own exchanges, read only its own queues, and never write to the default exchange
(which would reach any queue by name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared import registry
from shared.messaging.envelope import declare_exchange_args, exchange_for

RETRY_SUFFIX = ".retry"
# The retry schedule every consumer and the topology share (queue arguments must agree on redeclare): seconds
# before each retry of a failing delivery, one delay queue per retry. It is a default chosen to outlast the
# outages a county machine room sees (issue 20 item 3): a PostgreSQL restart or failover (seconds to minutes),
# a maintenance window or a night without the on-call engineer (hours) — about 13.7 hours in all before a
# delivery is parked; a parked one waits in `<queue>.dlq` for `python -m shared.messaging.replay`. The first
# five delays are those of the first schedule, so queues declared before keep their arguments; only longer
# ones were added. A deployment wanting another schedule changes it here and re-runs the bootstrap.
DEFAULT_BACKOFF: tuple[float, ...] = (1, 5, 30, 120, 600, 1800, 3600, 7200, 14400, 21600)
DEFAULT_MAX_RETRIES = len(DEFAULT_BACKOFF)
BROKER_USER_PREFIX = "sanji-"


def retry_exchange_for(service: str) -> str:
    return f"{service}{RETRY_SUFFIX}"


def broker_user(service: str) -> str:
    """The broker user a service publishes and consumes as (RabbitMQ checks `user_id` against it)."""
    return f"{BROKER_USER_PREFIX}{service}"


def queue_name(source: str, event_type: str, service: str, handler_name: str) -> str:
    """The queue a nameko `@event_handler(source, event_type)` on `service.handler_name` uses."""
    return f"evt-{source}-{event_type}--{service}.{handler_name}"


def retry_queue(queue: str, attempt: int) -> str:
    return f"{queue}.retry.{attempt}"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dlq"


def delay(backoff: Sequence[float], attempt: int) -> float:
    """Seconds before retry `attempt` (1-based); the last backoff repeats."""
    return float(backoff[min(attempt, len(backoff)) - 1])


@dataclass(frozen=True)
class QueueSpec:
    source: str
    event_type: str
    queue: str


def declare_service_exchanges(channel: Any, service: str) -> None:
    channel.exchange_declare(**declare_exchange_args(service))
    channel.exchange_declare(exchange=retry_exchange_for(service), exchange_type="direct", durable=True,
                             auto_delete=False)


def declare_queues(channel: Any, service: str, queues: Iterable[QueueSpec], *, max_retries: int = DEFAULT_MAX_RETRIES,
                   backoff: Sequence[float] = DEFAULT_BACKOFF, passive: bool = False) -> None:
    """The queues of `service`'s subscriptions; `passive`: only check they exist (a service's own user)."""
    retry_x = retry_exchange_for(service)
    for spec in queues:
        q = spec.queue
        names = [q, dead_letter_queue(q), *(retry_queue(q, n) for n in range(1, max_retries + 1))]
        if passive:
            for name in names:
                channel.queue_declare(name, passive=True)
            continue
        channel.exchange_declare(**declare_exchange_args(spec.source))
        channel.queue_declare(q, durable=True, arguments={
            "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead_letter_queue(q)})
        channel.queue_bind(q, exchange_for(spec.source), routing_key=spec.event_type)
        channel.queue_bind(q, retry_x, routing_key=q)                      # replay of parked messages
        channel.queue_declare(dead_letter_queue(q), durable=True)
        channel.queue_bind(dead_letter_queue(q), retry_x, routing_key=dead_letter_queue(q))
        for n in range(1, max_retries + 1):
            rq = retry_queue(q, n)
            channel.queue_declare(rq, durable=True, arguments={
                "x-message-ttl": int(delay(backoff, n) * 1000),
                "x-dead-letter-exchange": "", "x-dead-letter-routing-key": q})
            channel.queue_bind(rq, retry_x, routing_key=rq)


def registry_queues(service: str) -> list[QueueSpec]:
    return [QueueSpec(sub.source, sub.event_type, queue_name(sub.source, sub.event_type, service, sub.handler))
            for sub in registry.spec(service).subscribes]


def declare_registry(channel: Any, *, max_retries: int = DEFAULT_MAX_RETRIES,
                     backoff: Sequence[float] = DEFAULT_BACKOFF) -> int:
    """Every service's exchanges and every subscription's queues (as an administrator); how many queues."""
    count = 0
    for spec in registry.SERVICES:
        declare_service_exchanges(channel, spec.name)
    for spec in registry.SERVICES:
        queues = registry_queues(spec.name)
        declare_queues(channel, spec.name, queues, max_retries=max_retries, backoff=backoff)
        count += len(queues)
    return count


def permissions(service: str) -> tuple[str, str, str]:
    """(configure, write, read) regular expressions for `service`'s broker user in the vhost."""
    own_queues = f"evt-[a-z_]+-[a-z_]+--{re.escape(service)}\\.[a-z_]+(\\.dlq|\\.retry\\.[0-9]+)?"
    own_exchanges = f"{re.escape(service)}\\.events|{re.escape(service)}\\.retry"
    sources = sorted({sub.source for sub in registry.spec(service).subscribes})
    readable = "|".join([own_queues, own_exchanges, *(f"{re.escape(s)}\\.events" for s in sources)])
    return f"^({own_exchanges}|{own_queues})$", f"^({own_exchanges}|{own_queues})$", f"^({readable})$"
