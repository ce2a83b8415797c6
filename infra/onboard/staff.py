"""A county's staff list, as its personnel office writes it: `username,name,unit_code,roles[,email,password]`
(roles by their code or their Chinese name, several separated by `;`, `、`, `|` or spaces), UTF-8, UTF-8
with a BOM or GBK. Each line is checked on its own and a bad one reported by line; the rest go on. Pure.

A line without a password gets a random initial one, handed back in the credentials sheet the command
writes (the identity provider keeps only its hash; people change it at first login in Keycloak).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field

from shared import divisions
from shared.tenancy import Role

COLUMNS = ("username", "name", "unit_code", "roles")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
# the machine roles are the identity provider's clients', never a person's
PERSON_ROLES = {r for r in Role if r not in (Role.SERVICE, Role.PROVINCE_PLATFORM)}
_BY_NAME = {**{str(r): r for r in PERSON_ROLES}, **{r.label: r for r in PERSON_ROLES}}
_SPLIT = re.compile(r"[;；、|,，\s]+")


@dataclass
class StaffReport:
    users: list[dict] = field(default_factory=list)
    refused: list[divisions.LineProblem] = field(default_factory=list)

    def summary(self) -> list[str]:
        out = [f"工作人员：{len(self.users)} 人",
               f"拒绝：{len(self.refused)} 行" + ("，逐行如下：" if self.refused else "")]
        out.extend(f"  {p}" for p in self.refused)
        return out


def read_staff(text: str, source: str, *, units: Collection[str], county: str) -> StaffReport:
    """The staff of `county` from the list; `units`: the codes of the county's tree (a member of staff
    belongs to one of them)."""
    report = StaffReport()
    seen: dict[str, int] = {}
    for line, row in divisions._records(text, source, COLUMNS):
        def refuse(message: str, line: int = line) -> None:
            report.refused.append(divisions.LineProblem(source, line, message))

        username, name, unit = row["username"].lower(), row["name"], row["unit_code"]
        roles = [r for r in _SPLIT.split(row["roles"]) if r]
        if not USERNAME.fullmatch(username):
            refuse(f"账号“{row['username']}”应为 3–64 位小写字母、数字或 . _ -，以字母或数字开头")
            continue
        if username in seen:
            refuse(f"账号 {username} 与第 {seen[username]} 行重复")
            continue
        if not name:
            refuse(f"账号 {username} 缺少姓名")
            continue
        if not unit.startswith(county) or unit not in units:
            refuse(f"账号 {username} 的单位代码 {unit or '（空）'} 不是 {county} 单位树中的单位")
            continue
        unknown = [r for r in roles if r not in _BY_NAME]
        if not roles or unknown:
            refuse(f"账号 {username} 的角色“{'、'.join(unknown) or '（空）'}”不认识（可用："
                   f"{'、'.join(sorted(str(r) for r in PERSON_ROLES))}，或其中文名称）")
            continue
        codes = sorted({str(_BY_NAME[r]) for r in roles})
        if {str(Role.REVIEWER), str(Role.DECIDER)} <= set(codes):
            refuse(f"账号 {username} 不能同时为审核人和决定人（审核人与决定人分离）")
            continue
        seen[username] = line
        report.users.append({"username": username, "name": name, "tenant": unit, "roles": codes,
                             "email": row.get("email", ""),
                             "password": row.get("password") or secrets.token_urlsafe(12),
                             # an initial password: changed at the first login (Keycloak's UPDATE_PASSWORD)
                             "temporary_password": True, "line": line})
    return report
