"""The unit of work against the real PostgreSQL: the last statement sent with the COMMIT, and the
outbox written before it."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator

import psycopg
import pytest
from sanji.common.v1 import common_pb2
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.config import PlatformSettings
from shared.db import BoundRead, Database, RlsScope, messaging_tables_statements, sql, tenant_rls_statements
from shared.tenancy import DivisionCode, Principal
from shared.tests.schemas import scratch_schema

SCHEMA = "uowtest"


@pytest.fixture(scope="module")
def db(test_settings: PlatformSettings) -> Iterator[Database]:
    with scratch_schema(test_settings.database_owner_url, SCHEMA, [
            f"CREATE TABLE {SCHEMA}.counters (tenant_code text PRIMARY KEY, value int NOT NULL)",
            f"CREATE TABLE {SCHEMA}.docs (tenant_code text NOT NULL, number text NOT NULL UNIQUE)",
            *tenant_rls_statements(f"{SCHEMA}.counters"), *tenant_rls_statements(f"{SCHEMA}.docs"),
            *messaging_tables_statements(SCHEMA)]):
        pass                                              # created: nothing more to do as the owner
    database = Database.connect(test_settings.database_url, schema=SCHEMA, pool_size=2)
    yield database
    database.dispose()


TAKE = sql(f"WITH n AS (INSERT INTO {SCHEMA}.counters (tenant_code, value) VALUES (:t, 1) ON CONFLICT (tenant_code)"
           " DO UPDATE SET value = counters.value + 1 RETURNING value),"
           f" d AS (UPDATE {SCHEMA}.docs SET number = :t || '-' || (SELECT value FROM n) WHERE number = :ph),"
           f" o AS (UPDATE {SCHEMA}.outbox SET body = replace(body, :ph, (SELECT value FROM n)::text)"
           " WHERE id = ANY(CAST(:ids AS uuid[])))"
           " SELECT value FROM n")


def rows(db: Database, query: str, tenant: str = "620602") -> list[tuple]:
    with db.unit_of_work(tenant=tenant) as uow:
        return [tuple(r) for r in uow.session.execute(text(query)).all()]


def test_the_last_statement_commits_with_everything_before_it(db: Database):
    with db.unit_of_work(tenant="620602") as uow:
        uow.session.execute(text(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'PH-1')"))
        uow.emit(common_pb2.Deadline(due="PH-1"), correlation_id="c1")
        ids = uow.write_outbox()
        first = uow.commit_with_last(TAKE, {"t": "620602", "ph": "PH-1", "ids": [str(i) for i in ids]})
    assert first[0] >= 1
    assert (f"620602-{first[0]}",) in rows(db, f"SELECT number FROM {SCHEMA}.docs")
    bodies = [b for (b,) in rows(db, f"SELECT body FROM {SCHEMA}.outbox WHERE id = '{ids[0]}'")]
    assert bodies and "PH-1" not in bodies[0] and str(first[0]) in bodies[0]
    with db.unit_of_work(tenant="620602") as uow:       # the next one follows without a gap
        uow.session.execute(text(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'PH-2')"))
        second = uow.commit_with_last(TAKE, {"t": "620602", "ph": "PH-2", "ids": []})
    assert second[0] == first[0] + 1


def test_a_failing_last_statement_leaves_nothing_written(db: Database):
    with db.unit_of_work(tenant="620602") as uow:       # a number given already, whatever ran before
        uow.session.execute(text(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'PH-0')"))
        uow.commit_with_last(TAKE, {"t": "620602", "ph": "PH-0", "ids": []})
    before = rows(db, f"SELECT value FROM {SCHEMA}.counters")
    with pytest.raises(Exception, match="duplicate key"), db.unit_of_work(tenant="620602") as uow:
        uow.session.execute(text(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'PH-3')"))
        uow.emit(common_pb2.Deadline(due="PH-3"), correlation_id="c3")
        uow.write_outbox()
        # the number given last stands already: the statement fails on the unique number
        taken = rows(db, f"SELECT value FROM {SCHEMA}.counters")[0][0]
        uow.session.execute(text(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', '620602-{taken + 1}-x')"))
        uow.commit_with_last(sql(f"UPDATE {SCHEMA}.docs SET number = :n WHERE number = 'PH-3' RETURNING 1"),
                             {"n": f"620602-{taken}"})
    assert rows(db, f"SELECT value FROM {SCHEMA}.counters") == before
    assert rows(db, f"SELECT number FROM {SCHEMA}.docs WHERE number IN ('PH-3', '620602-{before[0][0] + 1}-x')") == []
    assert rows(db, f"SELECT count(*) FROM {SCHEMA}.outbox WHERE correlation_id = 'c3'") == [(0,)]
    with db.unit_of_work(tenant="620602") as uow:       # the pooled connection is clean and usable
        assert uow.session.execute(text("SELECT 1")).scalar_one() == 1


# -- statements straight to psycopg, on the unit of work's own transaction ----------------------------

def test_driver_statements_run_in_the_bound_tenants_transaction(db: Database):
    with db.unit_of_work(tenant="620602") as uow:
        assert uow.value("SELECT current_setting('app.tenant', true)") == "620602"
        uow.row(f"INSERT INTO {SCHEMA}.docs VALUES (:t, :n) RETURNING number", {"t": "620602", "n": "D-own"})
        uow.session.execute(text(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'D-own-2')"))   # the same transaction
        assert uow.rows(f"SELECT number FROM {SCHEMA}.docs WHERE number LIKE :p || '%' ORDER BY number",
                        {"p": "D-own"}) == [("D-own",), ("D-own-2",)]
        uow.commit()
    with db.unit_of_work(tenant="620602001") as other:
        # another tenant's rows do not exist for this transaction, through the driver as through SQLAlchemy
        assert other.rows(f"SELECT number FROM {SCHEMA}.docs WHERE number LIKE 'D-own%'") == []
        assert other.row(f"SELECT number FROM {SCHEMA}.docs WHERE number = 'D-own'") is None
        with pytest.raises(Exception, match="row-level security"):
            other.row(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'D-foreign')")
    assert rows(db, f"SELECT count(*) FROM {SCHEMA}.docs WHERE number = 'D-foreign'") == [(0,)]


def test_a_batch_is_answered_statement_by_statement(db: Database):
    with db.unit_of_work(tenant="620602") as uow:
        first, second, third = uow.batch(("SELECT 1, :x", {"x": "a"}), ("SELECT 2 WHERE false", None),
                                         (f"UPDATE {SCHEMA}.docs SET number = number WHERE false", None))
    assert [first, second, third] == [[(1, "a")], [], []]


def test_a_failing_driver_statement_raises_as_sqlalchemy_and_writes_nothing(db: Database):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError, match="duplicate key"), db.unit_of_work(tenant="620602") as uow:
        uow.row(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'D-dup')")
        uow.emit(common_pb2.Deadline(due="D-dup"), correlation_id="c-dup")
        uow.commit((f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'D-dup')", None))
    assert rows(db, f"SELECT count(*) FROM {SCHEMA}.docs WHERE number = 'D-dup'") == [(0,)]
    assert rows(db, f"SELECT count(*) FROM {SCHEMA}.outbox WHERE correlation_id = 'c-dup'") == [(0,)]
    with pytest.raises(LookupError), db.unit_of_work(tenant="620602") as uow:
        uow.value("SELECT 1 WHERE false")


def test_commit_writes_the_outbox_and_the_last_statements_together(db: Database):
    with db.unit_of_work(tenant="620602") as uow:
        uow.emit(common_pb2.Deadline(due="D-last"), correlation_id="c-last")
        ids = uow.pending_event_ids()
        # the last statement sees the outbox row the same commit wrote before it
        (found,) = uow.commit((f"SELECT count(*) FROM {SCHEMA}.outbox WHERE id = ANY(CAST(:ids AS uuid[]))",
                               {"ids": [str(i) for i in ids]}))
    assert found == [(1,)]
    assert rows(db, f"SELECT routing_key FROM {SCHEMA}.outbox WHERE correlation_id = 'c-last'") == [("deadline",)]


def test_a_unit_of_work_that_only_uses_the_driver_makes_no_session(db: Database):
    with db.unit_of_work(tenant="620602") as uow:
        uow.row(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'D-nosession')")
        uow.emit(common_pb2.Deadline(due="D-nosession"), correlation_id="c-nosession")
        uow.commit()
        assert uow._session is None
    assert rows(db, f"SELECT count(*) FROM {SCHEMA}.docs WHERE number = 'D-nosession'") == [(1,)]
    assert rows(db, f"SELECT count(*) FROM {SCHEMA}.outbox WHERE correlation_id = 'c-nosession'") == [(1,)]


def test_a_session_made_late_joins_the_transaction_and_rolls_back_with_it(db: Database):
    with pytest.raises(RuntimeError, match="given up"), db.unit_of_work(tenant="620602") as uow:
        uow.row(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'D-late-1')")
        # made after a driver statement: it sees that row, bound to the same tenant
        assert uow.session.execute(text(f"SELECT count(*) FROM {SCHEMA}.docs WHERE number = 'D-late-1'")).scalar() == 1
        assert uow.session.execute(text("SELECT current_setting('app.tenant', true)")).scalar() == "620602"
        uow.session.execute(text(f"INSERT INTO {SCHEMA}.docs VALUES ('620602', 'D-late-2')"))
        raise RuntimeError("given up before commit")
    assert rows(db, f"SELECT count(*) FROM {SCHEMA}.docs WHERE number LIKE 'D-late-%'") == [(0,)]
    with db.unit_of_work(tenant="620602") as uow:       # the pooled connection is clean and bound afresh
        assert uow.value("SELECT current_setting('app.tenant', true)") == "620602"
        assert uow.driver.info.transaction_status == uow.driver.info.transaction_status.INTRANS
    with db.unit_of_work(tenant="620602001") as uow:
        assert uow.value("SELECT current_setting('app.tenant', true)") == "620602001"


def test_a_failing_unit_of_work_gives_its_connection_back(db: Database):
    pool = db.engine.pool
    before = pool.checkedout()
    with pytest.raises(Exception, match="invalid input syntax"), \
            db.unit_of_work(tenant="620602") as uow:
        uow.value("SELECT CAST('x' AS int)")
    assert pool.checkedout() == before
    with db.unit_of_work(tenant="620602") as uow:       # and the next one works on a clean connection
        assert uow.value("SELECT 1") == 1


@pytest.mark.parametrize("tenant", ["620602001", "", "62'0602", "6206; DROP TABLE x; --"])
def test_the_binding_sent_with_begin_holds_the_tenant_exactly(db: Database, tenant: str):
    with db.unit_of_work(tenant=tenant, subtree=True) as uow:
        assert uow.driver.pgconn.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert uow.row("SELECT current_setting('app.tenant'), current_setting('app.subtree'),"
                       " current_setting('app.public')") == (tenant, "on", "off")
    with db.unit_of_work() as uow:
        assert uow.row("SELECT current_setting('app.tenant'), current_setting('app.public')") == ("", "on")


def test_a_tenant_that_cannot_be_bound_is_refused_and_the_connection_returned(db: Database):
    before = db.engine.pool.checkedout()
    with pytest.raises(ValueError), db.unit_of_work(tenant="6206\x00"):
        pass
    assert db.engine.pool.checkedout() == before


INSERT_DOC = (f"WITH ins AS (INSERT INTO {SCHEMA}.docs (tenant_code, number) VALUES (:t, :n)"
              " ON CONFLICT (number) DO NOTHING RETURNING number){cte} SELECT count(*){column} FROM ins")


def _insert_doc(uow, number: str, correlation_id: str) -> int:
    uow.emit(common_pb2.Deadline(due=number), correlation_id=correlation_id)
    uow.emit(common_pb2.Deadline(due=number + "-2"), correlation_id=correlation_id)
    cte, column, params = uow.outbox_cte(when="EXISTS (SELECT 1 FROM ins)")
    assert uow.events == []                             # taken by the statement
    return uow.value(INSERT_DOC.format(cte=cte, column=column), {"t": "620602", "n": number, **params})


@pytest.mark.parametrize("notify", [True, False], ids=["notifying", "quiet"])
def test_events_written_with_a_statement_commit_with_it_and_only_when_it_wrote(db: Database, notify: bool):
    # every commit wakes the relay, or (its one wake-up spent first) none in the next hour
    db = Database(db.engine, schema=SCHEMA, notify_interval=0.0 if notify else 3600.0)
    if not notify:
        assert db.should_notify()
    number = f"CTE-{notify}"
    with psycopg.connect(db.engine.url.render_as_string(hide_password=False).replace("+psycopg", ""),
                         autocommit=True) as listener:
        listener.execute("LISTEN sanji_outbox")
        with db.unit_of_work(tenant="620602") as uow:
            assert _insert_doc(uow, number, f"c-cte-{notify}") == 1
            uow.commit()
        heard = [n.payload for n in listener.notifies(timeout=0.5, stop_after=1)]
    assert heard == ([SCHEMA] if notify else [])        # the relay is woken when one is due
    assert rows(db, f"SELECT CAST(body AS jsonb) ->> 'due' FROM {SCHEMA}.outbox WHERE correlation_id = 'c-cte-{notify}'"
                " ORDER BY seq") == [(number,), (f"{number}-2",)]       # in the order emitted
    with db.unit_of_work(tenant="620602") as uow:         # the same number again: no row, so no events
        assert _insert_doc(uow, number, f"c-cte-again-{notify}") == 0
        uow.commit()
    assert rows(db, f"SELECT count(*) FROM {SCHEMA}.outbox WHERE correlation_id = 'c-cte-again-{notify}'") == [(0,)]
    with db.unit_of_work(tenant="620602") as uow:         # nothing pending: the statement is left as it is
        assert uow.outbox_cte() == ("", "", {})
    with db.unit_of_work(tenant="620602") as uow:         # not committed: neither the row nor its events
        assert _insert_doc(uow, number + "-rolled-back", f"c-cte-rb-{notify}") == 1
    assert rows(db, f"SELECT count(*) FROM {SCHEMA}.outbox WHERE correlation_id = 'c-cte-rb-{notify}'") == [(0,)]


def test_rows_by_name_a_scalar_and_a_row_count_on_the_units_own_connection(db: Database):
    with db.unit_of_work(tenant="620603") as uow:
        assert uow.execute(f"INSERT INTO {SCHEMA}.docs VALUES (:t, :n), (:t, :m)",
                           {"t": "620603", "n": "MAP-1", "m": "MAP-2"}) == 2
        found = uow.mappings(f"SELECT tenant_code, number FROM {SCHEMA}.docs WHERE number LIKE 'MAP-%'"
                             " ORDER BY number")
        assert found == [{"tenant_code": "620603", "number": "MAP-1"}, {"tenant_code": "620603", "number": "MAP-2"}]
        assert uow.mapping(f"SELECT number FROM {SCHEMA}.docs WHERE number = 'MAP-9'") is None
        assert uow.scalar(f"SELECT count(*) FROM {SCHEMA}.docs WHERE number LIKE 'MAP-%'") == 2
        assert uow.scalar(f"SELECT number FROM {SCHEMA}.docs WHERE number = 'MAP-9'") is None
        assert uow.execute(f"UPDATE {SCHEMA}.docs SET number = number || 'x' WHERE number LIKE 'MAP-%'") == 2
        uow.rollback()
    with db.unit_of_work(tenant="620603") as uow:       # rolled back: nothing stayed
        assert uow.scalar(f"SELECT count(*) FROM {SCHEMA}.docs WHERE number LIKE 'MAP-%'") == 0


def test_a_service_refuses_to_serve_on_a_role_that_rls_does_not_hold(db: Database, test_settings: PlatformSettings):
    db.check_walls()                                   # the application role: owns nothing, bypasses nothing
    owner = Database.connect(test_settings.database_owner_url, schema=SCHEMA, pool_size=1)
    superuser = Database.connect(test_settings.database_owner_url.replace("sanji_owner:sanji_owner", "postgres"),
                                 schema=SCHEMA, pool_size=1)
    try:
        with pytest.raises(RuntimeError, match=f"owns [0-9]+ table\\(s\\) in schema {SCHEMA}"):
            owner.check_walls()
        with pytest.raises(RuntimeError, match="is a superuser and has BYPASSRLS"):
            superuser.check_walls()
    finally:
        owner.dispose()
        superuser.dispose()


def test_reads_that_end_in_a_rollback_keep_the_connections_prepared_statements(db: Database,
                                                                               test_settings: PlatformSettings):
    """A read ends in a ROLLBACK; psycopg's own would forget what the connection prepared (DEALLOCATE ALL), so a
    statement read on every call would never be prepared, and a read on a pooled connection would wipe the
    writes' (issue 22). On one pooled connection: a statement run in six reads is prepared, and stays so after a
    failed unit of work and a session's rollback."""
    one = Database.connect(test_settings.database_url, schema=SCHEMA, pool_size=1)   # `db` made the schema
    try:
        count = sql(f"SELECT count(*) FROM {SCHEMA}.docs WHERE number > :n")
        prepared = sql("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%' || :t || '.docs%'")
        for _ in range(6):                               # psycopg prepares a statement on its fifth use
            with one.unit_of_work(tenant="620602") as uow:
                uow.value(count, {"n": ""})
        with one.unit_of_work(tenant="620602") as uow:
            assert uow.value(prepared, {"t": SCHEMA}) == 1
        with pytest.raises(DBAPIError, match="division by zero"), one.unit_of_work(tenant="620602") as uow:
            uow.value(sql("SELECT 1 / 0"))               # a failed transaction, rolled back
        with one.unit_of_work(tenant="620602") as uow:
            uow.session.execute(text("SELECT 1"))        # a session, rolled back with the unit of work
        with one.unit_of_work(tenant="620602") as uow:
            assert uow.value(prepared, {"t": SCHEMA}) == 1
            assert uow.value(count, {"n": ""}) >= 0      # and still served
    finally:
        one.dispose()


