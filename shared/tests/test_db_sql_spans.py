"""Issue 23, item 5: the statements a unit of work sends straight through psycopg (intake's accept,
approval's case insert: no SQLAlchemy on those paths) are SQL spans of the caller's trace, with the
statement's text and never its values; a process that keeps no spans makes none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sanji.common.v1 import common_pb2
from sqlalchemy.exc import IntegrityError

from shared.config import PlatformSettings
from shared.db import BoundRead, Database, messaging_tables_statements, span_name, sql, tenant_rls_statements
from shared.tenancy import DivisionCode, Principal
from shared.tests.schemas import scratch_schema

SCHEMA = "spantest"
INSERT = sql(f"INSERT INTO {SCHEMA}.docs (tenant_code, number) VALUES (:t, :n)")
COUNT = sql(f"SELECT count(*) FROM {SCHEMA}.docs WHERE number = :n")


@pytest.fixture(scope="module")
def db(test_settings: PlatformSettings) -> Iterator[Database]:
    with scratch_schema(test_settings.database_owner_url, SCHEMA, [
            f"CREATE TABLE {SCHEMA}.docs (tenant_code text NOT NULL, number text NOT NULL UNIQUE)",
            *tenant_rls_statements(f"{SCHEMA}.docs"), *messaging_tables_statements(SCHEMA)]):
        pass
    database = Database.connect(test_settings.database_url, schema=SCHEMA, pool_size=2)
    yield database
    database.dispose()


@pytest.fixture
def spans(db: Database) -> Iterator[tuple[InMemorySpanExporter, TracerProvider]]:
    """This database's statements traced into memory (a provider of the test's own, not the process's)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    db.tracer = provider.get_tracer("sanji.db")
    yield exporter, provider
    db.tracer = None
    provider.shutdown()


def test_the_span_name_is_the_operation_and_its_table():
    assert span_name("INSERT INTO intake.applications (a) VALUES (%(a)s)") == "INSERT intake.applications"
    assert span_name("  update approval.cases SET x = 1") == "UPDATE approval.cases"
    assert span_name("SELECT a FROM catalogue.items WHERE b = %(b)s") == "SELECT catalogue.items"
    assert span_name("WITH ins AS (INSERT INTO s.outbox (a) SELECT 1) SELECT 1") == "INSERT s.outbox"
    assert span_name("COMMIT") == "COMMIT"


def test_statements_sent_through_psycopg_are_child_spans_of_the_callers_trace(db, spans):
    exporter, provider = spans
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("AcceptApplication") as parent:
        with db.unit_of_work(tenant="620602") as uow:
            uow.execute(INSERT, {"t": "620602", "n": "TRACE-SECRET-1"})
            assert uow.value(COUNT, {"n": "TRACE-SECRET-1"}) == 1
            uow.emit(common_pb2.Deadline(due="x"), correlation_id="c1")
            uow.commit()
    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert {"BEGIN", f"INSERT {SCHEMA}.docs", f"SELECT {SCHEMA}.docs", f"INSERT {SCHEMA}.outbox", "COMMIT",
            "AcceptApplication"} <= set(finished)
    trace_id = parent.get_span_context().trace_id
    for name in ("BEGIN", f"INSERT {SCHEMA}.docs", f"SELECT {SCHEMA}.docs", f"INSERT {SCHEMA}.outbox", "COMMIT"):
        span = finished[name]
        assert span.context.trace_id == trace_id and span.parent.span_id == parent.get_span_context().span_id
        assert span.kind == SpanKind.CLIENT
        assert span.attributes["db.system"] == "postgresql" and span.attributes["db.name"]
        assert span.attributes["sanji.db.schema"] == SCHEMA and span.attributes["sanji.tenant"] == "620602"
    insert = finished[f"INSERT {SCHEMA}.docs"].attributes["db.statement"]
    assert insert.startswith(f"INSERT INTO {SCHEMA}.docs") and "%(n)s" in insert
    # the values never reach a span: the statement text only, with its placeholders
    assert not any("TRACE-SECRET" in str(v) for s in finished.values() for v in s.attributes.values())
    assert "set_config('app.tenant'" in finished["BEGIN"].attributes["db.statement"]


