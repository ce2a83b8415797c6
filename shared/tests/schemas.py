"""A scratch schema for tests of the shared library, laid out as a service's is: owned by the owner
role, usable by the application role."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text

from shared.db import owner_connection


@contextmanager
def scratch_schema(owner_url: str, schema: str, statements: Iterable[str] = ()) -> Iterator[Any]:
    """Drop and create `schema`, run `statements` in it as the owner; the owner's connection."""
    with owner_connection(owner_url) as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema} AUTHORIZATION sanji_owner"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO sanji_app"))
        for stmt in statements:
            conn.execute(text(stmt))
        yield conn
