"""Create what the platform needs inside PostgreSQL and RabbitMQ, idempotently.

- the owner role (runs migrations, owns the tables) and the application role (owns nothing, so
  row-level security applies to it);
- the database and one schema per service;
- the AMQP virtual host (tests use their own).

PostgreSQL is reached as a superuser: over TCP as `postgres` where the server trusts loopback,
otherwise through the local socket as the `postgres` OS user (a fresh Debian install).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from shared.registry import SCHEMAS

OWNER, APP = "sanji_owner", "sanji_app"


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


def ensure_roles() -> None:
    for role in (OWNER, APP):
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
        psql(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {OWNER}; GRANT USAGE ON SCHEMA {schema} TO {APP}",
             name)


def ensure_vhost(vhost: str, *, recreate: bool = False) -> None:
    if vhost == "/":
        return
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    listed = subprocess.run([ctl, "-q", "list_vhosts"], capture_output=True, text=True)
    if recreate and vhost in listed.stdout.split():
        # a test run starts with no queues and no messages left over from an earlier run
        subprocess.run([ctl, "-q", "delete_vhost", vhost], check=True, capture_output=True)
        listed = subprocess.run([ctl, "-q", "list_vhosts"], capture_output=True, text=True)
    if vhost not in listed.stdout.split():
        subprocess.run([ctl, "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run([ctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--database", default="sanji")
    ap.add_argument("--vhost", default="/")
    ap.add_argument("--recreate", action="store_true", help="drop and create the database (tests)")
    args = ap.parse_args(argv)
    global _PSQL
    _PSQL = _psql_cmd()
    ensure_roles()
    ensure_database(args.database, recreate=args.recreate)
    ensure_vhost(args.vhost, recreate=args.recreate)
    print(f"[bootstrap] database {args.database} with schemas {', '.join(SCHEMAS)}; vhost {args.vhost}")
    return 0


_PSQL: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
