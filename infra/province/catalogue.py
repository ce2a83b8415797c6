"""The simulated province's standard catalogue (省级标准事项), derived from data the project already holds:

- Gansu (62): the demo county's items (infra/demo/catalogue.json, 凉州区), as the province's standard version
  of each — the county's implementation items start equal to them, and a test or the demo changes one side;
- Sichuan (51): 广安区's published list (../shared/data/catalogue/guangan-511602.csv, the province portal's
  export: name, basic code, task type), with only the elements that list carries.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "infra" / "demo" / "catalogue.json"
GUANGAN = ROOT.parent / "shared" / "data" / "catalogue" / "guangan-511602.csv"
# Sichuan's task types → GB/T 39046 item types (as services/catalogue's import maps them)
SICHUAN_TYPES = {"1": "01", "5": "05", "7": "07", "8": "08", "9": "09", "10": "10", "20": "20"}
ELEMENT_KEYS = ("name", "basic_code", "item_type", "exercise_level", "case_kind", "legal_basis",
                "acceptance_conditions", "targets", "statutory_limit_days", "promised_limit_days", "scenarios", "fees")


def gansu_standard() -> list[dict[str, Any]]:
    items = json.loads(DEMO.read_text(encoding="utf-8"))
    return [{k: item[k] for k in ELEMENT_KEYS if k in item} for item in items]


def sichuan_standard(path: Path = GUANGAN) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            code = (row.get("basic_code") or "").strip()
            if code and code not in seen:
                seen[code] = {"name": row["name"].strip(), "basic_code": code,
                              "item_type": SICHUAN_TYPES.get((row.get("task_type") or "").strip(), "10")}
    return list(seen.values())


def standard_catalogue(province: str) -> list[dict[str, Any]]:
    return {"62": gansu_standard, "51": sichuan_standard}.get(province, lambda: [])()
