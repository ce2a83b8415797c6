"""Database access: engines, the unit of work that binds the tenant to each transaction, and the
migration helpers that create row-level-security policies.

Walls (DESIGN §3): the tenant comes from the verified principal only; each transaction binds it with
a transaction-scoped `set_config('app.tenant', …, true)` so a pooled connection cannot leak it; every
tenant table has RLS with FORCE ROW LEVEL SECURITY, and the application role owns no table.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import pathlib
import re
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from google.protobuf.message import Message
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from psycopg.adapt import Transformer
from sqlalchemy import create_engine, event, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from shared.protojson import message_to_json
from shared.tenancy import DivisionCode, Principal

log = logging.getLogger("sanji.db")
OUTBOX_CHANNEL = "sanji_outbox"
# A committing transaction that NOTIFYs holds PostgreSQL's notify lock through its commit, so
# notifying commits are serialised. One wake-up per service process in this interval is enough: the
# relay drains everything it finds, and polls every `idle_seconds` (0.2 s) for what a skipped
# notification would have announced.
NOTIFY_MIN_INTERVAL = 0.05


def make_engine(url: str, *, pool_size: int = 10, application_name: str = "sanji") -> Engine:
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # no pre-ping: it costs a round trip per checkout; recycled connections and the relay's and
        # consumers' reconnect loops handle a restarted server
        pool_pre_ping=False,
        pool_recycle=300,
        # timestamps come back in Beijing time, as the people using them read them (a day is a
        # Beijing day: daily reports, notices and deadlines all count local days)
        connect_args={"application_name": application_name,
                      "options": "-c timezone=Asia/Shanghai -c client_encoding=UTF8"},
    )
    return engine


@functools.lru_cache(maxsize=4096)
def sql(statement: str) -> TextClause:
    """A textual SQL statement, built once per distinct string: `text()` scans the string for bind
    parameters every time it is called, and a clause used again keeps the cache key of its compiled
    form. Repositories write `sql(...)` where they would write `text(...)`; only the statement's
    shape goes into the string, never a value."""
    return text(statement)


_DIALECT = PGDialect_psycopg()


@functools.lru_cache(maxsize=4096)
def driver_sql(statement: str) -> str:
    """The statement as psycopg itself takes it (`%(name)s` placeholders, literal `%` doubled),
    compiled once by SQLAlchemy's psycopg dialect from the same `:name` text `sql()` takes."""
    return text(statement).compile(dialect=_DIALECT).string


Statement = str | TextClause


def _literal(value: str) -> str:
    """A SQL string literal (standard_conforming_strings, PostgreSQL's default since 9.1: only `'` is
    special). Division codes are digits; anything else is still quoted exactly."""
    if "\x00" in value:
        raise ValueError("a tenant code cannot contain NUL")
    return "'" + value.replace("'", "''") + "'"


@functools.lru_cache(maxsize=4096)
def _begin_statement(tenant: str, subtree: bool, public: bool, generic_plans: bool = False) -> bytes:
    return (f"BEGIN; SELECT set_config('app.tenant', {_literal(tenant)}, true),"
            f" set_config('app.subtree', '{'on' if subtree else 'off'}', true),"
            f" set_config('app.public', '{'on' if public else 'off'}', true)"
            + (", set_config('plan_cache_mode', 'force_generic_plan', true)" if generic_plans else "")).encode()


def _driver_text(statement: Statement) -> str:
    return driver_sql(statement.text if isinstance(statement, TextClause) else statement)


_JSON = json.JSONDecoder()


def json_from_db(data: bytes) -> Any:
    """A json/jsonb value as PostgreSQL sends it, as `json.loads` reads it. The connections' encoding is UTF-8 (the
    databases', and `make_engine` asks for it), so the bytes are decoded as such here: `json.loads` given bytes
    first guesses their encoding, which took as long as parsing a small value (issue 22: a list's page reads
    dozens of them — a case's steps, a fee line's standard). Registered for every psycopg connection of the
    process (psycopg's `set_json_loads`)."""
    return _JSON.decode(str(data, "utf-8"))


psycopg.types.json.set_json_loads(json_from_db)

_TUPLES_OK = psycopg.pq.ExecStatus.TUPLES_OK
_IDLE = psycopg.pq.TransactionStatus.IDLE
_ENDABLE = (psycopg.pq.TransactionStatus.INTRANS, psycopg.pq.TransactionStatus.INERROR)


def end_transaction(raw: psycopg.Connection) -> None:
    """ROLLBACK the connection's open transaction, if any, keeping its prepared statements.

    psycopg's `Connection.rollback()` forgets every statement it prepared and sends DEALLOCATE ALL (a pipeline
    may have lost a Parse; none is used here), although PostgreSQL keeps prepared statements across a ROLLBACK.
    Every read ends in a rollback, and so does the outbox relay's empty poll, five times a second per service,
    on the same pooled connections as the writes: each one made the connection plan its hot statements anew
    (issue 22). psycopg reads the transaction state from the server's reply, so it sends no BEGIN or ROLLBACK
    of its own after this."""
    if raw.closed or raw.pgconn.transaction_status == _IDLE:
        return
    if raw.pgconn.transaction_status not in _ENDABLE:
        raw.rollback()               # a query still running or a broken connection: psycopg's own way
        return
    result = raw.pgconn.exec_(b"ROLLBACK")
    if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
        raise psycopg.errors.error_from_result(result, encoding=raw.info.encoding)


@dataclass(frozen=True)
class BoundRead:
    """One read-only statement that `Database.read_bound` runs with its tenant binding in a single round trip.

    `statement` takes `$1 …` placeholders of the `types` named; it is prepared once per pooled connection under
    `name` (PREPARE, on the connection's first use of it) and runs on the server's plan for it."""

    name: str
    statement: str
    types: tuple[str, ...]

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", self.name):
            raise ValueError(f"a bound read's name is an SQL identifier: {self.name!r}")

    @functools.cached_property
    def prepare(self) -> bytes:
        return f"PREPARE {self.name}({', '.join(self.types)}) AS {self.statement}".encode()


