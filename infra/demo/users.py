"""Demo users of the 凉州区 demo: one per role in the county hall, a township centre and a village point, and the
province's administrator (甘肃省, `province.admin`: 县区上线 and the province's record).

``demo_users(tree_rows)`` is pure: it takes the tenant tree rows (``code,name`` as in
``divisions-620602.csv``) and returns plain dicts that both the loopback OIDC provider and the Keycloak
provisioning (``infra/keycloak/provision.py``) consume:

    {"username": "county.clerk", "password": "sanji-demo", "name": "王丽娟", "tenant": "620602",
     "tenant_name": "凉州区", "roles": ["window_clerk"], "email": "...", "description": "..."}

The county gets a second reviewer and a second decider so that separation of duties (审核人与决定人不得为
同一人) can be shown on one case.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.tenancy import DivisionCode, Role

HERE = Path(__file__).resolve().parent
DIVISIONS_CSV = HERE / "divisions-620602.csv"
CATALOGUE_JSON = HERE / "catalogue.json"

DEMO_COUNTY = "620602"
DEMO_PASSWORD = "sanji-demo"  # noqa: S105 - published demo password, never used outside demos
EMAIL_DOMAIN = "demo.sanji.example.gov.cn"

ROLE_LABELS: dict[str, str] = {str(r): r.label for r in Role}

# (username suffix, Chinese name, roles) per unit
_COUNTY_STAFF: list[tuple[str, str, list[str]]] = [
    ("clerk", "王丽娟", [Role.WINDOW_CLERK]),
    ("reviewer", "张志强", [Role.REVIEWER]),
    ("reviewer2", "马晓燕", [Role.REVIEWER]),
    ("decider", "李建国", [Role.DECIDER]),
    ("decider2", "赵文斌", [Role.DECIDER]),
    ("cashier", "刘春梅", [Role.CASHIER]),
    ("agent", "杨海军", [Role.AGENT]),
    ("complaints", "陈秀兰", [Role.COMPLAINT_HANDLER]),
    ("supervisor", "魏振华", [Role.SUPERVISOR]),
    ("admin", "贾明", [Role.TENANT_ADMIN]),
    ("head", "冯志刚", [Role.HEAD]),
    ("chief", "周桂英", [Role.CHIEF_REPRESENTATIVE, Role.WINDOW_CLERK]),
]
_TOWNSHIP_STAFF: list[tuple[str, str, list[str]]] = [
    ("clerk", "段玉霞", [Role.WINDOW_CLERK]),
    ("reviewer", "孙立新", [Role.REVIEWER]),
    ("decider", "何永红", [Role.DECIDER]),
    ("cashier", "郭丽", [Role.CASHIER]),
    ("supervisor", "徐德胜", [Role.SUPERVISOR]),
    ("admin", "苏建平", [Role.TENANT_ADMIN]),
    # the centre's head confirms a refusal its window proposes (无权否决, seed 003 §20; issue 21 item 5)
    ("head", "周建华", [Role.HEAD]),
    # the centre's 帮办代办 staff (seed 001: 由乡镇（街道）民生服务中心或村（社区）免费代办; issue 21 item 1)
    ("agent", "郑秀梅", [Role.AGENT]),
]
# the province's administrator (issue 23): onboards the province's counties (县区上线) and keeps its record
_PROVINCE_STAFF: list[tuple[str, str, list[str]]] = [
    ("admin", "吕振国", [Role.TENANT_ADMIN]),
]
PROVINCE_NAMES = {"62": "甘肃省", "51": "四川省", "37": "山东省", "64": "宁夏回族自治区"}
_VILLAGE_STAFF: list[tuple[str, str, list[str]]] = [
    ("agent", "金桂芳", [Role.AGENT]),
    ("admin", "柴国栋", [Role.TENANT_ADMIN]),
]


def _pairs(tree_rows: Iterable[Mapping[str, str] | Sequence[str]]) -> list[tuple[str, str]]:
    out = []
    for row in tree_rows:
        if isinstance(row, Mapping):
            code, name = row["code"], row["name"]
        else:
            code, name = row[0], row[1]
        out.append((str(code).strip(), str(name).strip()))
    return sorted(out)


def describe(user: Mapping[str, Any]) -> str:
    """A line for people: 单位 + 单位类型 · 角色 (e.g. 凉州区（县级政务服务中心）· 综合受理员)."""
    kind = DivisionCode(user["tenant"]).kind.label
    roles = "、".join(ROLE_LABELS.get(r, r) for r in user["roles"])
    return f"{user['tenant_name']}（{kind}）· {roles}"


def demo_users(tree_rows: Iterable[Mapping[str, str] | Sequence[str]], *, county: str = DEMO_COUNTY,
               township: str | None = None, password: str = DEMO_PASSWORD) -> list[dict[str, Any]]:
    """Users for the county, one township (the first by code unless given), its first village and the province."""
    units = _pairs(tree_rows)
    names = dict(units)
    if county not in names:
        raise ValueError(f"county {county} is not in the tenant tree")
    townships = [c for c, _ in units if len(c) == 9 and c.startswith(county)]
    if not townships:
        raise ValueError(f"county {county} has no townships in the tenant tree")
    township = township or townships[0]
    if township not in townships:
        raise ValueError(f"township {township} is not a township of {county}")
    villages = [c for c, _ in units if len(c) == 12 and c.startswith(township)]
    if not villages:
        raise ValueError(f"township {township} has no villages in the tenant tree")
    village = villages[0]

    province = county[:2]
    names.setdefault(province, PROVINCE_NAMES.get(province, f"{province} 省级"))
    users: list[dict[str, Any]] = []
    for prefix, code, staff in (("county", county, _COUNTY_STAFF), ("township", township, _TOWNSHIP_STAFF),
                                ("village", village, _VILLAGE_STAFF), ("province", province, _PROVINCE_STAFF)):
        for suffix, person, roles in staff:
            username = f"{prefix}.{suffix}"
            user = {
                "username": username,
                "password": password,
                "name": person,
                "tenant": code,
                "tenant_name": names[code],
                "roles": [str(r) for r in roles],
                "email": f"{username}@{EMAIL_DOMAIN}",
            }
            user["description"] = describe(user)
            users.append(user)
    return users


def load_tree_rows(path: Path = DIVISIONS_CSV) -> list[dict[str, str]]:
    """The demo tenant tree shipped with the project (``code,name``)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return [{"code": r["code"], "name": r["name"]} for r in csv.DictReader(fh)]


def load_catalogue(path: Path = CATALOGUE_JSON) -> list[dict[str, Any]]:
    """The demo catalogue: ItemElements fields plus a ``listing`` key per item."""
    return json.loads(path.read_text(encoding="utf-8"))


def unit_kind_label(code: str) -> str:
    return DivisionCode(code).kind.label


__all__ = ["CATALOGUE_JSON", "DEMO_COUNTY", "DEMO_PASSWORD", "DIVISIONS_CSV", "ROLE_LABELS",
           "demo_users", "describe", "load_catalogue", "load_tree_rows", "unit_kind_label"]


if __name__ == "__main__":
    for u in demo_users(load_tree_rows()):
        print(f"{u['username']:<22} {u['password']}  {u['name']}  {u['description']}")
