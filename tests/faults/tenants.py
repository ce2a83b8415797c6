"""The tenant matrix's attackers (issue 20, the suite): users of the units next to the demo's, each holding every
staff role, so that a wall that holds only because the attacker lacks a role is not counted as a wall.

- a sibling township of the demo township (620602002 西大街街道 beside 620602001 东大街街道);
- a sibling village of the demo village (620602001002 大众社区 beside 620602001001 南苑社区);
- a county of another province (513221 汶川县, Sichuan, beside 620602 凉州区, Gansu);
- and no token at all.

The end-to-end platform (tests/fixtures.py demo_platform) starts its OIDC provider with these users beside the
demo's, so they log in like anyone else."""

from __future__ import annotations

from shared.tenancy import Role

PASSWORD = "sanji-matrix"  # noqa: S105 - a test user's password on the loopback provider

STAFF_ROLES = [str(r) for r in Role if r not in (Role.PROVINCE_PLATFORM, Role.SERVICE)]

ATTACKERS: dict[str, tuple[str, str]] = {
    # label: (username, tenant)
    "sibling township": ("matrix.township2", "620602002"),
    "sibling village": ("matrix.village2", "620602001002"),
    "other province's county": ("matrix.county513221", "513221"),
}


def matrix_users() -> list[dict]:
    return [{"username": username, "password": PASSWORD, "name": "越权测试", "tenant": tenant,
             "tenant_name": label, "roles": list(STAFF_ROLES), "email": f"{username}@matrix.sanji.example.gov.cn",
             "description": f"tenant matrix attacker: {label}"}
            for label, (username, tenant) in ATTACKERS.items()]