def test_generic_plans_are_set_with_the_binding_for_that_transaction_alone(db: Database):
    """`generic_plans` sets plan_cache_mode in the BEGIN's own round trip, beside the tenant binding, and, like the
    binding, only for the transaction: the pooled connection's next unit of work plans as usual (pool of one, so
    it is the same connection)."""
    single = Database.connect(db.engine.url.render_as_string(hide_password=False), schema=SCHEMA, pool_size=1)
    settings = "SELECT current_setting('plan_cache_mode'), current_setting('app.tenant', true), pg_backend_pid()"
    try:
        with single.unit_of_work(tenant="620602", generic_plans=True) as uow:
            mode, tenant, pid = uow.rows(settings)[0]
            assert (mode, tenant) == ("force_generic_plan", "620602")
        with single.unit_of_work(tenant="620603") as uow:
            assert uow.rows(settings)[0] == ("auto", "620603", pid)
    finally:
        single.dispose()


# -- reads bound in one round trip (Database.read_bound) -------------------------------------------------------
NUMBERS = BoundRead("uowtest_numbers", f"SELECT number, $2::int, $3::text[] FROM {SCHEMA}.docs"
                    " WHERE number LIKE $1 ORDER BY number", ("text", "integer", "text[]"))


def principal(tenant: str) -> Principal:
    return Principal(subject="t", username="t", tenant=DivisionCode(tenant), roles=frozenset({"window_clerk"}))


