"""The platform of the fault runs: `make run`'s processes (infra.local.platform) on a database and vhost of their
own, reaching PostgreSQL and RabbitMQ through loopback TCP proxies a fault can cut, and supervised (a child
that dies is started again). Only what the fault run drives is started: the identity provider, catalogue,
intake, approval and the gateway."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from infra import migrate
from infra.demo.load import DIVISIONS, load_catalogue, load_demo_users
from infra.demo.users import DEMO_PASSWORD
from infra.local import bootstrap
from infra.local.platform import Platform, Ports
from services.catalogue.admin import import_units
from tests.faults.tcp_proxy import TcpProxy

SERVICES = ("catalogue", "intake", "approval")
E2E_TODAY = "2026-09-30"     # a drill's pinned day, as the end-to-end platform runs (tests/fixtures.py)


def stop_on_sigterm() -> None:
    """A large run stopped with SIGTERM (`kill PID`, a CI timeout) unwinds like Ctrl-C, so its platform's
    processes are stopped by the context managers instead of being left running with no parent."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@contextlib.contextmanager
def fault_platform(run_dir: Path, services: tuple[str, ...] = SERVICES
                   ) -> Iterator[tuple[Platform, dict[str, TcpProxy], str, str]]:
    """(platform, {"database": proxy, "broker": proxy}, the database URL that bypasses the proxy, password)."""
    base = os.environ.get("SANJI_TEST_DATABASE", "sanji_test")
    db, vhost = f"{base}_faults", f"{os.environ.get('SANJI_TEST_VHOST', base)}_faults"
    bootstrap.main(["--database", db, "--vhost", vhost, "--recreate"])
    direct = f"postgresql+psycopg://sanji_app:sanji_app@127.0.0.1:5432/{db}"
    owner = f"postgresql+psycopg://sanji_owner:sanji_owner@127.0.0.1:5432/{db}"
    migrate.migrate_all(owner)
    import_units(owner, DIVISIONS.read_text(encoding="utf-8"))
    run_dir.mkdir(parents=True, exist_ok=True)
    users = load_demo_users()
    users_file = run_dir / "users.json"
    users_file.write_text(json.dumps(users, ensure_ascii=False), encoding="utf-8")
    proxies = {"database": TcpProxy("127.0.0.1", 5432).start(), "broker": TcpProxy("127.0.0.1", 5672).start()}
    platform = Platform(run_dir=run_dir, ports=Ports.free(), env={
        "SANJI_DATABASE_URL": proxies["database"].rewrite_url(direct), "SANJI_DATABASE_OWNER_URL": owner,
        "SANJI_AMQP_URL": proxies["broker"].rewrite_url(f"amqp://guest:guest@127.0.0.1:5672/{vhost}"),
        "SANJI_FIXED_TODAY": E2E_TODAY, "SANJI_LOG_LEVEL": "WARNING",
        "SANJI_MODE": "development"})       # the repository's development credentials: a drill, never production
    try:
        platform.start_oidc(users_file)
        for name in services:
            platform.start_service(name)
        platform.start_gateway()
        load_catalogue(platform.catalogue_target, platform.oidc_url, users)
        platform.supervise(first_backoff=0.2, max_backoff=2.0)
        yield platform, proxies, direct, DEMO_PASSWORD
    finally:
        platform.stop()
        for proxy in proxies.values():
            proxy.stop()
