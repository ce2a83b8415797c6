"""The tenant walls of every service, found from the database catalogue (DESIGN §3, issue 24).

Every table of every schema the migrations create is either walled — row-level security enabled AND
forced, owned by the owner role, policies for reading and for each kind of write that bind
`app.tenant` — or named below as an exception, with the reason. The list of exceptions is checked both
ways: a new table nobody walled fails, and so does an exception that no longer exists or has since been
walled (take it off the list).

Then, as the application role through the platform's own unit of work, rows seeded for one township
stay invisible to, and cannot be written by, a sibling township, a village below it, its county
without supervision rights, another county's supervisor and an anonymous (public) transaction; the
township itself cannot move its rows to its sibling, and the owner role bound to another tenant sees
nothing either (that is what FORCE is for). A table added by a migration is covered without anyone
remembering it.

The walls run on a database of their own, made from the migrations alone. To seed any table with
one statement whatever its columns mean, that database's CHECK, FOREIGN KEY and NOT NULL constraints
(other than primary keys') are dropped first; row-level security, policies, ownership and grants are
exactly as the migrations leave them, and they are what is tested. PostgreSQL checks a policy's
WITH CHECK before any constraint, so the writes tried here meet the walls and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from infra import migrate
from infra.local import bootstrap
from shared.db import Database, make_engine
from shared.registry import SCHEMAS, SERVICES

OWNER, APP = "sanji_owner", "sanji_app"

# Walled otherwise than by a tenant, on purpose (issue 15, item 7): row-level security enabled and forced, but
# what it guards is not one unit's rows.
# - The working-day calendars are public reference data: everyone reads them; only a transaction that publishes a
#   region writes its rows (shared.calendar_store.PUBLISH_SETTING), so no tenant-bound statement rewrites one.
PUBLIC_REFERENCE = frozenset(f"{s}.calendar_years" for s in SCHEMAS)
# - The province records (issue 23): read by everyone; written only by a transaction bound to the province itself
#   (services/catalogue/tests/test_provinces.py tries another province's binding).
# - The division tree (issue 23): read by everyone; a county's units written only by a transaction bound to its
#   province (the onboarding service, catalogue 0007; services/onboarding/tests tries another province's binding)
PROVINCE_RECORDS = frozenset(["catalogue.provinces", "catalogue.units"])
# - Refused payment callbacks, before any tenant is known: the application role appends and cannot read, change
#   or delete a row; operations (the owner role) read it.
APPEND_ONLY = frozenset(["fees.callback_rejections",
                         "docking.refusals"])             # refused province messages: reason, claimed ids, hash
UNWALLED_TENANT_DATA: frozenset[str] = frozenset()

# Not any one tenant's records: shared reference data and migration bookkeeping.
NOT_TENANT_DATA = frozenset([f"{s}.alembic_version" for s in SCHEMAS] + [
    "docking.nonces",                   # (sender, nonce, time) seen in the last minutes: replay protection only
    "catalogue.code_formats",           # per-province code formats
    "catalogue.code_mappings",          # per-province code mappings
    "approval.categories",              # the back-office desk categories
    "approval.category_rules",          # which desk an item goes to, per region ('' = everywhere)
    "approval.calendar_local_policies",  # per province: may its cities and counties add local holidays
    "approval.joint_share_policies",  # per province: a joint case's split between lead and departments
    "approval.calendar_local_days",     # an area's approved local holidays: public days off, like the national
                                        # calendar; who proposed and approved each is in the walled calendar_changes
    "intake.notice_templates",          # the texts of the notices
    "fees.treasury_accounts",           # which treasury account receives a unit's fees (收缴分离), public
    "fees.callback_rejection_minutes",  # how many payment callbacks were refused each minute: counts only
    "docking.refusal_minutes",          # how many province messages were refused each minute: counts only
    "complaints.rating_figures",        # ratings counted per unit, item and level: counts only, public (好差评)
])

WITHOUT_RLS = UNWALLED_TENANT_DATA | NOT_TENANT_DATA
EXCEPTIONS = WITHOUT_RLS | PUBLIC_REFERENCE | APPEND_ONLY | PROVINCE_RECORDS

# Rows some policies publish on purpose, by their data: published catalogue items and fee items, the
# listing of an item at a village point. Seeded rows are made a unit's own (drafts, a revoked listing).
UNPUBLISHED = {
    "catalogue.items": {"status": "'draft'"},
    "catalogue.item_versions": {"status": "'draft'"},
    "catalogue.item_terms": {"status": "'draft'"},
    "catalogue.item_listings": {"revoked_at": "now()"},
    "fees.fee_items": {"status": "'draft'"},
    "fees.fee_item_versions": {"status": "'draft'"},
}

# The units of the test: rows are seeded for one township; the others look at them.
HOME = "620602001"                       # 东大街街道
SIBLING = "620602002"                    # 西大街街道, the same county
CHILD = "620602001001"                   # 南苑社区, a village below the home township
COUNTY = "620602"                        # 凉州区, the home township's parent
OTHER_COUNTY = "513221"                  # 汶川县


@dataclass(frozen=True)
class Viewer:
    name: str
    tenant: str | None                   # None: a public (anonymous) transaction
    subtree: bool = False


VIEWERS = [
    Viewer("sibling township", SIBLING),
    Viewer("village below it", CHILD),
    Viewer("parent county without supervision rights", COUNTY),
    Viewer("another county's supervisor", OTHER_COUNTY, subtree=True),
    Viewer("public (anonymous)", None),
]

_TENANT = r"current_setting\('app\.tenant'::text, true\)"
_TENANT_NAME = re.compile(r"tenant|tenant_code|\w+_tenant")
# the ways a policy compares a column with the bound tenant: equal, below it, above it
_BINDS = [re.compile(rf"\b(\w+) = {_TENANT}"), re.compile(rf"\b(\w+) ~~ \({_TENANT}"),
          re.compile(rf"{_TENANT} ~~ \((\w+) \|\|")]


@dataclass
class Column:
    name: str
    type: str
    primary: bool
    default: str | None


@dataclass
class Table:
    name: str                            # schema.table
    kind: str                            # r (table), p (partitioned), m (materialized view)
    owner: str
    rls: bool
    forced: bool
    policies: dict[str, list[str]]       # command (r, a, w, d, *) → expressions
    columns: list[Column] = field(default_factory=list)

    @property
    def bound_columns(self) -> list[str]:
        """The columns the policies compare with the bound tenant."""
        names = {c.name for c in self.columns}
        found = {m for exprs in self.policies.values() for e in exprs for rx in _BINDS for m in rx.findall(e)}
        return sorted(found & names)

    @property
    def tenant_columns(self) -> list[str]:
        """The columns that say whose a row is: those the policies bind, or (a table without policies) those
        named so — a table that lost its wall is still seeded, and seen to leak."""
        return self.bound_columns or sorted(c.name for c in self.columns if _TENANT_NAME.fullmatch(c.name))

    @property
    def key(self) -> list[Column]:
        """Columns given a value of their own in every insert: the primary key, and anything numbered by a
        sequence (so an insert never needs a sequence grant, and meets the policy first)."""
        return [c for c in self.columns if c.name not in self.tenant_columns
                and (c.primary or (c.default or "").startswith("nextval("))]

    def walled(self) -> list[str]:
        """What is missing for this table to be walled; empty when it is."""
        missing = []
        if not self.rls:
            missing.append("row-level security not enabled")
        if not self.forced:
            missing.append("row-level security not forced (FORCE ROW LEVEL SECURITY)")
        if self.owner != OWNER:
            missing.append(f"owned by {self.owner}, not {OWNER}")
        for cmd, what in (("r", "reading"), ("a", "inserting"), ("w", "updating"), ("d", "deleting")):
            if not (self.policies.get(cmd) or self.policies.get("*")):
                missing.append(f"no policy for {what}")
        if not self.bound_columns:
            missing.append("no policy compares a column with app.tenant")
        return missing


def catalogue(conn: Any) -> dict[str, Table]:
    """Every table (and materialized view) of every schema in the database but PostgreSQL's own."""
    tables: dict[str, Table] = {}
    for name, kind, owner, rls, forced in conn.execute(text(
            "SELECT n.nspname || '.' || c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relrowsecurity,"
            " c.relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg\\_%'")):
        tables[name] = Table(name, kind, owner, rls, forced, {})
    for name, cmd, qual, check in conn.execute(text(
            "SELECT n.nspname || '.' || c.relname, p.polcmd, pg_get_expr(p.polqual, p.polrelid),"
            " pg_get_expr(p.polwithcheck, p.polrelid) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace")):
        tables[name].policies.setdefault(cmd, []).extend(e for e in (qual, check) if e)
    for name, column, type_, primary, default in conn.execute(text(
            "SELECT n.nspname || '.' || c.relname, a.attname, format_type(a.atttypid, a.atttypmod),"
            " EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary"
            " AND a.attnum = ANY(i.indkey)), pg_get_expr(d.adbin, d.adrelid)"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
            " WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm')"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'"
            " ORDER BY a.attnum")):
        tables[name].columns.append(Column(column, type_, primary, default))
    return tables


