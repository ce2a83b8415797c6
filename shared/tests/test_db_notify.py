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


def test_the_first_commit_notifies_even_just_after_boot():
    # time.monotonic() starts near zero when the machine boots: the first wake-up must not wait an interval
    d = Database(create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"), schema="s", notify_interval=3600.0)
    assert d.should_notify(5.0) is True
    assert d.should_notify(6.0) is False