@pytest.fixture
def bound_docs(db: Database) -> Iterator[None]:
    for tenant in ("620602", "620603"):
        with db.unit_of_work(tenant=tenant) as uow:
            uow.execute(sql(f"INSERT INTO {SCHEMA}.docs VALUES (:t, :n)"), {"t": tenant, "n": f"BR-{tenant}"})
            uow.commit()
    yield
    for tenant in ("620602", "620603"):
        with db.unit_of_work(tenant=tenant) as uow:
            uow.execute(sql(f"DELETE FROM {SCHEMA}.docs WHERE number LIKE 'BR-%'"))
            uow.commit()


def test_a_bound_read_sees_its_tenants_rows_alone_and_leaves_nothing_on_the_connection(db: Database, bound_docs):
    single = Database.connect(db.engine.url.render_as_string(hide_password=False), schema=SCHEMA, pool_size=1)
    try:
        assert single.read_bound(principal("620602"), NUMBERS, "BR-%", 7, ["a", "b"]) == [("BR-620602", "7",
                                                                                           "{a,b}")]
        assert single.read_bound(principal("620603"), NUMBERS, "BR-%", 7, []) == [("BR-620603", "7", "{}")]
        assert single.read_bound(None, NUMBERS, "BR-%", 7, []) == []            # public: no tenant's rows
        # the binding and the plan setting ended with the statement's implicit transaction
        with single.unit_of_work(tenant="620604") as uow:
            assert uow.rows("SELECT current_setting('app.tenant', true), current_setting('plan_cache_mode'),"
                            " (SELECT count(*) FROM pg_prepared_statements WHERE name = 'uowtest_numbers')") == [
                ("620604", "auto", 1)]
    finally:
        single.dispose()


