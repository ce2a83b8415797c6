"""The relay's wake-up: at most one NOTIFY per interval per process (no I/O: the engine never connects)."""

from __future__ import annotations

from sqlalchemy import create_engine

from shared import db as dbmod
from shared.db import NOTIFY_MIN_INTERVAL, Database


def test_one_wake_up_per_interval(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(dbmod.time, "monotonic", lambda: now[0])
    d = Database(create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"), schema="s")
    assert d.should_notify() is True
    now[0] += NOTIFY_MIN_INTERVAL / 2
    assert d.should_notify() is False            # the relay is already waking; it polls for the rest
    now[0] += NOTIFY_MIN_INTERVAL
    assert d.should_notify() is True
    other = Database(create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"), schema="t")
    assert other.should_notify() is True         # per service database, not global
