"""The relay's wake-up: at most one NOTIFY per interval per process (no I/O: the engine never connects)."""

from __future__ import annotations

from sqlalchemy import create_engine

from shared.db import NOTIFY_MIN_INTERVAL, Database


def test_one_wake_up_per_interval():
    d = Database(create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"), schema="s")
    t = 1000.0
    assert d.should_notify(t) is True
    assert d.should_notify(t + NOTIFY_MIN_INTERVAL / 2) is False   # the relay is already waking; it polls for the rest
    assert d.should_notify(t + NOTIFY_MIN_INTERVAL * 1.5) is True
    other = Database(create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"), schema="t")
    assert other.should_notify(t) is True                          # per service database, not global