def test_a_bound_reads_values_are_literals_never_sql(db: Database, bound_docs):
    tricky = ["it's", "a\\b", "'); DELETE FROM uowtest.docs; --", "宅基地"]
    rows = db.read_bound(principal("620602"), NUMBERS, "BR-%' OR '1'='1", 1, tricky)
    assert rows == []                                   # the pattern is one literal string, matching nothing
    rows = db.read_bound(principal("620602"), NUMBERS, "BR-%", 1, tricky)
    assert rows == [("BR-620602", "1", '{it\'s,"a\\\\b","\'); DELETE FROM uowtest.docs; --",宅基地}')]
    with pytest.raises(ValueError):
        db.read_bound(principal("620602"), NUMBERS, "BR-\x00", 1, [])
    with pytest.raises(TypeError):
        db.read_bound(principal("620602"), NUMBERS, "BR-%", True, [])


def test_a_bound_read_is_prepared_again_after_the_connection_forgot_it(db: Database, bound_docs):
    single = Database.connect(db.engine.url.render_as_string(hide_password=False), schema=SCHEMA, pool_size=1)
    try:
        assert single.read_bound(principal("620602"), NUMBERS, "BR-%", 1, []) == [("BR-620602", "1", "{}")]
        with single.unit_of_work(tenant="620602") as uow:
            uow.execute("DEALLOCATE ALL")                 # what psycopg's own rollback() sends
        assert single.read_bound(principal("620602"), NUMBERS, "BR-%", 2, []) == [("BR-620602", "2", "{}")]
    finally:
        single.dispose()


