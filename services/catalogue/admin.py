"""Catalogue administration commands (run by an operator on the platform's host).

    python -m services.catalogue.admin import-units FILE.csv                  # the tenant tree (code,name,…)
    python -m services.catalogue.admin import-items --tenant 511602 FILE.csv  # a published item list
    python -m services.catalogue.admin set-code-format --province 64 --basic-max 12 \\
        --implementation-max 31 --description 宁夏回族自治区政务服务事项编码规则    # a province's code format

Units are public reference data, imported from the national division-code format with the owner's
credentials. Items are a tenant's own data: `import-items` acts as that tenant's admin through the
catalogue's handlers on the application role (tenant bound to each transaction, RLS in force), and
creates drafts only (see services/catalogue/importing.py). It prints a summary and exits 0 when the
file could be read — refused rows are listed, not fatal — and 2 when the file cannot be read at all
or the tenant is unknown.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

from sqlalchemy import text

from services.catalogue import importing
from services.catalogue.handlers import IMPORT_BATCH, CatalogueHandlers
from services.catalogue.translate import EventsOut
from shared import divisions
from shared.config import DatabaseToolSettings, PlatformSettings
from shared.db import Database, owner_connection
from shared.errors import DomainError, InvalidArgument
from shared.tenancy import DivisionCode, Principal, Role

UNREADABLE = 2


# one statement for the whole file: the accepted lines as JSON (a county's tree is a few hundred rows)
UPSERT_UNITS = ("INSERT INTO catalogue.units (code, name, kind, parent_code)"
                " SELECT code, name, kind, parent FROM jsonb_to_recordset(CAST(:rows AS jsonb))"
                " AS r(code text, name text, kind text, parent text)"
                " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,"
                " parent_code = EXCLUDED.parent_code")


def check_unit_lines(lines: list[divisions.SourceLine], known: set[str]) -> tuple[divisions.UnitsReport, str]:
    """The report by line (shared.divisions.check_units: a township or village needs its parent in the file or
    already in the tree) and the accepted units as the JSON UPSERT_UNITS reads."""
    report = divisions.check_units(lines, known=known)
    rows = [{"code": r.code, "name": r.name, "kind": DivisionCode(r.code).kind.value,
             "parent": str(DivisionCode(r.code).parent) if DivisionCode(r.code).parent else None}
            for r in report.accepted]
    return report, json.dumps(rows, ensure_ascii=False)


def import_unit_lines(owner_url: str, lines: list[divisions.SourceLine]) -> divisions.UnitsReport:
    """Write the lines that make units (a bad line is reported, the rest go in) with the owner's credentials
    (the operator's command); a province's administrator writes its own through its binding
    (services/onboarding, catalogue 0007)."""
    with owner_connection(owner_url) as conn:
        known = {c for (c,) in conn.execute(text("SELECT code FROM catalogue.units")).all()}
        report, rows = check_unit_lines(lines, known)
        if report.accepted:
            conn.execute(text(UPSERT_UNITS), {"rows": rows})
    return report


def import_units(owner_url: str, csv_text: str, source: str = "units.csv") -> int:
    """A unit list (`code,name[,…]`) into the tree; the number of units written."""
    return len(import_unit_lines(owner_url, divisions.unit_lines(csv_text, source)).accepted)


def import_units_file(owner_url: str, path: pathlib.Path) -> int:
    """The import-units command: read the file (UTF-8, UTF-8 with BOM, GBK), import it, print the report by
    line. 0 when the file could be read (refused lines are listed, not fatal); 2 when it cannot be read."""
    try:
        lines = divisions.unit_lines(divisions.decode(path.read_bytes(), path.name), path.name)
    except OSError as exc:
        print(f"无法读取 {path}：{exc.strerror or exc}", file=sys.stderr)
        return UNREADABLE
    except divisions.UnreadableDivisions as exc:
        print(f"无法导入 {path}：{exc}", file=sys.stderr)
        return UNREADABLE
    for line in import_unit_lines(owner_url, lines).summary():
        print(line)
    return 0


# the longest codes a province may configure (the columns are text; a bound keeps a typo from passing)
CODE_MAX = {"basic_max": 64, "implementation_max": 64, "case_number_max": 64}


def set_code_format(owner_url: str, province: str, *, basic_max: int, implementation_max: int,
                    case_number_max: int, description: str, basic_pattern: str = r"[0-9A-Za-z]+",
                    implementation_pattern: str = r"[0-9A-Za-z\-]+") -> None:
    """A province's item-code format (its 12-, 14- or 31-character codes), as reference data: every county of
    the province validates against it from the next request on. Replaces the province's row if it has one."""
    import re

    if not re.fullmatch(r"\d{2}", province or ""):
        raise InvalidArgument("province", f"省代码应为 2 位数字：{province!r}")
    for name, value in (("basic_max", basic_max), ("implementation_max", implementation_max),
                        ("case_number_max", case_number_max)):
        if not 1 <= value <= CODE_MAX[name]:
            raise InvalidArgument(name, f"{name} 应在 1 到 {CODE_MAX[name]} 之间：{value}")
    for name, pattern in (("basic_pattern", basic_pattern), ("implementation_pattern", implementation_pattern)):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidArgument(name, f"{name} 不是有效的正则表达式：{exc}") from None
    if not (description or "").strip():
        raise InvalidArgument("description", "请填写编码规则的名称（如：宁夏回族自治区政务服务事项编码规则）")
    with owner_connection(owner_url) as conn:
        conn.execute(text("INSERT INTO catalogue.code_formats (province, basic_max, implementation_max,"
                          " case_number_max, basic_pattern, implementation_pattern, description) VALUES"
                          " (:p, :b, :i, :c, :bp, :ip, :d) ON CONFLICT (province) DO UPDATE SET"
                          " basic_max = EXCLUDED.basic_max, implementation_max = EXCLUDED.implementation_max,"
                          " case_number_max = EXCLUDED.case_number_max, basic_pattern = EXCLUDED.basic_pattern,"
                          " implementation_pattern = EXCLUDED.implementation_pattern,"
                          " description = EXCLUDED.description"),
                     {"p": province, "b": basic_max, "i": implementation_max, "c": case_number_max,
                      "bp": basic_pattern, "ip": implementation_pattern, "d": description.strip()})


def code_formats(owner_url: str) -> list[tuple]:
    with owner_connection(owner_url) as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT province, basic_max, implementation_max, case_number_max, description FROM catalogue.code_formats"
            " ORDER BY province")).all()]


