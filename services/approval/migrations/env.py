"""Alembic environment of the approval schema (run as the owner role)."""

from alembic import context
from sqlalchemy import create_engine, pool, text

config = context.config
SCHEMA = config.attributes.get("schema", "approval")


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text(f"SET search_path TO {SCHEMA}"))
        connection.commit()
        context.configure(connection=connection, version_table_schema=SCHEMA, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
