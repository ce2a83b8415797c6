"""Intake migrations on a database of their own: counters taken before 0002 continue in its sequences,
and a downgrade gives them back to the counter table."""

from __future__ import annotations

import pathlib

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from conftest import TEST_DB
from infra.local import bootstrap
from shared.db import Database

MIGRATIONS = pathlib.Path(__file__).resolve().parents[1] / "migrations"
DB = f"{TEST_DB}_intake_migrations"
OWNER = f"postgresql+psycopg://sanji_owner:sanji_owner@127.0.0.1:5432/{DB}"
APP = f"postgresql+psycopg://sanji_app:sanji_app@127.0.0.1:5432/{DB}"


def _alembic(revision: str, *, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", OWNER)
    cfg.attributes["schema"] = "intake"
    (command.downgrade if down else command.upgrade)(cfg, revision)


@pytest.fixture(scope="module")
def owner():
    bootstrap.main(["--database", DB, "--recreate"])
    engine = create_engine(OWNER)
    yield engine
    engine.dispose()


def test_counters_continue_in_sequences_and_come_back_on_downgrade(owner):
    _alembic("0001")
    for tenant, last in (("620602", 41), ("620602001", 0)):
        with owner.begin() as c:         # row-level security is forced on the owner too
            c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
            c.execute(text("INSERT INTO intake.case_sequences (tenant_code, year, last) VALUES (:t, 2026, :l)"),
                      {"t": tenant, "l": last})
    _alembic("head")
    db = Database.connect(APP, schema="intake", pool_size=1)
    try:
        for tenant, expected in (("620602", 42), ("620602001", 1), ("620602002", 1)):
            with db.unit_of_work(tenant=tenant) as uow:
                drawn = uow.session.execute(text("SELECT intake.next_case_sequence(:t, 2026)"),
                                            {"t": tenant}).scalar_one()
                uow.commit()
            assert drawn == expected, tenant
    finally:
        db.dispose()
    _alembic("0001", down=True)
    with owner.connect() as c:
        c.execute(text("SELECT set_config('app.subtree', 'on', false), set_config('app.tenant', '62', false)"))
        rows = set(c.execute(text("SELECT tenant_code, year, last FROM intake.case_sequences")).tuples())
        assert rows == {("620602", 2026, 42), ("620602001", 2026, 1), ("620602002", 2026, 1)}
        assert c.execute(text("SELECT count(*) FROM pg_class WHERE relkind = 'S' AND relname LIKE 'case_seq_%'")
                         ).scalar_one() == 0