# --- the walls' own database ----------------------------------------------------------------------

@dataclass
class Walls:
    tables: dict[str, Table]
    app: Database                        # the application role, through the platform's unit of work
    owner_url: str
    seeded: dict[str, list[dict[str, Any]]] = field(default_factory=dict)   # table → the key of its seeded row
    own: dict[str, Database] = field(default_factory=dict)   # schema → its service's own role (registry)

    def app_for(self, table: str) -> Database:
        """The role a table's service runs as: its own where the registry names one, else the shared one."""
        return self.own.get(table.split(".")[0], self.app)

    @property
    def walled(self) -> list[Table]:
        """The tables that must be walled: all but the named exceptions."""
        return [t for name, t in sorted(self.tables.items()) if name not in EXCEPTIONS]

    @property
    def seeded_tables(self) -> list[Table]:
        return [self.tables[name] for name in sorted(self.seeded)]


def _value(column: Column, n: int) -> str:
    """A fresh value of the column's type, as SQL (for keys)."""
    t = column.type
    if t == "uuid":
        return "gen_random_uuid()"
    if t in ("integer", "bigint", "smallint"):
        return str(900_000 + n)
    if t == "date":
        return f"DATE '2001-01-01' + {n}"
    if t.startswith("timestamp"):
        return f"TIMESTAMPTZ '2001-01-01' + interval '{n} seconds'"
    if t == "boolean":
        return "true"
    return f"'wall-{n}'"