def test_the_last_statement_and_its_commit_are_one_span(db, spans):
    exporter, _ = spans
    with db.unit_of_work(tenant="620602") as uow:
        uow.commit_with_last(INSERT, {"t": "620602", "n": "TRACE-LAST"})
    [span] = [s for s in exporter.get_finished_spans() if s.name.endswith("COMMIT") and s.name != "COMMIT"]
    assert span.name == f"INSERT {SCHEMA}.docs … COMMIT"
    assert span.attributes["db.statement"].endswith("; COMMIT")


def test_a_failing_statement_is_an_error_span(db, spans):
    exporter, _ = spans
    with db.unit_of_work(tenant="620602") as uow:
        uow.execute(INSERT, {"t": "620602", "n": "TRACE-TWICE"})
        uow.commit()
    with pytest.raises(IntegrityError), db.unit_of_work(tenant="620602") as uow:
        uow.execute(INSERT, {"t": "620602", "n": "TRACE-TWICE"})
    [failed] = [s for s in exporter.get_finished_spans() if s.status.status_code == StatusCode.ERROR]
    assert failed.name == f"INSERT {SCHEMA}.docs"
    assert any(e.name == "exception" and "UniqueViolation" in e.attributes["exception.type"] for e in failed.events)


def test_without_a_tracer_no_span_is_made(db, spans):
    exporter, _ = spans
    db.tracer = None
    with db.unit_of_work(tenant="620602") as uow:
        uow.execute(INSERT, {"t": "620602", "n": "TRACE-NONE"})
        uow.commit()
    assert exporter.get_finished_spans() == ()


def test_a_bound_read_is_a_child_span_with_its_statement_and_never_its_values(db, spans):
    exporter, provider = spans
    read = BoundRead("spantest_count", f"SELECT count(*) FROM {SCHEMA}.docs WHERE number = $1", ("text",))
    caller = Principal(subject="t", username="t", tenant=DivisionCode("620602"), roles=frozenset())
    with provider.get_tracer("test").start_as_current_span("SearchItems") as parent:
        assert db.read_bound(caller, read, "秘密-值") == [("0",)]
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "EXECUTE spantest_count"]
    assert span.kind == SpanKind.CLIENT and span.parent.span_id == parent.get_span_context().span_id
    assert span.attributes["db.statement"] == read.statement and span.attributes["sanji.tenant"] == "620602"
    assert not any("秘密" in str(v) for v in span.attributes.values())


def test_a_read_planned_for_its_values_is_a_span_with_its_placeholders_and_never_its_values(db, spans):
    exporter, provider = spans
    with provider.get_tracer("test").start_as_current_span("ListApplications") as parent, \
            db.unit_of_work(tenant="620602") as uow:
        assert uow.rows_planned(COUNT, {"n": "秘密-值"}) == [(0,)]
    (span,) = [s for s in exporter.get_finished_spans() if s.name == f"SELECT {SCHEMA}.docs"]
    assert span.kind == SpanKind.CLIENT and span.parent.span_id == parent.get_span_context().span_id
    assert span.attributes["db.statement"] == f"SELECT count(*) FROM {SCHEMA}.docs WHERE number = %(n)s"
    assert not any("秘密" in str(v) for v in span.attributes.values())


def test_a_planned_read_in_one_round_trip_is_a_span_with_its_placeholders_and_never_its_values(db, spans):
    """Database.read_planned: one span per call, whether the text is sent whole, prepared or executed."""
    exporter, provider = spans
    caller = Principal(subject="t", username="t", tenant=DivisionCode("620602"), roles=frozenset())
    with provider.get_tracer("test").start_as_current_span("ListQueue") as parent:
        for _ in range(7):
            assert db.read_planned(caller, COUNT, {"n": "秘密-值"}) == [(0,)]
    found = [s for s in exporter.get_finished_spans() if s.name == f"SELECT {SCHEMA}.docs"]
    assert len(found) == 7
    for span in found:
        assert span.kind == SpanKind.CLIENT and span.parent.span_id == parent.get_span_context().span_id
        assert span.attributes["db.statement"] == f"SELECT count(*) FROM {SCHEMA}.docs WHERE number = %(n)s"
        assert span.attributes["sanji.tenant"] == "620602"
        assert not any("秘密" in str(v) for v in span.attributes.values())
