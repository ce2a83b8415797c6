"""python -m infra.migrate — bring every service's schema to its newest migration (owner role)."""

from __future__ import annotations

import pathlib
import sys

from shared.config import PlatformSettings
from shared.db import run_migrations

ROOT = pathlib.Path(__file__).resolve().parents[1]
# every service package with migrations, in dependency order
ORDER = ["catalogue", "intake", "agency", "approval", "fees"]
SERVICES = [name for name in ORDER if (ROOT / "services" / name / "migrations").is_dir()]


def migrate_all(owner_url: str) -> None:
    for name in SERVICES:
        run_migrations(ROOT / "services" / name / "migrations", owner_url, name)


def main() -> int:
    settings = PlatformSettings()
    migrate_all(settings.database_owner_url)
    print(f"[migrate] schemas up to date: {', '.join(SERVICES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
