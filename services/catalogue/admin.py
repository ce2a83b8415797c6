"""Catalogue administration commands (run by an operator with the owner's database credentials).

    python -m services.catalogue.admin import-units FILE.csv   # the tenant tree (code,name,…)

Units are public reference data, imported from the national division-code format.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from sqlalchemy import text

from shared.config import PlatformSettings
from shared.db import owner_connection
from shared.tenancy import TenantTree


def import_units(owner_url: str, csv_text: str) -> int:
    tree = TenantTree.from_csv(csv_text)
    rows = [{"code": str(u.code), "name": u.name, "kind": u.kind.value,
             "parent": str(u.parent_code) if u.parent_code else None} for u in tree]
    with owner_connection(owner_url) as conn:
        conn.execute(text("INSERT INTO catalogue.units (code, name, kind, parent_code) VALUES"
                          " (:code, :name, :kind, :parent) ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,"
                          " kind = EXCLUDED.kind, parent_code = EXCLUDED.parent_code"), rows)
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.catalogue.admin")
    sub = ap.add_subparsers(dest="cmd", required=True)
    iu = sub.add_parser("import-units", help="import the tenant tree from a division CSV")
    iu.add_argument("file", type=pathlib.Path)
    args = ap.parse_args(argv)
    settings = PlatformSettings()
    if args.cmd == "import-units":
        n = import_units(settings.database_owner_url, args.file.read_text(encoding="utf-8"))
        print(f"imported {n} units")
    return 0


if __name__ == "__main__":
    sys.exit(main())