def test_a_failing_bound_read_raises_and_leaves_the_connection_usable(db: Database, bound_docs):
    single = Database.connect(db.engine.url.render_as_string(hide_password=False), schema=SCHEMA, pool_size=1)
    failing = BoundRead("uowtest_failing", "SELECT 1 / $1", ("integer",))
    try:
        with pytest.raises(DBAPIError):
            single.read_bound(principal("620602"), failing, 0)
        assert single.read_bound(principal("620602"), failing, 1) == [("1",)]
        assert single.read_bound(principal("620602"), NUMBERS, "BR-%", 3, []) == [("BR-620602", "3", "{}")]
    finally:
        single.dispose()


# -- reads planned for their values (UnitOfWork.rows_planned) ------------------------------------------------
LISTED = sql(f"SELECT number, :lim FROM {SCHEMA}.docs WHERE number LIKE :p || '%' ORDER BY number LIMIT :lim")
PLANS = ("SELECT count(*), coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) FROM pg_prepared_statements"
         " WHERE statement LIKE '/* binding ' || :t || ' %'")


def test_a_read_planned_for_its_values_sees_its_bindings_rows_alone(db: Database, bound_docs):
    """The same rows as the statement with parameters, under the same binding: row-level security still decides."""
    for tenant in ("620602", "620603"):
        with db.unit_of_work(tenant=tenant) as uow:
            assert uow.rows_planned(LISTED, {"p": "BR-", "lim": 5}) == uow.rows(LISTED, {"p": "BR-", "lim": 5}) \
                == [(f"BR-{tenant}", 5)]
    with db.unit_of_work() as uow:                                   # public: no tenant's rows
        assert uow.rows_planned(LISTED, {"p": "BR-", "lim": 5}) == []


