"""python -m infra.migrate — bring every service's schema to its newest migration (owner role)."""

from __future__ import annotations

import pathlib
import sys

from shared.config import MigrationSettings
from shared.db import run_migrations
from shared.registry import SERVICES as REGISTRY

ROOT = pathlib.Path(__file__).resolve().parents[1]
# every service of the registry, in its order; a registered service without migrations is an error
SERVICES = [s.name for s in REGISTRY]


def migrate_all(owner_url: str) -> None:
    for name in SERVICES:
        if not (ROOT / "services" / name / "migrations").is_dir():
            raise SystemExit(f"[migrate] service {name} is in shared/registry.py but has no migrations/")
        run_migrations(ROOT / "services" / name / "migrations", owner_url, name)


def main() -> int:
    settings = MigrationSettings()
    migrate_all(settings.database_owner_url)
    print(f"[migrate] schemas up to date: {', '.join(SERVICES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