_counter = iter(range(1, 10**9))


def insert_statement(table: Table, tenant: str) -> tuple[str, dict[str, str]]:
    """An INSERT of one row of `tenant` (every column the policies bind set to it) that returns its key."""
    private = UNPUBLISHED.get(table.name, {})
    cols = table.tenant_columns + [c.name for c in table.key] + list(private)
    values = ([":tenant"] * len(table.tenant_columns) + [_value(c, next(_counter)) for c in table.key]
              + list(private.values()))
    returning = ", ".join(c.name for c in table.key) or table.tenant_columns[0]
    return (f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join(values)}) RETURNING {returning}",
            {"tenant": tenant})


def _where(table: Table, key: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if not key:
        return "true", {}
    return " AND ".join(f"{k} = :k_{k}" for k in key), {f"k_{k}": v for k, v in key.items()}


@pytest.fixture(scope="module")
def walls(test_settings) -> Iterator[Walls]:
    """A database made by the migrations alone, its constraints dropped, rows seeded as the owner for HOME."""
    name = f"{make_url(test_settings.database_owner_url).database}_walls"
    bootstrap.main(["--database", name, "--recreate"])
    owner_url = make_url(test_settings.database_owner_url).set(database=name).render_as_string(hide_password=False)
    app_url = make_url(test_settings.database_url).set(database=name).render_as_string(hide_password=False)
    migrate.migrate_all(owner_url)
    engine = create_engine(owner_url)
    try:
        with engine.begin() as conn:
            tables = catalogue(conn)
        with engine.begin() as conn:
            for rel, con in conn.execute(text(
                    "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c"
                    " JOIN pg_namespace n ON n.oid = c.connamespace"
                    " WHERE c.contype IN ('f', 'c') AND n.nspname = ANY(:s) ORDER BY c.contype DESC"),
                    {"s": list(SCHEMAS)}).all():
                conn.execute(text(f'ALTER TABLE {rel} DROP CONSTRAINT IF EXISTS "{con}"'))
            for t in tables.values():
                if t.kind == "m":
                    continue
                for c in t.columns:
                    if not c.primary:
                        conn.execute(text(f'ALTER TABLE {t.name} ALTER COLUMN "{c.name}" DROP NOT NULL'))
        own = {s.schema: Database(make_engine(make_url(app_url).set(username=s.database_role, password=s.database_role)
                                              .render_as_string(hide_password=False), pool_size=2), schema="public")
               for s in SERVICES if s.database_role}       # development passwords: the role's name (bootstrap)
        walls = Walls(tables=tables, app=Database(make_engine(app_url, pool_size=2), schema="public"),
                      owner_url=owner_url, own=own)
        with engine.begin() as conn:
            # as the owner, bound to HOME: FORCE applies the policies to the owner too
            conn.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": HOME})
            for t in walls.walled:
                if not t.tenant_columns:
                    continue   # nothing says whose a row is: reported by the tests below
                statement, params = insert_statement(t, HOME)
                row = conn.execute(text(statement), params).mappings().one()
                walls.seeded[t.name] = [{c.name: row[c.name] for c in t.key}]
        yield walls
        walls.app.dispose()
        for db in own.values():
            db.dispose()
    finally:
        engine.dispose()
        with create_engine(test_settings.database_owner_url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _uow(walls: Walls, viewer: Viewer, table: str):
    db = walls.app_for(table)
    if viewer.tenant is None:
        return db.unit_of_work()
    return db.unit_of_work(tenant=viewer.tenant, subtree=viewer.subtree)


def _refused(exc: DBAPIError) -> bool:
    """Refused by a wall: a policy (new row violates row-level security) or a missing grant."""
    return getattr(exc.orig, "sqlstate", None) == "42501"


# --- the tests ------------------------------------------------------------------------------------

def test_every_schema_is_a_registered_service(walls):
    """The migrations create the registry's schemas and nothing else holds tables (not `public` either)."""
    schemas = {name.split(".")[0] for name in walls.tables}
    assert schemas == set(SCHEMAS)


def test_every_table_is_walled_or_a_named_exception(walls):
    unwalled = {name: t.walled() for name, t in walls.tables.items() if name not in EXCEPTIONS}
    assert {n: m for n, m in unwalled.items() if m} == {}, \
        "wall these tables (shared.db.tenant_rls_statements), or name them below with the reason they need none"
    # the exceptions are exactly what exists: neither gone nor walled since (then take them off the list)
    assert sorted((WITHOUT_RLS | APPEND_ONLY) - set(walls.tables)) == []
    assert sorted(n for n in WITHOUT_RLS & set(walls.tables) if walls.tables[n].rls) == []
    assert sorted(n for n in (PUBLIC_REFERENCE | APPEND_ONLY | PROVINCE_RECORDS) & set(walls.tables)
                  if not (walls.tables[n].rls and walls.tables[n].forced)) == []
    assert sorted(n for n, t in walls.tables.items() if t.kind == "m") == [], \
        "a materialized view copies rows out of their walls"
    assert len(walls.walled) >= 30   # the catalogue query itself found the tables


def test_the_roles_cannot_step_around_the_walls(walls):
    engine = create_engine(walls.owner_url)
    try:
        with engine.connect() as conn:
            roles = conn.execute(text("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles"
                                      " WHERE rolname = ANY(:r)"), {"r": [OWNER, APP]}).all()
            owned = conn.execute(text("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                      " WHERE pg_get_userbyid(c.relowner) = :app AND n.nspname = ANY(:s)"),
                                 {"app": APP, "s": list(SCHEMAS)}).scalar_one()
    finally:
        engine.dispose()
    assert sorted(roles) == [(APP, False, False), (OWNER, False, False)]
    assert owned == 0   # the application role owns nothing, so every policy applies to it


def test_a_schema_with_its_own_role_is_out_of_the_shared_roles_reach(walls):
    """The onboarding jobs hold staff lists and initial passwords (issue 23): the shared application role, which every
    other service's process runs as, can neither read nor write them, whatever unit it is bound to — only the
    onboarding process's own role can (and it no other schema: services/onboarding/tests)."""
    own = [t for t in walls.tables.values() if t.name.split(".")[0] in walls.own and t.kind != "m"]
    assert own, "the registry names a service with a role of its own"
    reached = []
    for t in own:
        for binding in (dict(tenant=HOME), dict(tenant="62", subtree=True), {}):
            for statement in (f"SELECT count(*) FROM {t.name}", f"DELETE FROM {t.name}"):
                try:
                    with walls.app.unit_of_work(**binding) as uow:
                        uow.execute(statement)
                    reached.append((t.name, binding, statement))
                except DBAPIError as exc:
                    if not _refused(exc):
                        reached.append((t.name, binding, f"failed, but not on a grant: {exc.orig}"))
    assert reached == []


def test_seeded_rows_are_seen_by_their_own_unit_only(walls):
    leaks = [(t.name, "-", "says nowhere whose a row is: no policy binds app.tenant, no tenant column")
             for t in walls.walled if t.name not in walls.seeded]
    for t in walls.seeded_tables:
        statement = f"SELECT count(*) FROM {t.name} WHERE {' AND '.join(f'{c} = :home' for c in t.tenant_columns)}"
        with walls.app_for(t.name).unit_of_work(tenant=HOME) as uow:
            own = uow.value(statement, {"home": HOME})
        if own != 1:
            leaks.append((t.name, "home township", f"sees {own} of its 1 row"))
        for viewer in VIEWERS:
            with _uow(walls, viewer, t.name) as uow:
                seen = uow.value(f"SELECT count(*) FROM {t.name}")
            if seen:
                leaks.append((t.name, viewer.name, f"sees {seen} rows"))
    # the owner too, bound to another unit: FORCE ROW LEVEL SECURITY
    engine = create_engine(walls.owner_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": SIBLING})
            for t in walls.seeded_tables:
                seen = conn.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one()
                if seen:
                    leaks.append((t.name, "the owner role bound to the sibling", f"sees {seen} rows"))
    finally:
        engine.dispose()
    assert leaks == []


def test_no_unit_writes_across_the_walls(walls):
    breaches = []
    for t in walls.seeded_tables:
        first = t.tenant_columns[0]
        for viewer in VIEWERS:
            # a row of the home township, written by someone else
            statement, params = insert_statement(t, HOME)
            try:
                with _uow(walls, viewer, t.name) as uow:
                    uow.rows(statement, params)
                    uow.commit()
                breaches.append((t.name, viewer.name, "inserted a row of the home township"))
            except DBAPIError as exc:
                if not _refused(exc):
                    breaches.append((t.name, viewer.name, f"insert failed, but not on a wall: {exc.orig}"))
            # the home township's rows, changed or removed by someone else
            for verb, sql in (("updated", f"UPDATE {t.name} SET {first} = {first}"),
                              ("deleted", f"DELETE FROM {t.name}")):
                try:
                    with _uow(walls, viewer, t.name) as uow:
                        touched = uow.execute(sql)
                        uow.commit()
                except DBAPIError as exc:
                    touched = 0 if _refused(exc) else f"an error not on a wall: {exc.orig}"
                if touched:
                    breaches.append((t.name, viewer.name, f"{verb} {touched} rows"))
        # the home township moving its own row over the wall, to its sibling
        where, params = _where(t, walls.seeded[t.name][0])
        sets = ", ".join(f"{c} = :sibling" for c in t.tenant_columns)
        try:
            with walls.app_for(t.name).unit_of_work(tenant=HOME) as uow:
                touched = uow.execute(f"UPDATE {t.name} SET {sets} WHERE {where}", {**params, "sibling": SIBLING})
                uow.commit()
            if touched:
                breaches.append((t.name, "home township", "moved its row to the sibling"))
        except DBAPIError as exc:
            if not _refused(exc):
                breaches.append((t.name, "home township", f"move failed, but not on a wall: {exc.orig}"))
    assert breaches == []
    # and the seeded rows are all still there, as they were
    engine = create_engine(walls.owner_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": HOME})
            for t in walls.seeded_tables:
                assert conn.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one() == 1, t.name
    finally:
        engine.dispose()


def test_calendars_are_read_by_all_and_written_only_by_their_publication(walls):
    """Issue 15, item 4: a unit's transaction cannot insert, rewrite or delete a calendar year, whatever its
    binding; the publication of a region (shared.calendar_store) writes that region's rows and no other's."""
    from shared.calendar_store import PUBLISH_SETTING
    tables = sorted(PUBLIC_REFERENCE & set(walls.tables))
    assert tables, "no calendar table found"
    insert = ("INSERT INTO {t} (region, year, data) VALUES (:r, 2098, CAST('{{}}' AS jsonb))")
    breaches = []
    for name in tables:
        for viewer in [Viewer("home township", HOME), *VIEWERS]:
            for region in ("", "62", viewer.tenant or ""):
                try:
                    with _uow(walls, viewer, name) as uow:
                        uow.execute(insert.format(t=name), {"r": region})
                        uow.commit()
                    breaches.append((name, viewer.name, f"inserted region {region!r}"))
                except DBAPIError as exc:
                    if not _refused(exc):
                        breaches.append((name, viewer.name, f"failed, but not on a wall: {exc.orig}"))
            for verb, statement in (("updated", f"UPDATE {name} SET data = data"), ("deleted", f"DELETE FROM {name}")):
                try:
                    with _uow(walls, viewer, name) as uow:
                        touched = uow.execute(statement)
                        uow.commit()
                except DBAPIError as exc:
                    touched = 0 if _refused(exc) else f"an error not on a wall: {exc.orig}"
                if touched:
                    breaches.append((name, viewer.name, f"{verb} {touched} rows"))
        with walls.app.unit_of_work(tenant=COUNTY) as uow:
            uow.execute(f"SELECT set_config('{PUBLISH_SETTING}', 'region:62', true)")
            uow.execute(insert.format(t=name), {"r": "62"})     # the publication of its own region
            try:
                uow.execute(insert.format(t=name), {"r": ""})   # not another region's
                breaches.append((name, "publication of '62'", "wrote the national calendar"))
            except DBAPIError as exc:
                assert _refused(exc), exc
            uow.rollback()
    assert breaches == []


def test_the_refused_callback_log_is_append_only_for_the_application(walls):
    """Issue 15, item 7: what a forged callback wrote cannot be read back, changed or erased through the
    application role; operations read it as the owner."""
    for name in sorted(APPEND_ONLY):
        with walls.app.unit_of_work() as uow:
            privileges = {p: uow.value(f"SELECT has_table_privilege('{APP}', '{name}', '{p}')")
                          for p in ("INSERT", "SELECT", "UPDATE", "DELETE")}
            uow.execute(f"INSERT INTO {name} (reason) VALUES ('wall')")
            uow.commit()
        assert privileges == {"INSERT": True, "SELECT": False, "UPDATE": False, "DELETE": False}, name
        engine = create_engine(walls.owner_url)
        try:
            with engine.connect() as conn:
                assert conn.execute(text(f"SELECT count(*) FROM {name} WHERE reason = 'wall'")).scalar_one() >= 1
        finally:
            engine.dispose()