def test_a_read_planned_for_its_values_is_planned_once_per_connection_binding_and_values(db: Database, bound_docs):
    """Eight calls with the same binding and values: once psycopg has prepared the text (on its fifth use), one
    prepared statement and its one plan (a statement without parameters has only its generic one), run for every
    call since. Another binding, or another value, is a statement of its own, planned for it; one run twice is not
    kept at all."""
    single = Database.connect(db.engine.url.render_as_string(hide_password=False), schema=SCHEMA, pool_size=1)
    try:
        for _ in range(8):
            with single.unit_of_work(tenant="620602") as uow:
                assert uow.rows_planned(LISTED, {"p": "BR-", "lim": 5}) == [("BR-620602", 5)]
        with single.unit_of_work(tenant="620603") as uow:
            for _ in range(8):
                assert uow.rows_planned(LISTED, {"p": "BR-", "lim": 5}) == [("BR-620603", 5)]
                assert uow.rows_planned(LISTED, {"p": "BR-", "lim": 6}) == [("BR-620603", 6)]
            for _ in range(2):
                assert uow.rows_planned(LISTED, {"p": "BR-", "lim": 7}) == [("BR-620603", 7)]
        with single.unit_of_work(tenant="620604") as uow:
            for tenant, statements in (("620602", 1), ("620603", 2)):
                count, generic, custom = uow.rows(PLANS, {"t": tenant})[0]
                assert (count, custom) == (statements, 0) and generic >= 3 * statements
    finally:
        single.dispose()


def test_a_read_planned_for_its_values_takes_them_as_literals_never_sql(db: Database, bound_docs):
    echo = sql("SELECT :a, :b, 0-:n, CAST(:d AS text), :none IS NULL, cardinality(:list), '100%'")
    tricky = ["it's", "a\\b", "'); DELETE FROM uowtest.docs; --", "%(b)s", "*/ SELECT 1 /*", "宅基地", "50%"]
    with db.unit_of_work(tenant="620602") as uow:
        for value in tricky:
            assert uow.rows_planned(echo, {"a": value, "b": "x", "n": -7, "d": dt.date(2026, 12, 7), "none": None,
                                           "list": tricky}) == [(value, "x", 7, "2026-12-07", True, 7, "100%")]
        assert uow.rows_planned(LISTED, {"p": "BR-%' OR '1'='1", "lim": 5}) == []    # one literal, matching nothing
        assert uow.value(sql(f"SELECT count(*) FROM {SCHEMA}.docs WHERE number LIKE 'BR-%'")) == 1


@pytest.mark.parametrize(("params", "error"), [
    ({"p": "BR-\x00", "lim": 5}, ValueError),                 # NUL cannot be in a literal
    ({"p": "BR-", "lim": True}, TypeError),                    # neither text nor an integer
    ({"p": "BR-", "lim": dt.datetime(2026, 12, 7, 9, 0)}, TypeError),
    ({"p": b"BR-", "lim": 5}, TypeError),
    ({"p": "BR-"}, KeyError),                                  # a placeholder without its value
])
def test_a_read_planned_for_its_values_refuses_what_it_cannot_write_as_a_literal(db: Database, bound_docs, params,
                                                                                error):
    with db.unit_of_work(tenant="620602") as uow:
        with pytest.raises(error):
            uow.rows_planned(LISTED, params)
        assert uow.rows_planned(LISTED, {"p": "BR-", "lim": 5}) == [("BR-620602", 5)]   # and nothing was sent


