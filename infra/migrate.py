"""python -m infra.migrate [--broker] — bring every service's schema to its newest migration (owner role);
with --broker also declare the broker's topology from the registry (SANJI_AMQP_ADMIN_URL), as the k8s
migration Job does before the services roll out."""

from __future__ import annotations

import argparse
import pathlib
import sys

from shared.config import MigrationSettings
from shared.db import run_migrations
from shared.registry import SERVICES as REGISTRY

ROOT = pathlib.Path(__file__).resolve().parents[1]
# every service of the registry, in its order; a registered service without migrations is an error
SERVICES = [s.name for s in REGISTRY]


def migrate_all(owner_url: str) -> None:
    for spec in REGISTRY:
        folder = ROOT / spec.folder / "migrations"       # services/<name>/, or the row's own package
        if not folder.is_dir():
            raise SystemExit(f"[migrate] service {spec.name} is in shared/registry.py but has no"
                             f" {spec.folder}/migrations/")
        run_migrations(folder, owner_url, spec.schema)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--broker", action="store_true", help="also declare every exchange and queue of the registry")
    args = ap.parse_args(argv)
    settings = MigrationSettings()
    migrate_all(settings.database_owner_url)
    print(f"[migrate] schemas up to date: {', '.join(SERVICES)}")
    if args.broker:
        if not settings.amqp_admin_url:
            raise SystemExit("[migrate] --broker needs SANJI_AMQP_ADMIN_URL (the broker administrator's URL)")
        import pika

        from shared.messaging.topology import declare_registry

        with pika.BlockingConnection(pika.URLParameters(settings.amqp_admin_url)) as conn:
            queues = declare_registry(conn.channel())
        print(f"[migrate] broker topology declared: {queues} subscription queues")
    return 0


if __name__ == "__main__":
    sys.exit(main())
