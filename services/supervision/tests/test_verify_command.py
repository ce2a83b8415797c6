"""The `verify` command (python -m services.supervision.verify): reads the chain as the application role, prints the
verdict in Chinese, exits non-zero on a finding — a row altered directly in PostgreSQL (as its owner) is named."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from services.supervision import verify

D = dt.date
UNIT = "620602021"          # a unit of its own, so this chain is known


@pytest.fixture
def owner(migrated):
    engine = create_engine(migrated.database_owner_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(migrated):
    return verify.VerifySettings(mode="development", database_url=migrated.database_url)


def _fill(events, tenant, n=3):
    for _ in range(n):
        app, number = events.new_case(tenant)
        events.accepted(tenant, app, number, D(2026, 9, 29))


def _record(owner, tenant, seq):
    with owner.begin() as c:
        c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
        return c.execute(text("SELECT seq, ref FROM supervision.chain_records WHERE tenant_code = :t AND seq = :s"),
                         {"t": tenant, "s": seq}).one()


def test_an_intact_chain_exits_0_and_says_so(events, settings, capsys):
    tenant = "620602022"
    _fill(events, tenant, 2)
    assert verify.main(["--unit", tenant], settings=settings) == 0
    out = capsys.readouterr().out
    assert f"{tenant}：留痕链完整" in out and "记录 2 条" in out


def test_a_row_altered_in_postgresql_is_named_by_the_command(events, settings, owner, migrated, capsys):
    _fill(events, UNIT, 3)
    # a second unit with an intact chain, so --all has more than one unit to sum up whatever ran before (in random
    # order this test can be the first to leave a chain: CI's seed 1347098791 found only this one, and no sum)
    _fill(events, "620602024", 1)
    second = _record(owner, UNIT, 2)
    with owner.begin() as c:
        c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": UNIT})
        c.execute(text("UPDATE supervision.chain_records SET body = replace(body, '建筑', '违章')"
                       " WHERE tenant_code = :t AND seq = 2"), {"t": UNIT})
    assert verify.main(["--unit", UNIT], settings=settings) == verify.FINDING
    out = capsys.readouterr().out
    assert f"{UNIT}：发现问题——记录被篡改" in out and "序号 2" in out and second.ref in out
    # --all lists the unit (through the tips) and names the same record
    assert verify.main(["--all"], settings=settings) == verify.FINDING
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith(f"{UNIT}："))
    assert "记录被篡改" in line and second.ref in line and "个发现问题" in out
    # the real process, as an operator runs it (application role from SANJI_DATABASE_URL)
    env = {**os.environ, "SANJI_MODE": "development", "SANJI_DATABASE_URL": migrated.database_url}
    run = subprocess.run([sys.executable, "-m", "services.supervision.verify", "--unit", UNIT], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "记录被篡改" in run.stdout and second.ref in run.stdout


def test_a_deleted_row_is_named_by_the_command(events, settings, owner, capsys):
    tenant = "620602023"
    _fill(events, tenant, 4)
    third = _record(owner, tenant, 3)
    with owner.begin() as c:
        c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
        c.execute(text("DELETE FROM supervision.chain_records WHERE tenant_code = :t AND seq = 2"), {"t": tenant})
    assert verify.main(["--unit", tenant], settings=settings) == verify.FINDING
    out = capsys.readouterr().out
    assert "记录被删除" in out and "序号 3" in out and third.ref in out


def test_bad_input_exits_2_naming_the_problem(settings, capsys):
    assert verify.main(["--unit", "12x"], settings=settings) == verify.CANNOT_RUN
    assert "单位代码不正确" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        verify.main([], settings=settings)                  # --unit or --all is required
    assert e.value.code == 2
    no_keys = verify.VerifySettings(mode="development", database_url=settings.database_url,
                                    supervision_chain_public_key=" ")
    no_keys.supervision_chain_public_key = ""
    assert verify.main(["--unit", UNIT], settings=no_keys) == verify.CANNOT_RUN
    assert "SANJI_SUPERVISION_CHAIN_PUBLIC_KEY" in capsys.readouterr().err


def test_an_empty_chain_is_reported_as_empty(settings, capsys):
    assert verify.main(["--unit", "620602029"], settings=settings) == 0
    assert "留痕链为空" in capsys.readouterr().out
