"""Outbox relay: publishes a service's committed events to RabbitMQ and marks them sent (DESIGN §5).

One relay owns one pika `SelectConnection` driven by its own IOLoop in its own thread. A batch is
claimed by one statement that marks the oldest unsent rows `sent_at` and returns them (`UPDATE … WHERE seq =
ANY(ARRAY(SELECT … FOR UPDATE SKIP LOCKED))`: two relays never take the same rows), published in `seq` order on a
confirm-mode channel without waiting between messages; the broker's Basic.Ack frames (often
`multiple=True`) resolve the batch's delivery tags, and once every tag is resolved the transaction
commits. Nacked or unconfirmed rows (connection lost, timeout) get `sent_at` back to NULL with
`attempts`/`last_error` updated in that same transaction, and are published again after a pause that
doubles while the broker keeps refusing (a queue at its `x-max-length` with `reject-publish` nacks every
message routed to it); if the transaction itself fails, every row of the batch stays unsent. Delivery
is at-least-once and consumers dedupe by event id. The statements go to psycopg on a pooled
connection: a batch is three round trips (BEGIN, the claim, COMMIT), and a relay under load runs many
small batches.

Events that reach no queue (issue 20 item 1). An event type the service registry says someone consumes
(`routed`, which every service process passes: shared.runner) is published `mandatory`: when no queue is
bound for it (a queue deleted, a handler renamed, a topology not yet declared) the broker returns it
(Basic.Return, before its Basic.Ack) and the relay does NOT mark it sent. The row keeps `sent_at` NULL with
`last_error` starting `unroutable:` and `attempts` counted; the relay logs an ERROR line starting
`ALERT unroutable event` that names it, counts it in `stats.unroutable`, and leaves it aside (other events
go on) to try again every `unroutable_retry` seconds (doubling up to `max_unroutable_retry`) until a queue
takes it. `unroutable_events()` gives the count and the oldest of them for a dashboard. Event types nobody
is registered to consume go out as before (a nameko service may listen in; no queue is owed to them).

The relay wakes on `LISTEN sanji_outbox` (the unit of work notifies at commit) or every
`idle_seconds`, whichever comes first, and reconnects with exponential backoff when the broker is
unreachable.

Where the claim starts (issue 22). A sent row leaves a dead entry in the partial index of unsent rows
(`outbox_unsent`), and PostgreSQL cannot mark the newest of them dead while new rows go into the same
index page, so until a vacuum every claim visited each recently sent row again: 1,000–2,000 blocks a
claim in the lifecycle bench, growing with the run. The claim now starts at a floor (`ScanFloor`) below
which every row is known to be sent, and the floor only moves past rows whose writers have all finished:
at each claim the relay notes the highest seq it can see and the snapshot's xmax; once a later snapshot's
xmin has passed that xmax, every row up to that seq is visible, and a claim that then returns less than a
full batch, with nothing set aside, has taken every unsent one of them. A failed batch puts the floor back
to 0, and every `full_scan_seconds` one claim scans from 0 anyway: for what a crashed relay replica left
claimed and rolled back below another replica's floor, and for the rare row whose writer drew its seq a
moment before it had a transaction id (its first write) while a snapshot was taken — such a row waits for
that scan (at most `full_scan_seconds`), it is never lost.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pika
import psycopg
from opentelemetry import propagate, trace
from pika.adapters.select_connection import IOLoop
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from shared import registry
from shared.db import OUTBOX_CHANNEL, RELAY_SETTING, end_transaction, prepared_on, relay_transaction
from shared.messaging.envelope import exchange_for, to_amqp
from shared.telemetry import spans_recorded

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

FIRST_BACKOFF = 0.2
FULL_SCAN_SECONDS = 5.0             # a claim from seq 0 at least this often (ScanFloor)
UNROUTABLE = "unroutable:"          # how `last_error` of an event that reached no queue starts
_COLUMNS = ("seq", "id", "exchange", "routing_key", "tenant", "correlation_id", "event_version", "body", "headers",
            "created_at")


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    failed_batches: int = 0
    connect_failures: int = 0
    connected: bool = False
    unroutable: int = 0             # returns of mandatory events (each try counts)
    parked: int = 0                 # events set aside now because they reached no queue


def routed_event_types(service: str) -> frozenset[str]:
    """The event types of `service` some registered service consumes: each must reach a queue."""
    if service not in registry.BY_NAME:
        return frozenset()
    return frozenset(sub.event_type for _, sub in registry.subscribers_of(service))


def unroutable_events(engine: Engine, schema: str) -> tuple[int, Any]:
    """(how many events of `schema`'s outbox wait because they reached no queue, the oldest's created_at)."""
    with relay_transaction(engine) as conn:          # the relay's view: every writer's rows
        row = conn.exec_driver_sql(
            f"SELECT count(*), min(created_at) FROM {schema}.outbox"
            f" WHERE sent_at IS NULL AND last_error LIKE '{UNROUTABLE}%%'").one()
    return int(row[0]), row[1]


@dataclass
class _Batch:
    conn: Any                       # the pooled DBAPI connection holding the batch's transaction
    size: int
    pending: dict[int, int] = field(default_factory=dict)  # delivery tag → outbox seq
    acked: list[int] = field(default_factory=list)
    nacked: list[int] = field(default_factory=list)
    returned: dict[int, str] = field(default_factory=dict)  # outbox seq → why the broker returned it
    by_message_id: dict[str, int] = field(default_factory=dict)  # event id → outbox seq (mandatory ones)
    rows: dict[int, Any] = field(default_factory=dict)       # outbox seq → (routing_key, event id)
    timer: Any = None


# BEGIN and the relay's view of the outbox (every writer's rows: shared.db.messaging_rls_statements) in one round
# trip, as the unit of work binds its tenant: the relay polls every `idle_seconds` in every service, so a round
# trip saved is saved on every tick, busy or idle. The same statement reads what the scan floor needs: its
# snapshot's xmin and xmax and the highest seq it sees. It is a statement prepared once per connection (it has no
# parameters, so PostgreSQL plans it once): sent as text it was planned on every tick, 0.15-0.45 ms of the
# server's CPU each time, about 12 plans per case lifecycle across the services and five a second per idle
# service (issue 22, pg_stat_statements with track_planning).
def _relay_view_name(schema: str) -> str:
    return f"sanji_relay_view_{schema}"


def _prepare_relay(schema: str) -> bytes:
    return (f"PREPARE {_relay_view_name(schema)} AS SELECT set_config('{RELAY_SETTING}', 'on', true),"
            " pg_snapshot_xmin(pg_current_snapshot())::text, pg_snapshot_xmax(pg_current_snapshot())::text,"
            f" (SELECT coalesce(max(seq), 0) FROM {schema}.outbox)::text").encode()


def _begin_relay(schema: str) -> bytes:
    return f"BEGIN; EXECUTE {_relay_view_name(schema)}".encode()


_UNKNOWN_STATEMENT = b"26000"      # invalid_sql_statement_name: gone (psycopg's DEALLOCATE ALL after a rollback)
_ALREADY_PREPARED = b"42P05"       # duplicate_prepared_statement: prepared by an earlier life of this process


def _begin_relay_view(raw: psycopg.Connection, schema: str) -> tuple[int, int, int]:
    """Opens the relay's transaction; (xmin, xmax, highest seq) as its first statement saw them."""
    name = _relay_view_name(schema)
    for attempt in (1, 2):
        end_transaction(raw)
        prepared = prepared_on(raw)
        if name not in prepared:
            result = raw.pgconn.exec_(_prepare_relay(schema))
            if (result.status != psycopg.pq.ExecStatus.COMMAND_OK
                    and result.error_field(psycopg.pq.DiagnosticField.SQLSTATE) != _ALREADY_PREPARED):
                raise psycopg.errors.error_from_result(result, encoding=raw.info.encoding)
            prepared.add(name)
        result = raw.pgconn.exec_(_begin_relay(schema))
        if result.status == psycopg.pq.ExecStatus.TUPLES_OK:
            xmin, xmax, high = (int(result.get_value(0, i)) for i in (1, 2, 3))
            return xmin, xmax, high
        if attempt == 1 and result.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == _UNKNOWN_STATEMENT:
            prepared.discard(name)          # deallocated behind our back: prepare it again, once
            continue
        raise psycopg.errors.error_from_result(result, encoding=raw.info.encoding)
    raise AssertionError("unreachable")