def import_items(database_url: str, tenant: str, path: pathlib.Path, *, actor: str = "import-items",
                 batch_size: int = IMPORT_BATCH) -> int:
    """The import-items command: read the file (UTF-8, UTF-8 with a BOM, GBK), import it as the tenant's admin,
    print the report. The workbench's import (gRPC ImportItems) reads and imports through the same functions."""
    try:
        code = DivisionCode.parse(tenant, "tenant")
        source = importing.read_bytes(path.read_bytes())
    except OSError as exc:
        print(f"无法读取 {path}：{exc.strerror or exc}", file=sys.stderr)
        return UNREADABLE
    except (importing.UnreadableFile, DomainError) as exc:
        print(f"无法导入 {path}：{exc.message}", file=sys.stderr)
        return UNREADABLE
    operator = Principal(subject=f"admin-command:{actor}", username=actor, tenant=code,
                         roles=frozenset({str(Role.TENANT_ADMIN)}), display_name="事项清单导入", machine=True)
    db = Database.connect(database_url, schema="catalogue", service="catalogue", pool_size=1)
    started = time.monotonic()
    try:
        report = CatalogueHandlers(db, events_out=EventsOut()).import_items(operator, source, batch_size=batch_size)
    except DomainError as exc:
        print(f"无法导入到单位 {code}：{exc.message}", file=sys.stderr)
        return UNREADABLE
    finally:
        db.dispose()
    for line in report.summary():
        print(line)
    print(f"用时 {time.monotonic() - started:.1f} 秒")
    return 0


def main(argv: list[str] | None = None, settings: PlatformSettings | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m services.catalogue.admin")
    sub = ap.add_subparsers(dest="cmd", required=True)
    iu = sub.add_parser("import-units", help="import the tenant tree from a division CSV (code,name,…; UTF-8 or GBK)")
    iu.add_argument("file", type=pathlib.Path)
    ii = sub.add_parser("import-items", help="import a published item list (CSV) as drafts of one tenant")
    ii.add_argument("--tenant", required=True, help="division code of the unit the items belong to")
    ii.add_argument("--actor", default="import-items", help="recorded as the drafts' creator")
    ii.add_argument("--batch-size", type=int, default=IMPORT_BATCH, help="drafts per transaction")
    ii.add_argument("file", type=pathlib.Path)
    cf = sub.add_parser("set-code-format", help="a province's item-code format (reference data)")
    cf.add_argument("--province", required=True, help="2-digit province code, e.g. 64")
    cf.add_argument("--basic-max", type=int, required=True, help="longest basic code (基本编码)")
    cf.add_argument("--implementation-max", type=int, required=True, help="longest implementation code (实施编码)")
    cf.add_argument("--case-number-max", type=int, default=50, help="longest case number (办件编号)")
    cf.add_argument("--description", required=True, help="the rule's name, e.g. 宁夏回族自治区政务服务事项编码规则")
    sub.add_parser("list-code-formats", help="the configured code formats ('' = GB/T 39046, the default)")
    args = ap.parse_args(argv)
    settings = settings or DatabaseToolSettings()
    if args.cmd == "set-code-format":
        try:
            set_code_format(settings.database_owner_url, args.province, basic_max=args.basic_max,
                            implementation_max=args.implementation_max, case_number_max=args.case_number_max,
                            description=args.description)
        except DomainError as exc:
            print(f"未配置：{exc.message}", file=sys.stderr)
            return UNREADABLE
        print(f"已配置省 {args.province} 的事项编码规则：基本编码最多 {args.basic_max} 位，"
              f"实施编码最多 {args.implementation_max} 位，办件编号最多 {args.case_number_max} 位")
        return 0
    if args.cmd == "list-code-formats":
        for province, b, i, c, d in code_formats(settings.database_owner_url):
            print(f"{province or '（默认）'}\t基本编码 {b}\t实施编码 {i}\t办件编号 {c}\t{d}")
        return 0
    if args.cmd == "import-units":
        return import_units_file(settings.database_owner_url, args.file)
    elif args.cmd == "import-items":
        return import_items(settings.database_url, args.tenant, args.file, actor=args.actor,
                            batch_size=args.batch_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
