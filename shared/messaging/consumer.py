"""Event consumer: inbox dedupe, manual acks, bounded retries with backoff, dead letters (DESIGN §5).

For each subscription the consumer owns, in its service's vhost:

- `evt-{source}-{event_type}--{service}.{handler}` — the main queue (nameko's naming), durable,
  bound to `<source>.events` with the event type as routing key;
- `<queue>.retry.<n>` — delay queues, one per attempt, with `x-message-ttl` = backoff[n] and a
  dead-letter route back to the main queue through the default exchange;
- `<queue>.dlq` — parked messages (never consumed automatically), with the last error and the
  retry count in headers; `replay_dead_letters` moves them back.

A delivery is handled in a unit of work bound to the envelope's tenant. The event id goes into
`<schema>.inbox` in that same transaction; if it is already there the handler is skipped. The
delivery is acked after commit, so a crash before commit means a redelivery, which is a no-op once
committed. A failing handler is retried through the delay queues and parked after `max_retries`;
an unusable envelope is parked at once. Nothing is dropped silently.

Deliveries that arrive together (what one read from the broker brings, up to `batch`) for the same
tenant share one unit of work, each with its inbox row, handled in the order they came: BEGIN, the
tenant binding, the outbox and the COMMIT are paid once for all of them. If any of them fails, the
whole transaction rolls back and each is handled again on its own, so only the one at fault is
retried or parked. Under light load a batch is one delivery and nothing waits for company, unless the
consumer is given a `linger`: then, once a delivery has arrived, it keeps reading for up to that long
(or until `batch` have come) before handling them. A service whose events are off the case's critical
path (supervision's read model and audit chain, docking's reports) trades those milliseconds for one
transaction and one ack per run instead of one per event.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pika
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Status, StatusCode

from shared.db import Database, UnitOfWork
from shared.messaging.envelope import Envelope, PoisonMessage, from_amqp
from shared.messaging.topology import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_RETRIES,
    QueueSpec,
    broker_user,
    dead_letter_queue,
    declare_queues,
    declare_service_exchanges,
    queue_name,
    retry_exchange_for,
    retry_queue,
)
from shared.messaging.topology import delay as topology_delay
from shared.telemetry import spans_recorded
from shared.tenancy import DivisionCode, Principal, Role, acting_as

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

RETRY_HEADER = "x-sanji-retries"
ERROR_HEADER = "x-sanji-error"
QUEUE_HEADER = "x-sanji-queue"
PARKED_AT_HEADER = "x-sanji-parked-at"
BROKER_HEADERS = frozenset({"x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                            "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason"})

Handler = Callable[[Envelope, UnitOfWork], None]


@dataclass(frozen=True)
class Subscription:
    source: str
    event_type: str
    handler_name: str
    handler: Handler
    queue: str


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    retried: int = 0
    dead_lettered: int = 0

    @property
    def processed(self) -> int:
        return self.handled + self.duplicates + self.retried + self.dead_lettered


@dataclass(frozen=True)
class _Delivery:
    """A delivery read from the broker, waiting to be handled with the others of its read."""

    sub: Subscription
    tag: int
    props: pika.BasicProperties
    body: bytes
    retries: int
    env: Envelope


@dataclass(frozen=True)
class DeadLetter:
    """A parked message as found in `<queue>.dlq`."""

    event_id: str | None
    event_type: str | None
    error: str
    retries: int
    headers: dict[str, Any]
    body: bytes


def _retries_of(props: pika.BasicProperties) -> int:
    try:
        return int((props.headers or {}).get(RETRY_HEADER, 0))
    except (TypeError, ValueError):
        return 0


def _republished(props: pika.BasicProperties, headers: dict[str, Any]) -> pika.BasicProperties:
    """The same message properties with new headers, minus what the broker added."""
    new = copy.copy(props)
    new.headers = {k: v for k, v in (props.headers or {}).items() if k not in BROKER_HEADERS} | headers
    new.delivery_mode = pika.DeliveryMode.Persistent.value
    new.expiration = None
    return new


class EventConsumer:
    """Consumes the events a service subscribes to, one unit of work per tenant's run of deliveries
    that arrived together (at most `batch`; 1 handles each on its own).

    `uow_factory(tenant)` defaults to `database.unit_of_work(tenant=tenant)`; the handler runs as
    the service's machine principal scoped to the envelope's tenant (DESIGN §4).
    """

    def __init__(self, amqp_url: str, *, service: str, database: Database, prefetch: int = 100,
                 max_retries: int = DEFAULT_MAX_RETRIES, backoff: Sequence[float] = DEFAULT_BACKOFF,
                 uow_factory: Callable[[str], AbstractContextManager[UnitOfWork]] | None = None,
                 spans: bool | None = None, batch: int = 50, passive_topology: bool = False,
                 verify_publishers: bool = False, linger: float = 0.0):
        """`passive_topology`: the queues were declared beforehand from the registry (shared.messaging.topology)
        and are only checked — a service's own broker user may declare nothing else. `verify_publishers`:
        a delivery is taken only from the broker user of its source service (RabbitMQ checks `user_id`
        against the publishing connection), or from this service's own (a retry or a replay); anything
        else is parked as forged."""
        if not backoff:
            raise ValueError("backoff needs at least one delay")
        if batch < 1:
            raise ValueError("batch must be at least 1")
        if not 0 <= linger <= 1:
            raise ValueError("linger is seconds, between 0 and 1")
        self.service = service
        self.prefetch = prefetch
        self.batch = batch
        self.linger = linger
        self.max_retries = max_retries
        self.backoff = tuple(backoff)
        self.passive_topology = passive_topology
        self.verify_publishers = verify_publishers
        # a consumer span per delivery only where spans are kept (None: as this process's telemetry says)
        self.spans = spans_recorded() if spans is None else spans
        self.stats = ConsumerStats()
        self._params = pika.URLParameters(amqp_url)
        self._uow_factory = uow_factory or (lambda tenant: database.unit_of_work(tenant=tenant))
        self._subs: dict[str, Subscription] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._publisher: Any = None
        self._pending: list[_Delivery] = []       # read from the broker, not yet handled nor acked
        self._inbox_insert = (
            f"INSERT INTO {database.schema}.inbox (consumer, event_id, event_type, tenant)"
            " VALUES (:consumer, :event_id, :event_type, :tenant)"
            " ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id")

    # --- subscriptions and topology ------------------------------------------------------------

    def subscribe(self, source: str, event_type: str, handler_name: str, handler: Handler) -> str:
        """Handle `event_type` events of `source`; returns the queue name."""
        queue = queue_name(source, event_type, self.service, handler_name)
        if queue in self._subs:
            raise ValueError(f"already subscribed: {queue}")
        self._subs[queue] = Subscription(source, event_type, handler_name, handler, queue)
        return queue

    def delay(self, attempt: int) -> float:
        """Seconds before retry `attempt` (1-based); the last backoff repeats."""
        return topology_delay(self.backoff, attempt)

    def queue_names(self) -> list[str]:
        """Every queue this consumer declares (main, retry and dead-letter queues)."""
        names = []
        for queue in self._subs:
            names += [queue, dead_letter_queue(queue)]
            names += [retry_queue(queue, n) for n in range(1, self.max_retries + 1)]
        return names

    def declare(self) -> None:
        """Declare exchanges, queues and bindings now (also done on every (re)connect)."""
        with self._connection() as conn:
            self._declare_topology(conn.channel())

    def _declare_topology(self, channel: Any) -> None:
        queues = [QueueSpec(sub.source, sub.event_type, sub.queue) for sub in self._subs.values()]
        if not self.passive_topology:
            declare_service_exchanges(channel, self.service)
        declare_queues(channel, self.service, queues, max_retries=self.max_retries, backoff=self.backoff,
                       passive=self.passive_topology)

    def _trusted(self, sub: Subscription, props: pika.BasicProperties) -> bool:
        return not self.verify_publishers or props.user_id in (broker_user(sub.source), broker_user(self.service))

    def _connection(self) -> pika.BlockingConnection:
        return pika.BlockingConnection(self._params)

    # --- running -------------------------------------------------------------------------------

    def run(self) -> None:
        """Consume until `stop()`, reconnecting with backoff when the broker goes away."""
        self._consume(lambda: False, deadline=None)

    def start(self) -> None:
        """`run()` in a background thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"consumer-{self.service}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop consuming (callable from any thread); unacked deliveries go back to the queue."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            self._thread = None

    def drain(self, max_messages: int | None = None, timeout: float = 10.0) -> int:
        """Consume in this thread until `max_messages` deliveries are processed or `timeout`
        passes; returns how many were processed."""
        start = self.stats.processed
        self._stop.clear()

        def enough() -> bool:
            return max_messages is not None and self.stats.processed - start >= max_messages

        self._consume(enough, deadline=time.monotonic() + timeout)
        return self.stats.processed - start

    def _consume(self, enough: Callable[[], bool], deadline: float | None) -> None:
        delay = 0.2

        def done() -> bool:
            return self._stop.is_set() or enough() or (deadline is not None and time.monotonic() >= deadline)

        while not done():
            try:
                self._session(done)
                delay = 0.2
            except (pika.exceptions.AMQPError, OSError) as exc:
                log.warning("consumer %s lost RabbitMQ (%r); reconnecting in %.1fs", self.service, exc, delay)
                self._stop.wait(delay)
                delay = min(5.0, delay * 2)

    def _session(self, done: Callable[[], bool]) -> None:
        conn = self._connection()
        try:
            channel = conn.channel()
            self._declare_topology(channel)
            channel.basic_qos(prefetch_count=self.prefetch)
            self._publisher = conn.channel()
            self._publisher.confirm_delivery()
            for sub in self._subs.values():
                channel.basic_consume(sub.queue, functools.partial(self._on_message, sub), auto_ack=False)
            while not done():
                conn.process_data_events(time_limit=0.2)   # returns once what arrived is dispatched
                self._linger(conn, done)
                self._flush(channel)
        finally:
            self._pending = []      # unacked: the broker delivers them again on the next connection
            self._publisher = None
            if conn.is_open:
                try:
                    conn.close()
                except pika.exceptions.AMQPError as exc:
                    log.debug("consumer %s: closing the connection failed: %r", self.service, exc)

    def _linger(self, conn: pika.BlockingConnection, done: Callable[[], bool]) -> None:
        """With a `linger`, once something is pending: keep reading for up to `linger` seconds so that what
        follows shortly joins its run (`_on_message` handles a full batch at once, which ends the wait)."""
        if not self.linger or not self._pending:
            return
        until = time.monotonic() + self.linger
        while self._pending and not done():
            left = until - time.monotonic()
            if left <= 0:
                return
            conn.process_data_events(time_limit=left)

    # --- deliveries ----------------------------------------------------------------------------

    def _on_message(self, sub: Subscription, channel: Any, method: Any, props: pika.BasicProperties,
                    body: bytes) -> None:
        retries = _retries_of(props)
        try:
            if not self._trusted(sub, props):
                raise PoisonMessage(f"published by broker user {props.user_id!r}, not by {broker_user(sub.source)!r}:"
                                    " a forged event")
            env = from_amqp(method, props, body)
        except PoisonMessage as exc:
            self._park(sub, props, body, f"poison message: {exc}", retries)
            channel.basic_ack(method.delivery_tag)
            return
        self._pending.append(_Delivery(sub, method.delivery_tag, props, body, retries, env))
        if len(self._pending) >= self.batch:
            self._flush(channel)

    def _flush(self, channel: Any) -> None:
        """Handle what has been read, in order: each run of deliveries for one tenant together."""
        pending, self._pending = self._pending, []
        start = 0
        while start < len(pending):
            end = start + 1
            while end < len(pending) and pending[end].env.tenant == pending[start].env.tenant:
                end += 1
            self._run(channel, pending[start:end])
            start = end

    def _run(self, channel: Any, run: list[_Delivery]) -> None:
        if len(run) > 1:
            try:
                firsts = self._handle(run, each_in_context=True)
            except Exception as exc:  # noqa: BLE001 — rolled back: each on its own finds the one at fault
                log.info("consumer %s: %d events of tenant %s failed together (%s: %s); handling each on its own",
                         self.service, len(run), run[0].env.tenant, type(exc).__name__, exc)
            else:
                for d, first in zip(run, firsts, strict=True):
                    self._count(d, first)
                # every unacked delivery up to the last of this run is in it: what came before was acked
                # when its own run was handled, and an unusable envelope is acked as it arrives
                channel.basic_ack(run[-1].tag, multiple=True)
                return
        for d in run:
            self._deliver(d)
            channel.basic_ack(d.tag)

    def _deliver(self, d: _Delivery) -> None:
        """One delivery in its own unit of work, under its consumer span (or its producer's trace context)."""
        with self._traced(d) as span:
            self._process(d, span)

    @contextmanager
    def _traced(self, d: _Delivery, batch: int = 1) -> Iterator[trace.Span | None]:
        """The delivery's consumer span where spans are kept; where none are, the producer's trace context
        made current, which what the handler emits carries on (yields None)."""
        parent = propagate.extract(d.props.headers or {})
        if self.spans:
            with tracer.start_as_current_span(
                f"consume {d.env.event_type}", context=parent, kind=trace.SpanKind.CONSUMER,
                attributes={"messaging.system": "rabbitmq", "messaging.destination.name": d.sub.queue,
                            "messaging.message.id": d.env.event_id, "sanji.tenant": d.env.tenant,
                            "messaging.batch.message_count": batch},
            ) as span:
                yield span
            return
        token = otel_context.attach(parent)
        try:
            yield None
        finally:
            otel_context.detach(token)

    def _process(self, d: _Delivery, span: trace.Span | None) -> None:
        """Handle one delivery: handled, a duplicate, retried later or parked — never lost."""
        try:
            first = self._handle([d], each_in_context=False)[0]
        except PoisonMessage as exc:  # the handler says the event can never be handled
            self._park(d.sub, d.props, d.body, f"poison message: {exc}", d.retries)
        except Exception as exc:  # noqa: BLE001 — any handler failure is retried, then parked
            if span is not None:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
            error = f"{type(exc).__name__}: {exc}"
            if d.retries >= self.max_retries:
                self._park(d.sub, d.props, d.body, error, d.retries)
            else:
                self._retry(d.sub, d.env, d.props, d.body, d.retries + 1, error)
        else:
            self._count(d, first)

    def _count(self, d: _Delivery, first: bool) -> None:
        if first:
            self.stats.handled += 1
        else:
            self.stats.duplicates += 1
            log.info("event %s already handled by %s; skipped", d.env.event_id, d.sub.queue)

    def _handle(self, run: list[_Delivery], *, each_in_context: bool) -> list[bool]:
        """Run the handlers in one transaction with their inbox rows, in order; for each delivery, False if
        it was a duplicate. `each_in_context`: each handler runs under its own delivery's span (or trace
        context), so the events it emits carry that trace on."""
        tenant = run[0].env.tenant
        principal = Principal(subject=f"service:{self.service}", username=self.service,
                              tenant=DivisionCode(tenant), roles=frozenset({str(Role.SERVICE)}), machine=True)
        firsts = []
        with acting_as(principal), self._uow_factory(tenant) as uow:
            for d in run:
                if each_in_context:
                    with self._traced(d, len(run)):
                        firsts.append(self._handle_one(uow, d))
                else:
                    firsts.append(self._handle_one(uow, d))
            uow.commit()
        return firsts

    def _handle_one(self, uow: UnitOfWork, d: _Delivery) -> bool:
        env = d.env
        inserted = uow.row(self._inbox_insert, {"consumer": d.sub.queue, "event_id": env.event_id,
                                                "event_type": env.event_type, "tenant": env.tenant})
        if inserted is None:
            return False
        d.sub.handler(env, uow)
        return True

    def _retry(self, sub: Subscription, env: Envelope, props: pika.BasicProperties, body: bytes,
               attempt: int, error: str) -> None:
        log.warning("handler %s failed on event %s (attempt %d of %d); retrying in %.1fs: %s",
                    sub.queue, env.event_id, attempt, self.max_retries + 1, self.delay(attempt), error)
        headers = {RETRY_HEADER: attempt, ERROR_HEADER: error[:4000]}
        self._publisher.basic_publish(retry_exchange_for(self.service), retry_queue(sub.queue, attempt), body,
                                      self._own(_republished(props, headers)), mandatory=True)
        self.stats.retried += 1

    def _park(self, sub: Subscription, props: pika.BasicProperties, body: bytes, error: str,
              retries: int) -> None:
        dlq = dead_letter_queue(sub.queue)
        log.error("parked event %s (%s from %s) in %s after %d retries: %s",
                  props.message_id, props.type, props.app_id, dlq, retries, error)
        headers = {RETRY_HEADER: retries, ERROR_HEADER: error[:4000], QUEUE_HEADER: sub.queue,
                   PARKED_AT_HEADER: int(time.time())}
        self._publisher.basic_publish(retry_exchange_for(self.service), dlq, body,
                                      self._own(_republished(props, headers)), mandatory=True)
        self.stats.dead_lettered += 1

    def _own(self, props: pika.BasicProperties) -> pika.BasicProperties:
        """A message this consumer sends on (retry, park, replay) goes out as its own user: RabbitMQ refuses a
        `user_id` that is not the connection's, so the original publisher's cannot be kept."""
        props.user_id = self._params.credentials.username
        return props

    # --- dead letters --------------------------------------------------------------------------

    def dead_letter_count(self, queue: str) -> int:
        """How many messages are parked for the main queue `queue`."""
        with self._connection() as conn:
            return conn.channel().queue_declare(dead_letter_queue(queue), passive=True).method.message_count

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        """Look at up to `limit` parked messages without removing them."""
        out: list[DeadLetter] = []
        with self._connection() as conn:  # closing without ack puts them back
            channel = conn.channel()
            for _ in range(limit):
                method, props, body = channel.basic_get(dead_letter_queue(queue), auto_ack=False)
                if method is None:
                    break
                headers = dict(props.headers or {})
                out.append(DeadLetter(event_id=props.message_id, event_type=props.type,
                                      error=str(headers.get(ERROR_HEADER, "")), retries=_retries_of(props),
                                      headers=headers, body=body))
        return out

    def replay_dead_letters(self, queue: str, limit: int | None = None) -> int:
        """Move parked messages back to the main queue with a fresh retry budget."""
        moved = 0
        with self._connection() as conn:
            channel = conn.channel()
            channel.confirm_delivery()
            parked = channel.queue_declare(dead_letter_queue(queue), passive=True).method.message_count
            todo = parked if limit is None else min(limit, parked)
            while moved < todo:
                method, props, body = channel.basic_get(dead_letter_queue(queue), auto_ack=False)
                if method is None:
                    break
                props = _republished(props, {})
                props.headers = {k: v for k, v in props.headers.items() if not k.startswith("x-sanji-")}
                channel.basic_publish(retry_exchange_for(self.service), queue, body, self._own(props), mandatory=True)
                channel.basic_ack(method.delivery_tag)
                moved += 1
        if moved:
            log.info("replayed %d parked messages from %s", moved, dead_letter_queue(queue))
        return moved