@dataclass
class ScanFloor:
    """The seq the claim's scan starts at: every row below it is sent (see the module's docstring).

    `value` moves up only over rows whose writing transactions have all ended (`ripe`) and only after a claim
    took every unsent row above the old floor (`claimed`); `reset` puts it back to 0. A snapshot's xmin is the
    cluster's: a long write transaction in another database of the same server holds the floor where it is
    (the claim then scans as it did before the floor), it never moves it too far."""
    full_scan_seconds: float = FULL_SCAN_SECONDS
    value: int = 0
    pending: tuple[int, int] | None = None      # (highest seq seen, that snapshot's xmax), not yet ripe
    last_full: float = float("-inf")

    def start(self, now: float) -> int:
        """Where this claim scans from: 0 when a full scan is due."""
        return 0 if now - self.last_full >= self.full_scan_seconds else self.value

    def claimed(self, *, started: int, now: float, xmin: int, xmax: int, high: int, complete: bool,
                aside: list[int]) -> None:
        """After a claim that scanned from `started` in a transaction whose first snapshot had `xmin`, `xmax`
        and saw `high`: `complete` when it took every unsent row it could (less than a full batch)."""
        if started == 0:
            if not complete:
                return                           # not a full scan after all: the next claim continues it
            self.last_full = now
        if complete and self.pending is not None and xmin >= self.pending[1]:
            ripe = self.pending[0] + 1
            if aside:
                ripe = min(ripe, min(aside))     # rows set aside are still owed a try
            self.value = max(self.value, ripe)
            self.pending = None
        if self.pending is None and high >= self.value:
            self.pending = (high, xmax)

    def reset(self) -> None:
        self.value, self.pending, self.last_full = 0, None, float("-inf")