def test_a_read_planned_for_its_values_refuses_a_widened_scope_and_a_binding_it_cannot_name(db: Database):
    scope = RlsScope("uowtest_scope", {"number": "app.uowtest_number"})
    with db.unit_of_work(tenant="620602") as uow:
        uow.widen(scope, number="BR-1")
        with pytest.raises(RuntimeError, match="widened scope"):
            uow.rows_planned(LISTED, {"p": "BR-", "lim": 5})
    with db.unit_of_work(tenant="6206*/") as uow, pytest.raises(ValueError, match="comment"):
        uow.rows_planned(LISTED, {"p": "BR-", "lim": 5})


# -- reads planned for their values in one round trip (Database.read_planned) -----------------------------------
PLANNED_NAMES = ("SELECT count(*), coalesce(sum(generic_plans), 0) FROM pg_prepared_statements"
                 " WHERE name LIKE 'planned%' AND statement LIKE '%; PREPARE planned% AS /* binding ' || :t || ' %'")


def _single(db: Database) -> Database:
    return Database.connect(db.engine.url.render_as_string(hide_password=False), schema=SCHEMA, pool_size=1)


def test_a_planned_read_is_a_units_rows_typed_as_a_unit_of_works_and_its_bindings_alone(db: Database, bound_docs):
    """The same rows, of the same types, as `rows_planned` in a unit of work bound the same way; another unit sees
    its own; the public binding sees none; and the binding ends with the statement (pool of one: the next unit of
    work is on the same connection and has its own)."""
    typed = sql(f"SELECT number, :lim, CAST(:d AS date), CAST('{{\"a\": [1]}}' AS jsonb), now() IS NOT NULL"
                f" FROM {SCHEMA}.docs WHERE number LIKE :p || '%' ORDER BY number LIMIT :lim")
    params = {"p": "BR-", "lim": 5, "d": dt.date(2026, 12, 7)}
    single = _single(db)
    try:
        for tenant in ("620602", "620603"):
            got = single.read_planned(principal(tenant), typed, params)
            with single.unit_of_work(tenant=tenant) as uow:
                assert got == uow.rows_planned(typed, params) == [
                    (f"BR-{tenant}", 5, dt.date(2026, 12, 7), {"a": [1]}, True)]
        assert single.read_planned(None, typed, params) == []
        with single.unit_of_work(tenant="620604") as uow:
            assert uow.rows("SELECT current_setting('app.tenant', true)") == [("620604",)]
    finally:
        single.dispose()


def test_a_planned_read_is_prepared_on_its_fifth_use_per_connection_binding_and_values(db: Database, bound_docs):
    """Sent whole four times, then PREPAREd with its binding's comment and its values (one plan, the only one a
    statement without parameters has) and only EXECUTEd since; another value is a statement of its own; one used
    twice is never prepared."""
    from shared.db import PLANNED_THRESHOLD

    single = _single(db)
    try:
        for n in range(1, 9):
            assert single.read_planned(principal("620602"), LISTED, {"p": "BR-", "lim": 5}) == [("BR-620602", 5)]
            with single.unit_of_work(tenant="620609") as uow:
                count, generic = uow.rows(PLANNED_NAMES, {"t": "620602"})[0]
            assert (count, generic) == ((0, 0) if n < PLANNED_THRESHOLD else (1, n - PLANNED_THRESHOLD + 1))
        for _ in range(2):
            assert single.read_planned(principal("620602"), LISTED, {"p": "BR-", "lim": 6}) == [("BR-620602", 6)]
        for _ in range(PLANNED_THRESHOLD):
            assert single.read_planned(principal("620603"), LISTED, {"p": "BR-", "lim": 5}) == [("BR-620603", 5)]
        with single.unit_of_work(tenant="620609") as uow:
            assert uow.rows(PLANNED_NAMES, {"t": "620602"})[0][0] == 1
            assert uow.rows(PLANNED_NAMES, {"t": "620603"})[0] == (1, 1)
    finally:
        single.dispose()


