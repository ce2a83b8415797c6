"""Extract one county's tenant tree (county, townships/streets, villages) from the national division data.

Run by hand by a developer when a new demo county is needed; the platform never reads the national data
at run time, it reads the CSV this script writes (``code,name``, sorted by code):

    python -m infra.demo.extract_divisions --county 620602 \\
        --data-dir /work/shared/data/divisions --out infra/demo/divisions-620602.csv

The data directory holds the 统计用区划代码 files: ``areas.csv`` (counties), ``streets.csv``
(townships/streets) and either ``villages-<county>.csv`` or the national ``villages.csv.gz``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

DEFAULT_DATA_DIR = "/work/shared/data/divisions"


def _rows(path: Path) -> Iterator[dict[str, str]]:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            yield from csv.DictReader(fh)
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            yield from csv.DictReader(fh)


def extract(county: str, data_dir: Path) -> list[tuple[str, str]]:
    """Return ``(code, name)`` of the county, its townships and its villages, sorted by code."""
    if not re.fullmatch(r"\d{6}", county):
        raise ValueError(f"county code must be 6 digits, got {county!r}")
    units: dict[str, str] = {}
    for row in _rows(data_dir / "areas.csv"):
        if row["code"] == county:
            units[county] = row["name"].strip()
    if county not in units:
        raise LookupError(f"county {county} not found in {data_dir / 'areas.csv'}")
    for row in _rows(data_dir / "streets.csv"):
        if row["areaCode"] == county:
            units[row["code"]] = row["name"].strip()
    own = data_dir / f"villages-{county}.csv"
    villages = own if own.exists() else data_dir / "villages.csv.gz"
    for row in _rows(villages):
        if row["areaCode"] == county:
            units[row["code"]] = row["name"].strip()
    return sorted(units.items())


def to_csv(rows: list[tuple[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["code", "name"])
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Extract one county's tenant tree from the division data.")
    ap.add_argument("--county", required=True, help="6-digit county code, e.g. 620602 (凉州区)")
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR, type=Path,
                    help="directory with areas.csv, streets.csv and villages-*.csv / villages.csv.gz")
    ap.add_argument("--out", type=Path, help="output CSV (default: stdout)")
    args = ap.parse_args(argv)
    rows = extract(args.county, args.data_dir)
    text = to_csv(rows)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    kinds = {6: 0, 9: 0, 12: 0}
    for code, _ in rows:
        kinds[len(code)] += 1
    print(f"{args.county}: {kinds[9]} townships, {kinds[12]} villages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
