"""Create what the platform needs inside PostgreSQL and RabbitMQ, idempotently.

- the owner role (runs migrations, owns the tables) and the application role (owns nothing, so
  row-level security applies to it);
- the database and one schema per service;
- the AMQP virtual host (tests use their own), one broker user per service with permissions to its own
  exchanges and queues only (shared.messaging.topology.permissions), and the whole topology declared from
  the service registry before any service runs, so no event is published to an exchange without its queues.

PostgreSQL is reached as a superuser: over TCP as `postgres` where the server trusts loopback,
otherwise through the local socket as the `postgres` OS user (a fresh Debian install).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from urllib.parse import quote

import pika

from shared.messaging import topology
from shared.registry import NAMES, SCHEMAS, SERVICES

OWNER, APP = "sanji_owner", "sanji_app"
# services that run as a database role of their own (shared.registry: database_role) → their schema, the only one
# that role may use; its migrations grant it its tables
OWN_ROLES = {s.database_role: s.schema for s in SERVICES if s.database_role}
# the development password of every service's broker user (make run, tests); a deployment provisions its own
# users and passwords (k8s/README) and shared.config refuses this one outside development mode
DEV_BROKER_PASSWORD = "sanji-dev-broker"  # noqa: S105 — development only, refused in production


def service_amqp_url(service: str, vhost: str, host: str = "127.0.0.1", port: int = 5672) -> str:
    """The development AMQP URL of a service's own broker user."""
    return f"amqp://{topology.broker_user(service)}:{DEV_BROKER_PASSWORD}@{host}:{port}/{quote(vhost, safe='')}"


def _psql_cmd() -> list[str]:
    probe = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc", "select 1"],
                           capture_output=True, text=True, env={"PGCONNECT_TIMEOUT": "5", "PATH": "/usr/bin:/bin"})
    if probe.returncode == 0:
        return ["psql", "-h", "127.0.0.1", "-U", "postgres"]
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", "postgres", "--", "psql"]


def psql(sql: str, db: str = "postgres") -> str:
    cmd = [*_PSQL, "-d", db, "-v", "ON_ERROR_STOP=1", "-tAc", sql]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"psql failed: {sql[:120]}…\n{out.stderr}")
    return out.stdout.strip()


def service_database_url(url: str, service: str) -> str:
    """The development database URL of a service: the application role's, or the service's own role's
    (password = role name, as the shared roles' on loopback) where the registry names one."""
    from sqlalchemy.engine import make_url

    from shared.registry import spec

    role = spec(service).database_role
    if not role:
        return url
    return make_url(url).set(username=role, password=role).render_as_string(hide_password=False)


def ensure_roles() -> None:
    for role in (OWNER, APP, *OWN_ROLES):
        if not psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'"):
            psql(f"CREATE ROLE {role} LOGIN PASSWORD '{role}' NOSUPERUSER NOBYPASSRLS")
        # keep the walls: neither role may bypass RLS
        psql(f"ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS")


def ensure_database(name: str, *, recreate: bool = False) -> None:
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if exists and recreate:
        psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
             f" WHERE datname = '{name}' AND pid <> pg_backend_pid()")
        psql(f"DROP DATABASE {name}")
        exists = ""
    if not exists:
        psql(f"CREATE DATABASE {name} OWNER {OWNER} ENCODING 'UTF8' TEMPLATE template0")
    psql(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC; GRANT CONNECT ON DATABASE {name} TO {APP}", name)
    for schema in SCHEMAS:
        # a schema whose service runs as a role of its own is that role's alone: the shared role gets no USAGE
        grant = "" if schema in OWN_ROLES.values() else f"; GRANT USAGE ON SCHEMA {schema} TO {APP}"
        psql(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {OWNER}{grant}", name)
    for role, schema in OWN_ROLES.items():
        # its own schema and nothing else: no USAGE on any other service's schema, so not even a table name resolves
        psql(f"GRANT CONNECT ON DATABASE {name} TO {role}; GRANT USAGE ON SCHEMA {schema} TO {role}", name)


def ensure_vhost(vhost: str, *, recreate: bool = False) -> None:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    if vhost != "/":
        _ensure_own_vhost(ctl, vhost, recreate=recreate)
    ensure_broker_users(ctl, vhost)


def _ensure_own_vhost(ctl: str, vhost: str, *, recreate: bool) -> None:
    listed = subprocess.run([ctl, "-q", "list_vhosts"], capture_output=True, text=True)
    if recreate and vhost in listed.stdout.split():
        # a test run starts with no queues and no messages left over from an earlier run
        subprocess.run([ctl, "-q", "delete_vhost", vhost], check=True, capture_output=True)
        listed = subprocess.run([ctl, "-q", "list_vhosts"], capture_output=True, text=True)
    if vhost not in listed.stdout.split():
        subprocess.run([ctl, "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run([ctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True)


def ensure_broker_users(ctl: str, vhost: str) -> None:
    """One broker user per registered service, allowed its own exchanges and queues in `vhost` only."""
    users = subprocess.run([ctl, "-q", "list_users"], capture_output=True, text=True).stdout
    known = {line.split()[0] for line in users.splitlines() if line.strip()}
    for service in NAMES:
        user = topology.broker_user(service)
        if user not in known:
            added = subprocess.run([ctl, "-q", "add_user", user, DEV_BROKER_PASSWORD], capture_output=True, text=True)
            # another bootstrap on the machine (a bench beside `make volume`) may have added it since we listed:
            # rabbitmqctl then exits 70 saying 'User "…" already exists', and the user is there as we want it
            if added.returncode != 0 and "already exists" not in added.stdout + added.stderr:
                raise subprocess.CalledProcessError(added.returncode, added.args, added.stdout, added.stderr)
        configure, write, read = topology.permissions(service)
        subprocess.run([ctl, "-q", "set_permissions", "-p", vhost, user, configure, write, read], check=True,
                       capture_output=True)


def declare_topology(vhost: str, admin_url: str | None = None) -> int:
    """Every exchange and queue of the registry, as the broker's administrator (guest on loopback)."""
    url = admin_url or f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"
    with pika.BlockingConnection(pika.URLParameters(url)) as conn:
        return topology.declare_registry(conn.channel())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--database", default="sanji")
    ap.add_argument("--vhost", default="/")
    ap.add_argument("--recreate", action="store_true", help="drop and create the database (tests)")
    ap.add_argument("--no-topology", action="store_true",
                    help="leave the registry's queues undeclared (in-process tests declare their own, with short"
                         " retry delays)")
    args = ap.parse_args(argv)
    global _PSQL
    _PSQL = _psql_cmd()
    ensure_roles()
    ensure_database(args.database, recreate=args.recreate)
    ensure_vhost(args.vhost, recreate=args.recreate)
    queues = 0 if args.no_topology else declare_topology(args.vhost)
    print(f"[bootstrap] database {args.database} with schemas {', '.join(SCHEMAS)}; vhost {args.vhost} with"
          f" {queues} subscription queues and a broker user per service")
    return 0


_PSQL: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