class OutboxRelay:
    """Publishes `<schema>.outbox` rows in batches with publisher confirms.

    `start()`/`stop()` run it in a background thread; `run_once()` (one batch) and `drain()` (until
    the outbox is empty) run it in the caller's thread. Not reusable after `stop()`.
    """

    def __init__(self, engine: Engine, schema: str, amqp_url: str, *, service: str | None = None,
                 batch_size: int = 200, idle_seconds: float = 0.2, confirm_timeout: float = 30.0,
                 max_backoff: float = 5.0, spans: bool | None = None, routed: frozenset[str] | None = None,
                 unroutable_retry: float = 5.0, max_unroutable_retry: float = 300.0):
        self._engine = engine
        self.schema = schema
        self.service = service or schema
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.confirm_timeout = confirm_timeout
        self.max_backoff = max_backoff
        # event types published `mandatory`: where the registry's topology is declared (every service process,
        # shared.runner) those the registry says are consumed; by default none (a test's own vhost)
        self.routed = frozenset(routed or ())
        self.unroutable_retry = unroutable_retry
        self.max_unroutable_retry = max_unroutable_retry
        self._parked: dict[int, tuple[float, float]] = {}   # seq → (monotonic time of the next try, its delay)
        # a producer span per event only where spans are kept (None: as this process's telemetry says)
        self.spans = spans_recorded() if spans is None else spans
        self.stats = RelayStats()
        self._params = pika.URLParameters(amqp_url)
        self._ioloop = IOLoop()
        self._connection: pika.SelectConnection | None = None
        self._channel: Any = None
        self._ready = False
        self._declared: set[str] = set()
        self._tag = 0
        self._batch: _Batch | None = None
        self._timer: Any = None
        self._again = False
        self._stopping = False
        self._timed_out = False
        self._mode = "forever"
        self._backoff = FIRST_BACKOFF      # before the next connection attempt
        self._retry = FIRST_BACKOFF        # before the next batch after one the broker did not confirm
        self._stop_event = threading.Event()
        self._wake_pending = threading.Event()
        self._threads: list[threading.Thread] = []
        self.floor = ScanFloor()
        # the rows to claim are an array made once (an InitPlan), then updated by their primary key: with the
        # rows as a joined subquery, a generic plan (the statement is prepared on its fifth use) re-ran the
        # subquery for every row of the outbox in a nested loop — 16,429 blocks a claim in the lifecycle bench
        self._claim = (
            f"UPDATE {schema}.outbox o SET sent_at = now() WHERE o.seq = ANY(ARRAY(SELECT seq FROM {schema}.outbox"
            f" WHERE sent_at IS NULL AND seq >= %(floor)s AND seq <> ALL(%(aside)s)"
            f" ORDER BY seq LIMIT %(n)s FOR UPDATE SKIP LOCKED))"
            f" RETURNING {', '.join('o.' + c for c in _COLUMNS)}")
        self._unclaim_failed = (f"UPDATE {schema}.outbox SET sent_at = NULL, attempts = attempts + 1,"
                                f" last_error = %(error)s WHERE seq = ANY(%(seqs)s)")
        self._unclaim_one = (f"UPDATE {schema}.outbox SET sent_at = NULL, attempts = attempts + 1,"
                             f" last_error = %(error)s WHERE seq = %(seq)s")

    # --- public API ------------------------------------------------------------------------------

    def start(self) -> None:
        """Run in background threads (the relay's IOLoop and the LISTEN connection)."""
        self._mode = "forever"
        self._threads = [
            threading.Thread(target=self._run_loop, name=f"outbox-relay-{self.schema}", daemon=True),
            threading.Thread(target=self._listen, name=f"outbox-listen-{self.schema}", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in flight, close the connection and join the threads."""
        if self._stop_event.is_set():
            return
        self._stop_event.set()
        if self._threads:
            self._ioloop.add_callback_threadsafe(self._shutdown)
            for t in self._threads:
                t.join(timeout)
            self._threads = []
        self._ioloop.close()

    def run_once(self, timeout: float = 30.0) -> int:
        """Publish at most one batch in this thread; returns how many events were published (the broker
        confirmed). A batch the broker refused (nack) or left unconfirmed counts as that one batch: its rows
        stay unsent with `attempts` and `last_error` recorded, and the call returns."""
        return self._run_here("once", timeout)

    def drain(self, timeout: float = 120.0) -> int:
        """Publish batches in this thread until no unsent row is left; returns the count."""
        return self._run_here("drain", timeout)

    @property
    def in_flight(self) -> int:
        """Events of the current batch published and not yet confirmed (0 between batches)."""
        batch = self._batch
        return len(batch.pending) if batch is not None else 0

    # --- the loop --------------------------------------------------------------------------------

    def _run_here(self, mode: str, timeout: float) -> int:
        if self._threads:
            raise RuntimeError("the relay is running in the background")
        self._mode, self._stopping, self._timed_out = mode, False, False
        before = self.stats.published
        deadline = self._ioloop.call_later(timeout, self._on_deadline)
        self._run_loop()
        self._ioloop.remove_timeout(deadline)
        if self._timed_out:
            raise TimeoutError(f"outbox relay for {self.schema} did not finish within {timeout:.0f}s")
        return self.stats.published - before

    def _run_loop(self) -> None:
        self._connect()
        self._ioloop.start()

    def _on_deadline(self) -> None:
        self._timed_out = True
        self._shutdown()

    def _shutdown(self) -> None:
        self._stopping = True
        self._cancel_timer()
        if self._batch is not None:  # let it finish; give up on it after a few seconds
            if self._batch.timer is not None:
                self._ioloop.remove_timeout(self._batch.timer)
            self._batch.timer = self._ioloop.call_later(5.0, self._on_confirm_timeout)
            return
        self._close()

    def _close(self) -> None:
        conn = self._connection
        if conn is None or conn.is_closed:
            self._ioloop.stop()
        elif not conn.is_closing:
            conn.close()  # _on_closed or _on_open_error stops the loop

    def _set_timer(self, delay: float, callback: Any) -> None:
        self._cancel_timer()
        self._timer = self._ioloop.call_later(delay, functools.partial(self._fire, callback))

    def _fire(self, callback: Any) -> None:
        self._timer = None
        try:
            callback()
        except Exception:  # noqa: BLE001 — the relay must not die silently; the rows stay unsent
            log.exception("outbox relay %s: unexpected error; retrying", self.schema)
            if self._batch is not None:
                self._finish_batch(error="unexpected error in the relay")
            if self._ready and self._timer is None and not self._stopping:
                self._set_timer(self.max_backoff, self._tick)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._ioloop.remove_timeout(self._timer)
            self._timer = None

    # --- connection ------------------------------------------------------------------------------

    def _connect(self) -> None:
        self._connection = pika.SelectConnection(
            self._params, on_open_callback=self._on_open, on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed, custom_ioloop=self._ioloop)

    def _on_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: Any) -> None:
        self._channel, self._tag, self._declared = channel, 0, set()
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm,
                                 callback=lambda _frame: self._declare([exchange_for(self.service)]))

    def _declare(self, pending: list[str], _frame: Any = None) -> None:
        """Declare the exchanges one after the other, then (re)start publishing."""
        if not pending:
            self._on_ready()
            return
        name = pending.pop()
        self._declared.add(name)
        self._channel.exchange_declare(exchange=name, exchange_type="topic", durable=True,
                                       auto_delete=False, callback=functools.partial(self._declare, pending))

    def _on_ready(self) -> None:
        if not self._ready:
            log.info("outbox relay %s connected to RabbitMQ", self.schema)
        self._ready, self.stats.connected, self._backoff = True, True, FIRST_BACKOFF
        if self._stopping:
            self._close()
        else:
            self._set_timer(0, self._tick)

    def _on_open_error(self, _connection: Any, error: Any) -> None:
        self.stats.connect_failures += 1
        log.warning("outbox relay %s cannot reach RabbitMQ: %r", self.schema, error)
        self._after_disconnect()

    def _on_closed(self, _connection: Any, reason: Any) -> None:
        self._ready, self.stats.connected, self._channel = False, False, None
        if self._batch is not None:
            self._finish_batch(error=f"connection closed: {reason}")
        if not self._stopping:
            log.warning("outbox relay %s lost its RabbitMQ connection: %s", self.schema, reason)
        self._after_disconnect()

    def _after_disconnect(self) -> None:
        self._connection = None
        if self._stopping:
            self._ioloop.stop()
            return
        delay, self._backoff = self._backoff, min(self.max_backoff, self._backoff * 2)
        log.info("outbox relay %s reconnects in %.1fs", self.schema, delay)
        self._set_timer(delay, self._connect)

    def _on_channel_closed(self, _channel: Any, reason: Any) -> None:
        self._ready, self._channel = False, None
        if self._batch is not None:
            self._finish_batch(error=f"channel closed: {reason}")
        if self._connection is not None and self._connection.is_open:
            self._connection.close()  # a fresh connection gets a fresh channel

    # --- waking up -------------------------------------------------------------------------------

    def _listen(self) -> None:
        """Background thread: LISTEN sanji_outbox and wake the IOLoop for this schema's commits."""
        url = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop_event.is_set():
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    self._wake_threadsafe()  # catch up on anything committed while not listening
                    while not self._stop_event.is_set():
                        for note in conn.notifies(timeout=0.5):
                            if note.payload == self.schema:
                                self._wake_threadsafe()
            except psycopg.Error as exc:
                log.warning("outbox relay %s: LISTEN connection failed: %s", self.schema, exc)
                self._stop_event.wait(1.0)

    def _wake_threadsafe(self) -> None:
        if not self._wake_pending.is_set():
            self._wake_pending.set()
            self._ioloop.add_callback_threadsafe(self._on_wake)

    def _on_wake(self) -> None:
        self._wake_pending.clear()
        if self._ready and self._batch is None and not self._stopping:
            self._set_timer(0, self._tick)
        else:
            self._again = True

    # --- batches ---------------------------------------------------------------------------------

    def _tick(self) -> None:
        if not self._ready or self._batch is not None or self._stopping:
            return
        self._again = False
        conn = None
        try:
            conn = self._engine.raw_connection()
            xmin, xmax, high = _begin_relay_view(conn.driver_connection, self.schema)
            now, aside = time.monotonic(), self._set_aside()
            # a test's run_once / drain scans everything: the floor serves the long-running relay
            started = self.floor.start(now) if self._mode == "forever" else 0
            with conn.cursor() as cur:
                cur.execute(self._claim, {"n": self.batch_size, "aside": aside, "floor": started})
                # RETURNING keeps no order: publish in seq order
                rows = sorted((dict(zip(_COLUMNS, r, strict=True)) for r in cur.fetchall()), key=lambda r: r["seq"])
            self.floor.claimed(started=started, now=now, xmin=xmin, xmax=xmax, high=high,
                               complete=len(rows) < self.batch_size, aside=aside)
        except (SQLAlchemyError, psycopg.Error) as exc:
            log.warning("outbox relay %s cannot read the outbox: %s", self.schema, exc)
            if conn is not None:
                conn.close()        # back to the pool, rolled back
            self._set_timer(max(self.idle_seconds, 1.0), self._tick)
            return
        if not rows:
            end_transaction(conn.driver_connection)     # keeps the pooled connection's prepared statements
            conn.close()
            if self._mode != "forever":
                self._shutdown()
            else:
                self._set_timer(0 if self._again else self.idle_seconds, self._tick)
            return
        missing = {row["exchange"] for row in rows} - self._declared
        if missing:  # release the rows, declare, then come back
            end_transaction(conn.driver_connection)
            conn.close()
            self._declare(sorted(missing))
            return
        batch = self._batch = _Batch(conn=conn, size=len(rows))
        try:
            for row in rows:
                self._publish(batch, row)
        except pika.exceptions.AMQPError as exc:
            self._finish_batch(error=f"publish failed: {exc!r}")
            return
        batch.timer = self._ioloop.call_later(self.confirm_timeout, self._on_confirm_timeout)

    def _publish(self, batch: _Batch, row: Any) -> None:
        if self.spans:
            carrier = dict(row["headers"] or {})
            with tracer.start_as_current_span(
                f"publish {row['routing_key']}", context=propagate.extract(carrier),
                kind=trace.SpanKind.PRODUCER,
                attributes={"messaging.system": "rabbitmq", "messaging.destination.name": row["exchange"],
                            "messaging.message.id": str(row["id"])},
            ):
                propagate.inject(carrier)  # the consumer's span continues from this one
                exchange, routing_key, props, body = to_amqp({**row, "headers": carrier})
        else:  # no spans kept: the trace context stored with the event travels as it is
            exchange, routing_key, props, body = to_amqp(row)
        # who published it: RabbitMQ refuses a user_id that is not this connection's user, so a consumer can
        # trust it (EventConsumer verify_publishers)
        props.user_id = self._params.credentials.username
        mandatory = routing_key in self.routed
        self._channel.basic_publish(exchange, routing_key, body, props, mandatory=mandatory)
        self._tag += 1
        batch.pending[self._tag] = row["seq"]
        if mandatory:
            batch.by_message_id[props.message_id] = row["seq"]
            batch.rows[row["seq"]] = (routing_key, props.message_id, props.headers.get("correlation_id"))

    def _set_aside(self) -> list[int]:
        """The events that reached no queue and whose next try has not come."""
        now = time.monotonic()
        return [seq for seq, (when, _) in self._parked.items() if when > now]

    def _on_return(self, _channel: Any, method: Any, properties: Any, _body: bytes) -> None:
        """Basic.Return: a mandatory event no queue took (it comes before that event's Basic.Ack)."""
        batch = self._batch
        if batch is None:
            return
        seq = batch.by_message_id.get(str(properties.message_id))
        if seq is not None:
            batch.returned[seq] = (f"{UNROUTABLE} no queue bound to {method.exchange} for {method.routing_key}"
                                   f" ({method.reply_code} {method.reply_text})")

    def _on_confirm(self, frame: Any) -> None:
        batch = self._batch
        if batch is None:
            return
        method = frame.method
        if method.multiple:
            tags = [t for t in batch.pending if t <= method.delivery_tag]
        else:
            tags = [method.delivery_tag]
        resolved = batch.acked if isinstance(method, pika.spec.Basic.Ack) else batch.nacked
        for tag in tags:
            seq = batch.pending.pop(tag, None)
            if seq is not None:
                resolved.append(seq)
        if not batch.pending:
            self._finish_batch(error="nacked by the broker" if batch.nacked else None)

    def _park(self, batch: _Batch, returned: dict[int, str], delivered: list[int]) -> None:
        """Set aside what reached no queue (an alert each time) and forget what has now been delivered."""
        for seq in delivered:
            if self._parked.pop(seq, None) is not None:
                routing_key, event_id, _ = batch.rows.get(seq, ("?", "?", None))
                log.warning("outbox relay %s: event %s (%s) that reached no queue before is delivered now",
                            self.schema, event_id, routing_key)
        now = time.monotonic()
        for seq, why in returned.items():
            _, last = self._parked.get(seq, (0.0, 0.0))
            wait = self.unroutable_retry if not last else min(self.max_unroutable_retry, last * 2)
            self._parked[seq] = (now + wait, wait)
            routing_key, event_id, correlation = batch.rows.get(seq, ("?", "?", None))
            self.stats.unroutable += 1
            log.error("ALERT unroutable event: outbox relay %s: event %s (%s, case %s, outbox seq %d) reached no"
                      " queue — kept unsent, tried again in %.0fs: %s", self.schema, event_id, routing_key,
                      correlation or "-", seq, wait, why)
        self.stats.parked = len(self._parked)

    def _on_confirm_timeout(self) -> None:
        if self._batch is None:
            return
        log.warning("outbox relay %s: no publisher confirm within the deadline", self.schema)
        self._finish_batch(error="no publisher confirm in time")
        if self._connection is not None and self._connection.is_open:
            self._connection.close()  # late confirms must not meet a later batch

    def _finish_batch(self, error: str | None = None) -> None:
        """Mark the acked rows sent and the others failed, in the batch's transaction; go on."""
        batch, self._batch = self._batch, None
        assert batch is not None
        if batch.timer is not None:
            self._ioloop.remove_timeout(batch.timer)
        failed = batch.nacked + list(batch.pending.values())
        # returned = acked by the broker but taken by no queue: kept unsent with the reason, never "sent"
        returned = {seq: why for seq, why in batch.returned.items() if seq not in failed}
        if failed or returned:
            self.floor.reset()              # rows go back unsent, maybe below the floor: scan from 0 again
        delivered = [seq for seq in batch.acked if seq not in returned]
        try:
            with batch.conn.cursor() as cur:
                if failed:
                    cur.execute(self._unclaim_failed, {"seqs": failed, "error": (error or "")[:2000]})
                for seq, why in returned.items():
                    cur.execute(self._unclaim_one, {"seq": seq, "error": why[:2000]})
            batch.conn.commit()
            self.stats.published += len(delivered)
            self._park(batch, returned, delivered)
        except psycopg.Error as exc:  # rows stay unsent and are published again
            log.error("outbox relay %s could not mark a batch: %s", self.schema, exc)
            batch.conn.rollback()
            self.floor.reset()
        finally:
            batch.conn.close()
        self.stats.batches += 1
        if not failed:
            self._retry = FIRST_BACKOFF
        else:
            self.stats.failed_batches += 1
            log.warning("outbox relay %s: %d of %d events not confirmed (%s); they stay unsent",
                        self.schema, len(failed), batch.size, error)
        if self._stopping:
            self._close()
        elif not self._ready:
            return  # the reconnect timer takes over
        elif self._mode == "once":
            self._shutdown()
        elif failed:
            # a broker that keeps refusing (a full queue: nack) is asked again less and less often
            delay, self._retry = self._retry, min(self.max_backoff, self._retry * 2)
            self._set_timer(delay, self._tick)
        elif batch.size >= self.batch_size or self._again or self._mode == "drain":
            self._set_timer(0, self._tick)
        else:
            self._set_timer(self.idle_seconds, self._tick)