def _value_literal(value: Any) -> str:
    """A parameter of a bound read as an SQL literal: text (as `_literal`), an integer, or a list of texts."""
    if isinstance(value, bool):
        raise TypeError("a bound read takes no booleans")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _literal(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return f"CAST(ARRAY[{', '.join(_literal(v) for v in value)}] AS text[])"
    raise TypeError(f"a bound read takes text, integers and lists of text, not {type(value).__name__}")


def _plan_literal(value: Any) -> str:
    """A value of a read planned for its values (`UnitOfWork.rows_planned`) as an SQL literal: what a bound read
    takes (text, an integer, a list of texts), a date, or NULL."""
    if value is None:
        return "NULL"
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return f"CAST('{value.isoformat()}' AS date)"
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return f"({value})"                         # `x -:n` must not become `x --7`, a comment
    return _value_literal(value)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


@functools.lru_cache(maxsize=1024)
def _binding_comment(tenant: str, subtree: bool, public: bool) -> str:
    if "*/" in tenant:
        raise ValueError("a tenant code cannot close a comment")
    return f"/* binding {tenant or '-'} subtree={'on' if subtree else 'off'} public={'on' if public else 'off'} */ "


def _rows(cursor: psycopg.Cursor) -> list[tuple]:
    # the result's status, not `description`: that builds a Column object per column on every call
    result = cursor.pgresult
    return cursor.fetchall() if result is not None and result.status == _TUPLES_OK else []


_CHANGE = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_TABLE_AFTER = re.compile(r"\b(?:INTO|UPDATE|FROM)\s+([A-Za-z_][\w.]*)", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def span_name(statement: str) -> str:
    """An SQL span's name as OpenTelemetry's database conventions write it: the operation and, where the
    statement names one, the first table it reads or writes (`INSERT intake.applications`). Only the
    statement's shape, never a value (values travel as parameters)."""
    words = statement.split(None, 1)
    operation = words[0].upper() if words else "SQL"
    if operation == "WITH":         # a data-modifying CTE is named by what it modifies
        changes = _CHANGE.search(statement)
        operation = changes.group(1).upper() if changes else "SELECT"
    found = _TABLE_AFTER.search(statement)
    return f"{operation} {found.group(1)}" if found else operation


def event_type_of(message: Message) -> str:
    """ItemPublished → item_published (the routing key and the event's name)."""
    name = message.DESCRIPTOR.name
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


@dataclass(frozen=True)
class RlsScope:
    """A named widening of what row-level security shows one transaction beyond its tenant binding, for
    work whose policies say so (intake's public progress lookup sees the one row that matches the case
    number and ID suffix it names; the deadline sweep finds which tenants have something due). The
    service's migration writes the policy on the settings; the repository opens the scope through
    `UnitOfWork.widen`, which logs it — never by setting `app.*` itself."""

    name: str
    settings: dict[str, str]        # argument of `widen` → the transaction setting the policy reads

    def __post_init__(self) -> None:
        reserved = {"app.tenant", "app.subtree", "app.public"}
        bad = [v for v in self.settings.values() if not v.startswith("app.") or v in reserved]
        if bad:
            raise ValueError(f"RLS scope {self.name!r}: {bad} are not scope settings (app.*, not the tenant binding)")


@dataclass
class PendingEvent:
    event_id: uuid.UUID
    event_type: str
    body: str
    tenant: str
    correlation_id: str | None
    event_version: int
    headers: dict[str, str] = field(default_factory=dict)


class UnitOfWork:
    """One transaction, bound to one tenant, that also carries the events it produces.

    The handler owns it: `with db.unit_of_work(principal) as uow: …; uow.commit()`. Repositories
    use `uow.session` (SQLAlchemy, made on first use), or on hot paths the unit of work's own
    `rows`/`row`/`value`/`batch` (psycopg on the same connection), and never commit. Events recorded
    with `emit` are written to this service's outbox inside the same transaction, so a change and its
    events commit or vanish together.
    """

    def __init__(self, db: Database, tenant: str, *, subtree: bool, public: bool, generic_plans: bool = False):
        self._db = db
        self.tenant = tenant
        self.subtree = subtree
        self.public = public
        # plan_cache_mode = force_generic_plan for this transaction, set with the binding (no round trip of its own)
        self.generic_plans = generic_plans
        self._conn: Connection | None = None
        self._session: Session | None = None
        self.driver: psycopg.Connection | None = None
        self._cursor: psycopg.Cursor | None = None
        self.events: list[PendingEvent] = []
        self.scopes: list[str] = []      # the RLS scopes this transaction opened (`widen`), in order
        self._scope_statement: tuple[str, dict[str, Any]] | None = None
        self._committed = False
        # what this transaction holds locked and knows the state of, by whoever locked it (a hash chain's tip:
        # shared.hashchain.append); emptied when the transaction ends, commit or rollback, with the locks
        self.held: dict[Any, Any] = {}

    def __enter__(self) -> UnitOfWork:
        # a pooled connection, without SQLAlchemy's session unless something asks for one (`session`)
        self._conn = self._db.engine.connect()
        try:
            self.driver = self._conn.connection.driver_connection
            self._begin()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _begin(self) -> None:
        """BEGIN and the tenant binding in one round trip: one simple-protocol query of two statements
        with the binding's values inline. psycopg would send its own BEGIN first, a round trip of its own;
        it sends none once the server reports the transaction open. Measured on one connection: 235 → 123 µs
        of client CPU and 140 → 120 µs in PostgreSQL per short transaction."""
        raw = self.driver
        assert raw is not None
        if raw.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            raise RuntimeError("a pooled connection came back inside a transaction")
        query = _begin_statement(self.tenant, self.subtree, self.public, self.generic_plans)
        if self._db.tracer is None:
            result = raw.pgconn.exec_(query)
        else:
            with self._span(self._db.tracer, query.decode(), name="BEGIN"):
                result = raw.pgconn.exec_(query)
        if result.status != _TUPLES_OK:
            exc = psycopg.errors.error_from_result(result, encoding=raw.info.encoding)
            raise DBAPIError.instance(query.decode(), None, exc, psycopg.Error, dialect=_DIALECT) from exc

    @property
    def session(self) -> Session:
        """SQLAlchemy's session, on this unit of work's connection and in its transaction; made the first
        time it is asked for (the hot paths that use only the driver never pay for one)."""
        if self._session is None:
            if self._conn is None:
                raise RuntimeError("the unit of work is not open")
            self._session = Session(bind=self._conn, expire_on_commit=False, autoflush=True)
        return self._session

    # -- statements straight to the driver -----------------------------------------------------------
    # The hot paths skip SQLAlchemy's statement and result machinery (a sixth of a request's CPU in
    # intake's profile) and go to psycopg on this transaction's own connection: same transaction, same
    # type adapters, statements prepared by psycopg after their fifth use. Rows are plain tuples.
    # Statements go one after the other: psycopg's pipeline mode costs more CPU, here and in PostgreSQL,
    # than the round trips it saves, and this platform runs out of CPU long before it waits on the
    # network (intake's submit + accept: 2,927 → 2,333 Python calls without pipelines). Only a COMMIT that
    # must follow a statement at once, in the same round trip, takes a pipeline (`commit` with `last`).
    def _send(self, statements: list[tuple[Statement, dict[str, Any] | None]], *,
              commit: bool = False) -> list[list[tuple]]:
        """Run the statements; the rows of each. With `commit`, the statements and the COMMIT leave in
        one round trip (a psycopg pipeline). A failing statement stops the rest and raises as SQLAlchemy
        would (`IntegrityError`, …)."""
        raw = self.driver
        assert raw is not None, "the unit of work is not open"
        if self._scope_statement is not None:
            statements = [self._scope_statement, *statements]
            self._scope_statement = None
            return self._send(statements, commit=commit)[1:]
        tracer = self._db.tracer
        try:
            if not commit:
                return [self._run(_driver_text(st), params, _driver_text(st)) for st, params in statements]
            if tracer is None:
                with raw.pipeline():
                    cursors = [raw.execute(_driver_text(st), params) for st, params in statements]
                    raw.commit()
            else:
                # one round trip: one span for the statements and the COMMIT that leave together
                sent = "; ".join([_driver_text(st) for st, _ in statements] + ["COMMIT"])
                with self._span(tracer, sent, name=f"{span_name(_driver_text(statements[0][0]))} … COMMIT"), \
                        raw.pipeline():
                    cursors = [raw.execute(_driver_text(st), params) for st, params in statements]
                    raw.commit()
            return [_rows(c) for c in cursors]
        except psycopg.Error as exc:
            sent = "; ".join([_driver_text(st) for st, _ in statements] + (["COMMIT"] if commit else []))
            raise DBAPIError.instance(sent, [p for _, p in statements], exc, psycopg.Error,
                                      dialect=_DIALECT) from exc

    def _run(self, query: str, params: dict[str, Any] | None, traced_as: str) -> list[tuple]:
        """One statement on this transaction's cursor (one, reused: each result is read before the next), in a
        client span carrying `traced_as` (the statement with its placeholders) when this process keeps spans."""
        if self._cursor is None:
            self._cursor = self.driver.cursor()
        tracer = self._db.tracer
        if tracer is None:
            self._cursor.execute(query, params)
        else:
            with self._span(tracer, traced_as):
                self._cursor.execute(query, params)
        return _rows(self._cursor)

    def _span(self, tracer: trace.Tracer, statement: str, *, name: str | None = None) -> Any:
        """A client span for a statement sent straight through psycopg (the SQLAlchemy instrumentation sees
        only what goes through SQLAlchemy), with the attributes of OpenTelemetry's database conventions:
        the statement's text with its placeholders, never the values."""
        raw = self.driver
        attributes = {"db.system": "postgresql", "db.statement": statement,
                      "db.operation": statement.split(None, 1)[0].upper(),
                      "sanji.db.schema": self._db.schema, "sanji.tenant": self.tenant}
        if raw is not None:
            attributes["db.name"] = raw.info.dbname
        return tracer.start_as_current_span(name or span_name(statement), kind=SpanKind.CLIENT, attributes=attributes)

    def widen(self, scope: RlsScope, **values: str) -> None:
        """Open `scope` for the rest of this transaction: its settings go out just before the next statement
        (a round trip of their own, or in the COMMIT's when the next statement leaves with it). Logged with the
        tenant binding, so every widening leaves a trace."""
        if set(values) != set(scope.settings):
            raise ValueError(f"RLS scope {scope.name!r} takes {sorted(scope.settings)}, not {sorted(values)}")
        if any("\x00" in str(v) for v in values.values()):
            raise ValueError(f"RLS scope {scope.name!r}: a value cannot contain NUL")
        names = sorted(values)
        sets = ", ".join(f"set_config('{scope.settings[n]}', :_scope_{n}, true)" for n in names)
        self._scope_statement = (f"SELECT {sets}", {f"_scope_{n}": str(values[n]) for n in names})
        self.scopes.append(scope.name)
        log.info("RLS scope %r opened in schema %s (tenant binding %r, public=%s)", scope.name, self._db.schema,
                 self.tenant, self.public)

    def rows(self, statement: Statement, params: dict[str, Any] | None = None) -> list[tuple]:
        """The statement's rows (none for a statement that returns no rows)."""
        return self._send([(statement, params)])[0]

    def rows_planned(self, statement: Statement, params: dict[str, Any]) -> list[tuple]:
        """The rows of a read whose good plan depends on its values and on the tenant binding — a list's page with
        its capped count — planned once per pooled connection for that binding and those values instead of on
        every call (issue 22 item 4: planning was 30–40% of the lists' time in PostgreSQL).

        PostgreSQL plans a statement with parameters for each call (a custom plan) when its one plan for any
        values (the generic plan) looks dearer, and the lists' do: not knowing LIMIT, it reads a county's year
        in parallel sequential scans (13 ms against 0.6 ms). Nor may one generic plan serve every tenant: the
        planner estimates the read policy's `current_setting('app.tenant')` when it plans, so a plan made for a
        village's binding would scan the county's year. Here the values go into the statement as literals, as a
        bound read's do (`_plan_literal`), behind a comment naming the binding, and psycopg prepares that text on
        the connection as it prepares any statement, once it has run `prepare_threshold` (5) times there: a
        statement without parameters has one plan, made when it is prepared and kept while the tables'
        statistics stand (ANALYZE invalidates it). A page opened all day (a unit's first page) is planned once per
        connection; a rare one (a deep offset, a unit that seldom looks) is planned per call as before and never
        kept. What is kept is bounded by psycopg's `prepared_max` (100 statements a connection, the least recently
        used deallocated); the window list's plan takes about 330 kB of the backend's memory (CachedPlan and its
        source, measured at 1M cases). The row-level security is the same: the plan is the statement's, the
        rows are the binding's. The values are in the statement's text, and so in the server's log of slow
        statements: unit codes, statuses, pages, a staff member's own name; never a member of the public's
        details (a lookup's ID number goes as a parameter).

        The span carries the statement with its placeholders, never the values. Refused in a widened scope (its
        settings would be a second binding the name does not carry)."""
        if self.scopes or self._scope_statement is not None:
            raise RuntimeError("a read planned for its values runs under the tenant binding alone, not a widened scope")
        raw = self.driver
        assert raw is not None, "the unit of work is not open"
        if raw.info.parameter_status("standard_conforming_strings") != "on":
            raise RuntimeError("reads planned for their values quote them for standard_conforming_strings = on")
        template = _driver_text(statement)
        query = _binding_comment(self.tenant, self.subtree, self.public) + _PLACEHOLDER.sub(
            lambda m: "%" if m.group(1) is None else _plan_literal(params[m.group(1)]), template)
        try:
            return self._run(query, None, template)
        except psycopg.Error as exc:
            raise DBAPIError.instance(template, [params], exc, psycopg.Error, dialect=_DIALECT) from exc

    def row(self, statement: Statement, params: dict[str, Any] | None = None) -> tuple | None:
        """The statement's first row, or None."""
        found = self.rows(statement, params)
        return found[0] if found else None

    def value(self, statement: Statement, params: dict[str, Any] | None = None) -> Any:
        """The first column of the statement's first row; LookupError when there is no row."""
        found = self.rows(statement, params)
        if not found:
            raise LookupError("the statement returned no row")
        return found[0][0]

    def mappings(self, statement: Statement, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The statement's rows as dicts by column name."""
        raw = self.driver
        assert raw is not None, "the unit of work is not open"
        rows = self.rows(statement, params)
        names = [c.name for c in (self._cursor.description or [])] if self._cursor is not None else []
        return [dict(zip(names, r, strict=True)) for r in rows]

    def mapping(self, statement: Statement, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The statement's first row as a dict, or None."""
        found = self.mappings(statement, params)
        return found[0] if found else None

    def scalar(self, statement: Statement, params: dict[str, Any] | None = None) -> Any:
        """The first column of the first row, or None when there is no row."""
        found = self.rows(statement, params)
        return found[0][0] if found else None

    def execute(self, statement: Statement, params: dict[str, Any] | None = None) -> int:
        """Run a statement for its effect; the number of rows it touched."""
        self.rows(statement, params)
        return self._cursor.rowcount if self._cursor is not None else -1

    def batch(self, *statements: tuple[Statement, dict[str, Any] | None]) -> list[list[tuple]]:
        """Several statements, one after the other; the rows of each."""
        return self._send(list(statements))

    # -- events and commit ---------------------------------------------------------------------------
    def emit(self, message: Message, *, correlation_id: str | None = None, tenant: str | None = None,
             event_version: int = 1) -> PendingEvent:
        headers: dict[str, str] = {}
        propagate.inject(headers)  # traceparent of the span that made the change
        ev = PendingEvent(
            event_id=uuid.uuid4(), event_type=event_type_of(message), body=message_to_json(message),
            tenant=tenant or self.tenant, correlation_id=correlation_id, event_version=event_version,
            headers={k: v for k, v in headers.items() if k in ("traceparent", "tracestate")},
        )
        self.events.append(ev)
        return ev

    def commit(self, *last: tuple[Statement, dict[str, Any] | None]) -> list[list[tuple]]:
        """Write the events to the outbox, run the `last` statements, and COMMIT; the rows of each `last`
        statement.

        A statement that locks a hot row until commit (a gapless counter) goes last: it leaves with the
        COMMIT in one round trip and the server commits right after it, so the lock is not held while
        this thread waits for its turn to run Python. If anything fails, nothing is committed and the
        error is raised, as with `execute`."""
        raw = self.driver
        assert raw is not None, "the unit of work is not open"
        self.held.clear()           # committed or failed, the locks are gone
        session = self._session
        if session is not None and (session.new or session.dirty or session.deleted):
            session.flush()         # ORM changes, if any, belong to this transaction too
        statements = [*self._outbox_statements(), *last]
        if last:
            found = self._send(statements, commit=True)[len(statements) - len(last):]
        else:
            if statements:
                self._send(statements)
            found = []
            try:
                if self._db.tracer is None:
                    raw.commit()
                else:
                    with self._span(self._db.tracer, "COMMIT"):
                        raw.commit()
            except psycopg.Error as exc:
                raise DBAPIError.instance("COMMIT", None, exc, psycopg.Error, dialect=_DIALECT) from exc
        self._committed = True
        if session is not None:
            session.commit()        # nothing is left to send: the server has committed
        return found

    def commit_with_last(self, statement: Statement, params: dict[str, Any]) -> Any:
        """`commit` with one last statement; its first row."""
        rows = self.commit((statement, params))[0]
        return rows[0] if rows else None

    def pending_event_ids(self) -> list[uuid.UUID]:
        """The ids the events emitted so far will have in the outbox (`commit` writes them first)."""
        return [ev.event_id for ev in self.events]

    def write_outbox(self) -> list[uuid.UUID]:
        """Write the events emitted so far to the outbox now; their ids. `commit` does this for what is
        left, in its own round trip; a handler calls it earlier only when a later statement needs the rows."""
        ids = [ev.event_id for ev in self.events]
        if self.events:
            self._send(self._outbox_statements())
        return ids

    def _outbox_rows(self) -> str:
        """The pending events as the JSON the outbox insert reads, in the order they were emitted; forgets them."""
        rows = [
            {"ord": i, "id": str(ev.event_id), "exchange": f"{self._db.service}.events", "routing_key": ev.event_type,
             "tenant": ev.tenant, "correlation_id": ev.correlation_id, "event_version": ev.event_version,
             "body": ev.body, "headers": ev.headers}
            for i, ev in enumerate(self.events)
        ]
        self.events = []
        return json.dumps(rows, ensure_ascii=False)

    def _outbox_insert(self, rows_param: str, when: str | None = None) -> str:
        # seq follows the order the events were emitted
        return (f"INSERT INTO {self._db.schema}.outbox (id, exchange, routing_key, tenant, correlation_id,"
                " event_version, body, headers) SELECT x.id, x.exchange, x.routing_key, x.tenant, x.correlation_id,"
                " x.event_version, x.body, x.headers"
                f" FROM jsonb_to_recordset(CAST(:{rows_param} AS jsonb)) AS x(ord int, id uuid, exchange text,"
                " routing_key text, tenant text, correlation_id text, event_version int,"
                " body text, headers jsonb)" + (f" WHERE {when}" if when else "") + " ORDER BY x.ord")

    def _outbox_statements(self) -> list[tuple[str, dict[str, Any]]]:
        """The one statement that writes the pending events (with the relay's wake-up at most once per
        NOTIFY_MIN_INTERVAL), and forgets them; none when nothing is pending."""
        if not self.events:
            return []
        insert = self._outbox_insert("rows")
        if self._db.should_notify():
            insert = (f"WITH ins AS ({insert} RETURNING 1) SELECT pg_notify('{OUTBOX_CHANNEL}', :s)"
                      " FROM (SELECT 1 FROM ins LIMIT 1) AS one")
        return [(insert, {"rows": self._outbox_rows(), "s": self._db.schema})]

    def outbox_cte(self, *, when: str | None = None) -> tuple[str, str, dict[str, Any]]:
        """The pending events as part of a repository's own data-modifying statement, so they are written in
        its round trip instead of one of their own at commit: (`cte`, `column`, `params`). `cte` is
        `, _outbox AS (INSERT …)` to append to the statement's WITH list; `column` is `, (…) AS _notified`
        to append to its final SELECT list (the relay's wake-up, when one is due); `params` go with the
        statement's own (their names start with `_outbox`). `when`: an SQL condition on the statement's other
        CTEs under which the events are written (`EXISTS (SELECT 1 FROM ins)`: only if the row went in).
        The events are forgotten here: they are written with that statement or, if it fails or `when` is
        false, not at all. Nothing pending: empty strings and no params."""
        if not self.events:
            return "", "", {}
        cte = f", _outbox AS ({self._outbox_insert('_outbox_rows', when)} RETURNING 1)"
        column = ""
        params: dict[str, Any] = {}
        if self._db.should_notify():
            column = f", (SELECT pg_notify('{OUTBOX_CHANNEL}', :_outbox_s) FROM _outbox LIMIT 1) AS _notified"
            params["_outbox_s"] = self._db.schema
        params["_outbox_rows"] = self._outbox_rows()
        return cte, column, params

    def rollback(self) -> None:
        self._rollback()
        self.events = []

    def _rollback(self) -> None:
        self.held.clear()
        if self.driver is not None and not self.driver.closed:
            end_transaction(self.driver)     # sends ROLLBACK only if a transaction is open
        if self._session is not None:
            self._session.rollback()    # the server's transaction is over: psycopg sends nothing more

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if not self._committed:
                self._rollback()
        finally:
            if self._session is not None:
                self._session.close()
            if self._cursor is not None:
                self._cursor.close()
            if self._conn is not None:
                self._conn.close()      # back to the pool
            self._conn = self.driver = self._cursor = None


def _binding(principal: Principal | None, tenant: DivisionCode | str | None,
             subtree: bool | None) -> tuple[str, bool, bool]:
    """(tenant, subtree, public) of a transaction, as Database.unit_of_work describes them."""
    if principal is not None:
        return str(principal.tenant), principal.reads_subtree if subtree is None else subtree, False
    if tenant is not None:
        return str(tenant), bool(subtree), False
    return "", False, True


_PREPARED_BY_NAME: weakref.WeakKeyDictionary[psycopg.Connection, set[str]] = weakref.WeakKeyDictionary()
_PREPARED_LOCK = threading.Lock()


def prepared_on(raw: psycopg.Connection) -> set[str]:
    """The names this process has PREPAREd on this connection itself (bound reads, the outbox relay's view), apart
    from psycopg's own: a connection is used by one thread at a time; a closed one drops out. A caller that finds a
    name gone from the server (DEALLOCATE ALL) discards it here and prepares it again."""
    with _PREPARED_LOCK:
        return _PREPARED_BY_NAME.setdefault(raw, set())


# a text is sent whole this many times on a connection before it is PREPAREd there, and a connection keeps this
# many prepared: psycopg's own defaults (prepare_threshold, prepared_max), for the same reasons (a page opened
# once is not kept; the plans of a list opened all day are, bounded: the window list's takes ~330 kB at 1M cases)
PLANNED_THRESHOLD = 5
PLANNED_MAX = 100


class _Planned:
    """What one connection holds of `Database.read_planned`: how often each text has run unprepared (bounded), which
    are PREPAREd (least recently used first), and one psycopg loader for the connection's rows (a connection is used
    by one thread at a time)."""

    def __init__(self) -> None:
        self._counts: OrderedDict[bytes, int] = OrderedDict()
        self._prepared: OrderedDict[bytes, None] = OrderedDict()
        self._loader: Transformer | None = None

    def use(self, name: bytes, threshold: int, maximum: int) -> bool | None:
        """False: prepared, EXECUTE it; True: PREPARE it now (its `threshold`-th use); None: send the text whole."""
        if name in self._prepared:
            self._prepared.move_to_end(name)
            return False
        count = self._counts.pop(name, 0) + 1
        if count >= threshold:
            return True
        self._counts[name] = count
        while len(self._counts) > 10 * maximum:
            self._counts.popitem(last=False)
        return None

    def prepared(self, name: bytes, maximum: int) -> list[bytes]:
        """Record `name` as prepared; the names then past `maximum`, to deallocate."""
        self._counts.pop(name, None)
        self._prepared[name] = None
        self._prepared.move_to_end(name)
        evicted = []
        while len(self._prepared) > maximum:
            evicted.append(self._prepared.popitem(last=False)[0])
        return evicted

    def forget(self, name: bytes) -> None:
        self._prepared.pop(name, None)
        self._counts.pop(name, None)

    def loader(self, raw: psycopg.Connection) -> Transformer:
        if self._loader is None:
            self._loader = Transformer(raw)
        return self._loader


_PLANNED_BY_CONN: weakref.WeakKeyDictionary[psycopg.Connection, _Planned] = weakref.WeakKeyDictionary()


def _planned_on(raw: psycopg.Connection) -> _Planned:
    with _PREPARED_LOCK:
        found = _PLANNED_BY_CONN.get(raw)
        if found is None:
            found = _PLANNED_BY_CONN[raw] = _Planned()
        return found


class Database:
    """One service's view of PostgreSQL: its schema, reached through the application role."""

    def __init__(self, engine: Engine, *, schema: str, service: str | None = None,
                 notify_interval: float = NOTIFY_MIN_INTERVAL):
        self.engine = engine
        self.schema = schema
        self.service = service or schema
        self._last_notify = float("-inf")     # the first commit notifies, however long the machine has been up
        self.notify_interval = notify_interval
        self._notify_lock = threading.Lock()
        # spans for the statements the units of work send straight through psycopg: None (no spans, no
        # cost) unless this process keeps spans (`instrument_database`)
        self.tracer: trace.Tracer | None = None
        # read_planned: how many uses of a text before a connection prepares it, and how many it keeps prepared
        self.planned_threshold = PLANNED_THRESHOLD
        self.planned_max = PLANNED_MAX

    def should_notify(self, now: float | None = None) -> bool:
        """True for at most one committing transaction per `notify_interval` in this process
        (`now`: a monotonic reading; the current one when not given)."""
        now = time.monotonic() if now is None else now
        with self._notify_lock:
            if now - self._last_notify < self.notify_interval:
                return False
            self._last_notify = now
            return True

    @classmethod
    def connect(cls, url: str, *, schema: str, service: str | None = None, pool_size: int = 10) -> Database:
        return cls(make_engine(url, pool_size=pool_size, application_name=f"sanji-{service or schema}"),
                   schema=schema, service=service)

    def unit_of_work(self, principal: Principal | None = None, *, tenant: DivisionCode | str | None = None,
                     subtree: bool | None = None, generic_plans: bool = False) -> UnitOfWork:
        """A transaction bound to the principal's tenant (or, for machine work, the given tenant).

        Without either, the transaction is public: only rows the policies publish are visible and
        nothing can be written to a tenant table. `generic_plans`: the transaction's prepared statements run on
        their generic plan (`plan_cache_mode`), set in the same round trip as the binding — for a read whose one
        statement plans the same way whatever its values, where planning it per call costs more than running it.
        """
        code, sub, public = _binding(principal, tenant, subtree)
        return UnitOfWork(self, code, subtree=sub, public=public, generic_plans=generic_plans)

    def read_bound(self, principal: Principal | None, read: BoundRead, *values: Any,
                   generic_plans: bool = False) -> list[tuple[str | None, ...]]:
        """The rows of one read-only statement, bound to the principal's tenant as a unit of work binds it (none:
        public), in one round trip: the binding's set_config calls and an EXECUTE of the prepared statement go as
        one simple-protocol query, which PostgreSQL runs as one implicit transaction — so the binding (`true`:
        transaction-scoped) holds for the statement and ends with it, and no BEGIN or ROLLBACK travels. A unit
        of work takes three round trips for the same (BEGIN with the binding, the statement, ROLLBACK).

        The values go inline as literals (text quoted as the binding's tenant is, integers, lists of text), the
        statement is prepared on the connection the first time it meets it. Values come back as text (the
        simple protocol's), None for NULL. A failing statement raises as a unit of work's would."""
        tenant, subtree, public = _binding(principal, None, None)
        query = (_begin_statement(tenant, subtree, public, generic_plans)[len(b"BEGIN; "):]
                 + f"; EXECUTE {read.name}({', '.join(_value_literal(v) for v in values)})".encode())
        conn = self.engine.connect()
        try:
            raw = conn.connection.driver_connection
            if raw.pgconn.transaction_status != _IDLE:
                raise RuntimeError("a pooled connection came back inside a transaction")
            for attempt in (1, 2):
                prepared = prepared_on(raw)
                if read.name not in prepared:
                    self._prepare(raw, read)
                    prepared.add(read.name)
                if self.tracer is None:
                    result = raw.pgconn.exec_(query)
                else:
                    attributes = {"db.system": "postgresql", "db.statement": read.statement,
                                  "db.operation": "EXECUTE", "sanji.db.schema": self.schema, "sanji.tenant": tenant}
                    with self.tracer.start_as_current_span(f"EXECUTE {read.name}", kind=SpanKind.CLIENT,
                                                           attributes=attributes):
                        result = raw.pgconn.exec_(query)
                if result.status == _TUPLES_OK:
                    encoding = raw.info.encoding
                    width = result.nfields
                    return [tuple(None if (v := result.get_value(i, j)) is None else v.decode(encoding)
                                  for j in range(width)) for i in range(result.ntuples)]
                exc = psycopg.errors.error_from_result(result, encoding=raw.info.encoding)
                if attempt == 1 and isinstance(exc, psycopg.errors.InvalidSqlStatementName):
                    prepared.discard(read.name)      # DEALLOCATE ALL since (psycopg's rollback does one): again
                    continue
                if raw.pgconn.status != psycopg.pq.ConnStatus.OK:
                    conn.invalidate()
                raise DBAPIError.instance(read.statement, list(values), exc, psycopg.Error, dialect=_DIALECT) from exc
            raise AssertionError("unreachable")
        finally:
            conn.close()

    def _prepare(self, raw: psycopg.Connection, read: BoundRead) -> None:
        if raw.info.parameter_status("standard_conforming_strings") != "on":
            raise RuntimeError("bound reads quote their values for standard_conforming_strings = on")
        result = raw.pgconn.exec_(read.prepare)
        if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
            exc = psycopg.errors.error_from_result(result, encoding=raw.info.encoding)
            if isinstance(exc, psycopg.errors.DuplicatePreparedStatement):
                return                               # prepared by an earlier try whose reply was lost
            raise DBAPIError.instance(read.prepare.decode(), None, exc, psycopg.Error, dialect=_DIALECT) from exc

    def read_planned(self, principal: Principal | None, statement: Statement, params: dict[str, Any], *,
                     subtree: bool | None = None) -> list[tuple]:
        """The rows of one read-only statement planned for its values (as `UnitOfWork.rows_planned` plans them),
        bound to the principal's tenant as a unit of work binds it (none: public), in one round trip, typed as a
        unit of work's rows are (psycopg's loaders of the connection: dates, timestamps, JSON …).

        For a list that needs nothing else from the database (issue 22 item 4: a desk's queue and the cashier's
        list took BEGIN with the binding, their statement and ROLLBACK, three round trips, for one read). The
        binding's set_config calls and the statement go as one simple-protocol query, one implicit transaction,
        as `read_bound`'s do, so the binding holds for the statement and ends with it. The text (the binding's
        comment, then the statement with its values as literals) is sent whole until it has run
        `planned_threshold` (5) times on the connection; from then on it is a statement PREPAREd there (no
        parameters: one plan, made for these values under this binding) and only its EXECUTE travels. A
        connection keeps at most `planned_max` (100) of them, the least recently used deallocated, as psycopg keeps its
        own. The span carries the statement with its placeholders, never the values."""
        tenant, subtree, public = _binding(principal, None, subtree)
        template = _driver_text(statement)
        text = _binding_comment(tenant, subtree, public) + _PLACEHOLDER.sub(
            lambda m: "%" if m.group(1) is None else _plan_literal(params[m.group(1)]), template)
        binding = _begin_statement(tenant, subtree, public)[len(b"BEGIN; "):]
        body = text.encode()
        name = b"planned_" + hashlib.blake2b(body, digest_size=12).hexdigest().encode()
        conn = self.engine.connect()
        try:
            raw = conn.connection.driver_connection
            if raw.pgconn.transaction_status != _IDLE:
                raise RuntimeError("a pooled connection came back inside a transaction")
            planned = _planned_on(raw)
            for attempt in (1, 2):
                prepare = planned.use(name, self.planned_threshold, self.planned_max)
                if prepare is None:
                    query = binding + b"; " + body
                elif prepare:
                    query = binding + b"; PREPARE " + name + b" AS " + body + b"; EXECUTE " + name
                else:
                    query = binding + b"; EXECUTE " + name
                if self.tracer is None:
                    result = raw.pgconn.exec_(query)
                else:
                    attributes = {"db.system": "postgresql", "db.statement": template, "db.operation": "SELECT",
                                  "sanji.db.schema": self.schema, "sanji.tenant": tenant}
                    with self.tracer.start_as_current_span(span_name(template), kind=SpanKind.CLIENT,
                                                           attributes=attributes):
                        result = raw.pgconn.exec_(query)
                if result.status == _TUPLES_OK:
                    if prepare:
                        self._deallocate(raw, planned.prepared(name, self.planned_max))
                    loader = planned.loader(raw)
                    loader.set_pgresult(result)
                    try:
                        return loader.load_rows(0, result.ntuples, tuple)
                    finally:
                        loader.set_pgresult(None)
                exc = psycopg.errors.error_from_result(result, encoding=raw.info.encoding)
                if attempt == 1 and isinstance(exc, psycopg.errors.InvalidSqlStatementName) and prepare is False:
                    planned.forget(name)             # DEALLOCATE ALL since: prepare it again
                    continue
                if attempt == 1 and isinstance(exc, psycopg.errors.DuplicatePreparedStatement):
                    # an earlier query's PREPARE held though its statement failed
                    self._deallocate(raw, planned.prepared(name, self.planned_max))
                    continue
                if prepare:
                    planned.forget(name)             # whether its PREPARE ran is not known: the next use tells
                if raw.pgconn.status != psycopg.pq.ConnStatus.OK:
                    conn.invalidate()
                raise DBAPIError.instance(template, [params], exc, psycopg.Error, dialect=_DIALECT) from exc
            raise AssertionError("unreachable")
        finally:
            conn.close()

    @staticmethod
    def _deallocate(raw: psycopg.Connection, names: list[bytes]) -> None:
        """Drop the planned reads a connection no longer keeps (one round trip each, only when its
        `planned_max` is passed); one already gone (DEALLOCATE ALL) is no error."""
        for old in names:
            result = raw.pgconn.exec_(b"DEALLOCATE " + old)
            if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
                log.debug("planned read %s was already gone", old.decode())

    def check_walls(self) -> None:
        """Refuse to serve on a role that row-level security does not hold: a superuser, a role with
        BYPASSRLS, or the owner of a table in this service's schema (an owner is exempt unless FORCE)."""
        with self.engine.connect() as conn:
            role, superuser, bypass = conn.execute(text(
                "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")).one()
            owned = conn.execute(text("SELECT count(*) FROM pg_tables WHERE tableowner = current_user"
                                      " AND schemaname = :s"), {"s": self.schema}).scalar_one()
            conn.rollback()
        problems = [what for what, bad in (("is a superuser", superuser), ("has BYPASSRLS", bypass),
                                           (f"owns {owned} table(s) in schema {self.schema}", owned)) if bad]
        if problems:
            raise RuntimeError(f"refusing to serve as database role {role!r}: it {' and '.join(problems)};"
                               " the application role must be one that row-level security holds")

    def dispose(self) -> None:
        self.engine.dispose()


# ---------------------------------------------------------------------------------------------
# Migration helpers (used from each service's Alembic revisions; run as the owner role)
# ---------------------------------------------------------------------------------------------

_TENANT = "current_setting('app.tenant', true)"
WRITE_PREDICATE = "{col} = " + _TENANT
READ_PREDICATE = (
    "({col} = " + _TENANT + " OR (current_setting('app.subtree', true) = 'on'"
    " AND length(" + _TENANT + ") >= 2 AND {col} LIKE " + _TENANT + " || '%'))"
)
PUBLIC_MODE = "current_setting('app.public', true) = 'on'"


def tenant_rls_statements(qualified_table: str, *, column: str = "tenant_code",
                          extra_read: str | None = None, app_role: str = "sanji_app") -> list[str]:
    """SQL that walls a table by tenant: RLS forced on the owner too, reads within the tenant (or
    its subtree for supervision roles), writes only within it. `extra_read` widens reading only
    (e.g. published catalogue rows are public information)."""
    read = READ_PREDICATE.format(col=column)
    if extra_read:
        read = f"({read} OR ({extra_read}))"
    write = WRITE_PREDICATE.format(col=column)
    name = qualified_table.split(".")[-1]
    return [
        f"ALTER TABLE {qualified_table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {qualified_table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {name}_read ON {qualified_table} FOR SELECT USING {read}",
        f"CREATE POLICY {name}_insert ON {qualified_table} FOR INSERT WITH CHECK ({write})",
        f"CREATE POLICY {name}_update ON {qualified_table} FOR UPDATE USING ({write}) WITH CHECK ({write})",
        f"CREATE POLICY {name}_delete ON {qualified_table} FOR DELETE USING ({write})",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {qualified_table} TO {app_role}",
    ]


# The outbox relay reads and marks every tenant's rows of its own service's outbox (`<schema>.outbox`): the one
# transaction setting its policies open beyond the writer's binding. Set only by shared.messaging.relay and the
# operators' tools (replay, counts), inside their own transaction (`set_config(…, true)`).
RELAY_SETTING = "app.relay"
_RELAY = f"current_setting('{RELAY_SETTING}', true) = 'on'"


def messaging_rls_statements(schema: str, app_role: str = "sanji_app") -> list[str]:
    """Row-level security on a service's outbox and inbox (issue 15).

    outbox: a row belongs to the unit whose transaction wrote it (`writer`, the tenant binding, filled by its
    default), which is not always the event's own `tenant` (intake writes a village's proxy progress while
    bound to the township that accepted it). The writer, and units above it with supervision rights, read it;
    nobody else does but the relay, which opens `app.relay`. A public (anonymous) transaction's rows
    (writer '') are read by the relay alone.
    inbox: the consumer binds each event's tenant before it records it; walled by that tenant like any table, and
    read (never written) across tenants in the relay's view, for the operators' counts."""
    table = f"{schema}.outbox"
    read = f"(({READ_PREDICATE.format(col='writer')} AND writer <> '') OR {_RELAY})"
    write = WRITE_PREDICATE.format(col="writer")
    return [
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS writer text",
        f"UPDATE {table} SET writer = tenant WHERE writer IS NULL",
        f"ALTER TABLE {table} ALTER COLUMN writer SET DEFAULT {_TENANT}",
        f"ALTER TABLE {table} ALTER COLUMN writer SET NOT NULL",
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY outbox_read ON {table} FOR SELECT USING {read}",
        f"CREATE POLICY outbox_insert ON {table} FOR INSERT WITH CHECK ({write})",
        f"CREATE POLICY outbox_update ON {table} FOR UPDATE USING {read} WITH CHECK ({write} OR {_RELAY})",
        f"CREATE POLICY outbox_delete ON {table} FOR DELETE USING {read}",
        *tenant_rls_statements(f"{schema}.inbox", column="tenant", extra_read=_RELAY, app_role=app_role),
    ]


def messaging_rls_drop_statements(schema: str) -> list[str]:
    """What `messaging_rls_statements` did, undone (a revision's downgrade)."""
    out = [f"DROP POLICY {table}_{verb} ON {schema}.{table}"
           for table in ("outbox", "inbox") for verb in ("read", "insert", "update", "delete")]
    for table in ("outbox", "inbox"):
        out += [f"ALTER TABLE {schema}.{table} NO FORCE ROW LEVEL SECURITY",
                f"ALTER TABLE {schema}.{table} DISABLE ROW LEVEL SECURITY"]
    return [*out, f"ALTER TABLE {schema}.outbox DROP COLUMN writer"]


def messaging_tables_statements(schema: str, app_role: str = "sanji_app", *, rls: bool = True) -> list[str]:
    """The outbox and inbox of one service, walled (`messaging_rls_statements`). `rls=False` is what the first
    migrations of the services that existed before issue 15 ran; their later revision adds the walls."""
    return [
        f"""CREATE TABLE {schema}.outbox (
            seq bigserial PRIMARY KEY,
            id uuid NOT NULL UNIQUE,
            exchange text NOT NULL,
            routing_key text NOT NULL,
            tenant text NOT NULL,
            correlation_id text,
            event_version integer NOT NULL DEFAULT 1,
            body text NOT NULL,
            headers jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at timestamptz,
            attempts integer NOT NULL DEFAULT 0,
            last_error text
        )""",
        f"CREATE INDEX outbox_unsent ON {schema}.outbox (seq) WHERE sent_at IS NULL",
        f"""CREATE TABLE {schema}.inbox (
            consumer text NOT NULL,
            event_id uuid NOT NULL,
            event_type text NOT NULL,
            tenant text NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        )""",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.outbox, {schema}.inbox TO {app_role}",
        f"GRANT USAGE, SELECT ON SEQUENCE {schema}.outbox_seq_seq TO {app_role}",
        *(messaging_rls_statements(schema, app_role) if rls else []),
    ]


@contextmanager
def relay_transaction(engine: Engine) -> Iterator[Any]:
    """A transaction that sees every tenant's rows of an outbox (the relay's view): for operators' tools and
    tests that count or inspect what a service has emitted. Nothing else reads the outbox across tenants."""
    with engine.begin() as conn:
        conn.execute(text(f"SELECT set_config('{RELAY_SETTING}', 'on', true)"))
        yield conn


def run_migrations(migrations_dir: pathlib.Path, owner_url: str, schema: str) -> None:
    """Upgrade one service's schema to head (Alembic, version table inside the schema)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", owner_url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    command.upgrade(cfg, "head")


def run_alembic_environment(default_schema: str) -> None:
    """The body of every service's `migrations/env.py`: online migrations on the owner's URL, with the
    search path and Alembic's version table inside the service's schema, one transaction per revision."""
    from alembic import context
    from sqlalchemy import pool

    config = context.config
    schema = config.attributes.get("schema", default_schema)
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text(f"SET search_path TO {schema}"))
        connection.commit()
        context.configure(connection=connection, version_table_schema=schema, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextmanager
def owner_connection(owner_url: str) -> Iterator[Any]:
    eng = create_engine(owner_url)
    try:
        with eng.begin() as conn:
            yield conn
    finally:
        eng.dispose()


def instrument_engine(engine: Engine) -> None:
    """SQL statements become child spans of the current trace."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(engine=engine)


def instrument_database(db: Database, tracer_provider: trace.TracerProvider | None = None) -> None:
    """Every SQL statement of this service becomes a child span of the current trace: those that go through
    SQLAlchemy (its instrumentation) and those the units of work send straight through psycopg (their own
    spans, `UnitOfWork._span`), BEGIN with the tenant binding and COMMIT included."""
    instrument_engine(db.engine)
    db.tracer = (tracer_provider or trace.get_tracer_provider()).get_tracer("sanji.db")


__all__ = ["Database", "UnitOfWork", "make_engine", "sql", "tenant_rls_statements", "messaging_tables_statements",
           "run_migrations", "event_type_of", "message_to_json", "instrument_engine", "instrument_database",
           "event"]
