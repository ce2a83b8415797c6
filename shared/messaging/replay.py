"""Parked events: how many, how old, and moving them back (issue 20 item 3).

A delivery that keeps failing past the retry schedule (shared.messaging.topology.DEFAULT_BACKOFF, about 13.7
hours) is parked in `<queue>.dlq` with its last error. Once the cause is gone (the database is back, a bug is
fixed) an operator moves the parked events back to their queue with a fresh retry budget; the consumer's inbox
makes an event that was in fact applied meanwhile a no-op.

    python -m shared.messaging.replay intake              # list each queue's parked count and oldest age
    python -m shared.messaging.replay intake --replay     # move every parked event of intake back
    python -m shared.messaging.replay intake --replay --queue evt-approval-case_decided--intake.record_decision
                                                          --limit 100

It runs as the service's own broker user (`SANJI_AMQP_URL`, as the service reads it): that user may read the
service's dead-letter queues and publish to its `<service>.retry` exchange, nothing else. Supervision staff do
the same through the gateway (GET /api/v1/operations/parked, POST /api/v1/operations/parked/replay), which asks
each service's operations API (shared/grpc/operations.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pika

from shared.messaging.consumer import PARKED_AT_HEADER, EventConsumer
from shared.messaging.topology import dead_letter_queue, registry_queues


@dataclass(frozen=True)
class ParkedQueue:
    queue: str                       # the main queue the events were parked from
    parked: int
    oldest_age_seconds: float | None  # None when nothing is parked (or the oldest carries no time)


def service_queues(service: str) -> list[str]:
    """The main queues of a registered service's subscriptions."""
    return [q.queue for q in registry_queues(service)]


def parked(amqp_url: str, queues: Sequence[str]) -> list[ParkedQueue]:
    """Each queue's parked count and the age of its oldest parked event (read without taking it)."""
    now = time.time()
    out = []
    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as conn:
        channel = conn.channel()
        for queue in queues:
            dlq = dead_letter_queue(queue)
            count = channel.queue_declare(dlq, passive=True).method.message_count
            age = None
            if count:
                method, props, _ = channel.basic_get(dlq, auto_ack=False)
                if method is not None:
                    at = (props.headers or {}).get(PARKED_AT_HEADER)
                    age = max(0.0, now - float(at)) if at is not None else None
                    channel.basic_nack(method.delivery_tag, requeue=True)    # back where it was, at the head
            out.append(ParkedQueue(queue, count, age))
    return out


def replay(amqp_url: str, service: str, queues: Sequence[str], limit: int | None = None) -> dict[str, int]:
    """Move parked events of `service`'s `queues` back to their queue; how many per queue."""
    mover = EventConsumer(amqp_url, service=service, database=_NoDatabase())
    moved = {}
    for queue in queues:
        moved[queue] = mover.replay_dead_letters(queue, limit)
    return moved


class _NoDatabase:
    """Replaying touches no database: the consumer object is used for its broker side only."""

    schema = "none"

    def unit_of_work(self, **_kw):  # pragma: no cover — never called by replay_dead_letters
        raise RuntimeError("replay handles no event")


def _print_unroutable(database_url: str, service: str) -> None:
    """The other place an event can wait: the service's outbox, when the broker found no queue for it."""
    from shared.db import make_engine
    from shared.messaging.relay import unroutable_events

    engine = make_engine(database_url)
    try:
        count, oldest = unroutable_events(engine, service)
    finally:
        engine.dispose()
    since = f", the oldest written {oldest:%Y-%m-%d %H:%M:%S %z}" if oldest else ""
    print(f"outbox of {service}: {count} event(s) kept unsent because they reached no queue{since}")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    return f"{seconds / 3600:.1f}h"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.messaging.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("service", help="the consuming service (a row of shared/registry.py)")
    parser.add_argument("--queue", action="append", default=[],
                        help="one main queue (repeatable); default: every subscription of the service")
    parser.add_argument("--replay", action="store_true", help="move the parked events back (default: only list)")
    parser.add_argument("--limit", type=int, default=None, help="at most this many per queue")
    parser.add_argument("--amqp-url", default=None, help="default: the service's SANJI_AMQP_URL")
    parser.add_argument("--database-url", default=None,
                        help="also count the service's events that reached no queue (default: SANJI_DATABASE_URL)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    database_url = args.database_url
    if args.amqp_url:
        url = args.amqp_url
    else:
        from shared.config import PlatformSettings

        settings = PlatformSettings()
        url, database_url = settings.amqp_url, database_url or settings.database_url
    try:
        queues = args.queue or service_queues(args.service)
    except KeyError as exc:
        parser.error(str(exc))
    before = parked(url, queues)
    print(f"{'queue':<70} {'parked':>7} {'oldest':>8}")
    for row in before:
        print(f"{row.queue:<70} {row.parked:>7} {_age(row.oldest_age_seconds):>8}")
    print(f"{'total':<70} {sum(r.parked for r in before):>7}")
    if database_url:
        _print_unroutable(database_url, args.service)
    if args.replay:
        moved = replay(url, args.service, [r.queue for r in before if r.parked], args.limit)
        for queue, n in moved.items():
            print(f"replayed {n} parked event(s) back to {queue}")
        print(f"replayed {sum(moved.values())} in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