def test_a_connection_keeps_at_most_planned_max_planned_reads(db: Database, bound_docs):
    single = _single(db)
    single.planned_max, single.planned_threshold = 2, 1
    try:
        for lim in range(1, 6):
            assert single.read_planned(principal("620602"), LISTED, {"p": "BR-", "lim": lim}) == [("BR-620602", lim)]
        with single.unit_of_work(tenant="620609") as uow:
            names = uow.rows("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'planned%'")
        assert sorted(re.search(r"LIMIT (\d+); EXECUTE", s).group(1) for (s,) in names) == ["4", "5"]  # the latest
        # one evicted and used again is prepared again
        assert single.read_planned(principal("620602"), LISTED, {"p": "BR-", "lim": 1}) == [("BR-620602", 1)]
    finally:
        single.dispose()


def test_a_planned_read_is_prepared_again_after_the_connection_forgot_it(db: Database, bound_docs):
    single = _single(db)
    single.planned_threshold = 1
    try:
        assert single.read_planned(principal("620602"), LISTED, {"p": "BR-", "lim": 5}) == [("BR-620602", 5)]
        with single.unit_of_work(tenant="620602") as uow:
            uow.execute("DEALLOCATE ALL")                 # what psycopg's own rollback() sends
        assert single.read_planned(principal("620602"), LISTED, {"p": "BR-", "lim": 5}) == [("BR-620602", 5)]
        with single.unit_of_work(tenant="620609") as uow:
            assert uow.rows(PLANNED_NAMES, {"t": "620602"})[0] == (1, 1)
    finally:
        single.dispose()


@pytest.mark.parametrize("threshold", [1, 3])
def test_a_failing_planned_read_raises_and_leaves_the_connection_usable(db: Database, bound_docs, threshold: int):
    """Failing when sent whole, and failing on the call that PREPAREs it (whose PREPARE holds: PostgreSQL keeps a
    prepared statement though the query it came in failed): the next calls are served, prepared once."""
    failing = sql("SELECT 1 / :d")
    single = _single(db)
    single.planned_threshold = threshold
    try:
        for _ in range(threshold + 1):
            with pytest.raises(DBAPIError):
                single.read_planned(principal("620602"), failing, {"d": 0})
        for _ in range(threshold + 1):
            assert single.read_planned(principal("620602"), failing, {"d": 1}) == [(1,)]
        assert single.read_planned(principal("620602"), LISTED, {"p": "BR-", "lim": 3}) == [("BR-620602", 3)]
    finally:
        single.dispose()


def test_a_planned_reads_values_are_literals_never_sql(db: Database, bound_docs):
    echo = sql("SELECT :a, :b, 0-:n, CAST(:d AS text), :none IS NULL, cardinality(:list), '100%'")
    tricky = ["it's", "a\\b", "'); DELETE FROM uowtest.docs; --", "%(b)s", "*/ SELECT 1 /*", "宅基地", "50%"]
    for value in tricky:
        assert db.read_planned(principal("620602"), echo, {"a": value, "b": "x", "n": -7, "d": dt.date(2026, 12, 7),
                                                           "none": None, "list": tricky}) == [
            (value, "x", 7, "2026-12-07", True, 7, "100%")]
    assert db.read_planned(principal("620602"), LISTED, {"p": "BR-%' OR '1'='1", "lim": 5}) == []
    with db.unit_of_work(tenant="620602") as uow:
        assert uow.value(sql(f"SELECT count(*) FROM {SCHEMA}.docs WHERE number LIKE 'BR-%'")) == 1
    for params, error in (({"p": "BR-\x00", "lim": 5}, ValueError), ({"p": "BR-", "lim": True}, TypeError),
                          ({"p": "BR-"}, KeyError)):
        with pytest.raises(error):
            db.read_planned(principal("620602"), LISTED, params)


# json and jsonb values, as PostgreSQL writes them (jsonb normalised, json as it was given), with what json.loads
# would make of the same text (shared.db.json_from_db, issue 22)
JSON_VALUES = ['{"a": "宅基地审批", "b": [1, 2.5, -3e-7, null, true, false], "c": {"d": "\\u00e9\\n"}}',
               "[]", "{}", '"只是一个字符串"', "0", "  [1, {\"x\": []}]  ", '{"emoji": "😀", "quote": "\\""}']


@pytest.mark.parametrize("kind", ["json", "jsonb"])
def test_json_columns_read_as_json_loads_reads_their_text(db: Database, kind: str):
    with db.unit_of_work(tenant="620602") as uow:
        got = [uow.value(f"SELECT CAST(:v AS {kind})", {"v": v}) for v in JSON_VALUES]
        texts = [uow.value(f"SELECT CAST(CAST(:v AS {kind}) AS text)", {"v": v}) for v in JSON_VALUES]
    assert got == [json.loads(t) for t in texts]
    assert got[0]["a"] == "宅基地审批" and got[0]["c"]["d"] == "é\n" and got[-1]["emoji"] == "😀"
