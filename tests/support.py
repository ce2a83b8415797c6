"""Test support shared by service and end-to-end tests: a small real tenant tree, test users, the
OIDC provider on loopback and logins through it."""

from __future__ import annotations

from infra.oidc.client import login

# Real division codes (统计用区划代码): 凉州区 with two streets and their communities, and
# 汶川县 as "another county".
UNITS_CSV = """code,name
620602,凉州区
620602001,东大街街道
620602001001,南苑社区居委会
620602001002,大众社区居委会
620602002,西大街街道
620602002001,达府社区居委会
513221,汶川县
513221100,威州镇
513221100001,南桥社区居委会
"""

PASSWORD = "test-pass"


def user(username: str, tenant: str, *roles: str, name: str = "") -> dict:
    return {"username": username, "password": PASSWORD, "name": name or username, "tenant": tenant,
            "roles": list(roles), "email": f"{username}@example.gov.cn"}


TEST_USERS = [
    user("county.admin", "620602", "tenant_admin", name="王建国"),
    user("county.clerk", "620602", "window_clerk", name="李娜"),
    user("county.supervisor", "620602", "supervisor", name="赵监察"),
    user("dongdajie.admin", "620602001", "tenant_admin", name="张伟"),
    user("dongdajie.clerk", "620602001", "window_clerk"),
    user("xidajie.admin", "620602002", "tenant_admin", name="刘洋"),
    user("nanyuan.agent", "620602001001", "agent", name="陈代办"),
    user("nanyuan.admin", "620602001001", "tenant_admin"),
    user("dazhong.agent", "620602001002", "agent"),
    user("wenchuan.admin", "513221", "tenant_admin", name="杨川"),
]


class Tokens:
    """Logs each test user in once (a real authorization-code flow against the provider)."""

    def __init__(self, oidc_url: str):
        self.oidc_url = oidc_url
        self._cache: dict[str, str] = {}

    def __getitem__(self, username: str) -> str:
        if username not in self._cache:
            self._cache[username] = login(self.oidc_url, username, PASSWORD)
        return self._cache[username]
