"""Tenancy: division codes, unit kinds, the tenant tree, visibility rules and the current principal.

A tenant is an administrative division (统计用区划代码). Codes are hierarchical by prefix:
620602 (county) → 620602001 (township) → 620602001001 (village), so "this tenant and its
descendants" is a prefix match. The current principal is set only from a verified token.
"""

from __future__ import annotations

import contextvars
import csv
import enum
import io
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from shared.errors import InvalidArgument, PermissionDenied, Unauthenticated

_CODE = re.compile(r"^\d{2}$|^\d{4}$|^\d{6}$|^\d{9}$|^\d{12}$")


class UnitKind(enum.Enum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"        # 县行政审批局 / 政务服务中心
    TOWNSHIP = "township"    # 乡镇/街道便民服务中心
    VILLAGE = "village"      # 村/社区便民服务代办点

    @property
    def label(self) -> str:
        return {
            UnitKind.PROVINCE: "省级政务服务平台",
            UnitKind.CITY: "市级政务服务中心",
            UnitKind.COUNTY: "县级政务服务中心",
            UnitKind.TOWNSHIP: "乡镇（街道）便民服务中心",
            UnitKind.VILLAGE: "村（社区）便民服务代办点",
        }[self]


_KIND_BY_LEN = {2: UnitKind.PROVINCE, 4: UnitKind.CITY, 6: UnitKind.COUNTY, 9: UnitKind.TOWNSHIP,
                12: UnitKind.VILLAGE}
_PARENT_LEN = {4: 2, 6: 4, 9: 6, 12: 9}


@dataclass(frozen=True, order=True)
class DivisionCode:
    """A statistical division code; its length says its level."""

    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or not _CODE.match(self.value):
            raise InvalidArgument("tenant", f"区划代码格式不正确：{self.value!r}（应为 2、4、6、9 或 12 位数字）")

    @classmethod
    def parse(cls, value: str, field_name: str = "tenant") -> DivisionCode:
        try:
            return cls(str(value).strip())
        except InvalidArgument as exc:
            raise InvalidArgument(field_name, exc.message) from None

    @property
    def kind(self) -> UnitKind:
        return _KIND_BY_LEN[len(self.value)]

    @property
    def parent(self) -> DivisionCode | None:
        n = _PARENT_LEN.get(len(self.value))
        return DivisionCode(self.value[:n]) if n else None

    @property
    def province(self) -> str:
        return self.value[:2]

    @property
    def county(self) -> DivisionCode | None:
        return DivisionCode(self.value[:6]) if len(self.value) >= 6 else None

    def ancestors(self) -> list[DivisionCode]:
        out, cur = [], self.parent
        while cur is not None:
            out.append(cur)
            cur = cur.parent
        return out

    def is_ancestor_of(self, other: DivisionCode) -> bool:
        return len(other.value) > len(self.value) and other.value.startswith(self.value)

    def contains(self, other: DivisionCode) -> bool:
        """self is other, or an ancestor of it."""
        return other.value.startswith(self.value)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Unit:
    code: DivisionCode
    name: str

    @property
    def kind(self) -> UnitKind:
        return self.code.kind

    @property
    def parent_code(self) -> DivisionCode | None:
        return self.code.parent


class TenantTree:
    """The units of one deployment, imported from the division data (code,name,... CSV)."""

    def __init__(self, units: Iterable[Unit] = ()):
        self._units: dict[str, Unit] = {}
        self._children: dict[str, list[str]] = {}
        for u in units:
            self.add(u)

    def add(self, unit: Unit) -> None:
        self._units[unit.code.value] = unit
        parent = unit.parent_code
        if parent is not None:
            self._children.setdefault(parent.value, []).append(unit.code.value)

    def __len__(self) -> int:
        return len(self._units)

    def __iter__(self) -> Iterator[Unit]:
        return iter(sorted(self._units.values(), key=lambda u: u.code.value))

    def __contains__(self, code: object) -> bool:
        return str(code) in self._units

    def get(self, code: DivisionCode | str) -> Unit | None:
        return self._units.get(str(code))

    def children(self, code: DivisionCode | str) -> list[Unit]:
        return [self._units[c] for c in sorted(self._children.get(str(code), []))]

    def descendants(self, code: DivisionCode | str) -> list[Unit]:
        prefix = str(code)
        return [u for u in self if u.code.value.startswith(prefix) and u.code.value != prefix]

    @classmethod
    def from_csv(cls, text: str) -> TenantTree:
        """Rows `code,name[,...]` as in the national division files (header row required)."""
        reader = csv.DictReader(io.StringIO(text))
        return cls(Unit(DivisionCode(row["code"].strip()), row["name"].strip()) for row in reader)


class Role(enum.StrEnum):
    WINDOW_CLERK = "window_clerk"            # 综合受理员
    REVIEWER = "reviewer"                    # 审核人
    DECIDER = "decider"                      # 决定人
    CASHIER = "cashier"                      # 收费员
    AGENT = "agent"                          # 代办员
    COMPLAINT_HANDLER = "complaint_handler"  # 投诉处理员
    SUPERVISOR = "supervisor"                # 监察员
    TENANT_ADMIN = "tenant_admin"            # 单位管理员
    HEAD = "head"                            # 机关负责人（批准延长法定期限等）
    CHIEF_REPRESENTATIVE = "chief_representative"  # 窗口首席代表（即办件当场决定）
    PROVINCE_PLATFORM = "province_platform"  # 省平台对接（机器）
    SERVICE = "service"                      # a sanji service acting on an event (机器)

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    Role.WINDOW_CLERK: "综合受理员", Role.REVIEWER: "审核人", Role.DECIDER: "决定人", Role.CASHIER: "收费员",
    Role.AGENT: "代办员", Role.COMPLAINT_HANDLER: "投诉处理员", Role.SUPERVISOR: "监察员",
    Role.TENANT_ADMIN: "单位管理员", Role.HEAD: "机关负责人", Role.CHIEF_REPRESENTATIVE: "窗口首席代表",
    Role.PROVINCE_PLATFORM: "省平台", Role.SERVICE: "系统服务",
}

# roles that may read the descendants of their tenant (supervision and statistics)
SUBTREE_READERS = frozenset({Role.SUPERVISOR})


@dataclass(frozen=True)
class Principal:
    """Who is acting: from a verified token only."""

    subject: str
    username: str
    tenant: DivisionCode
    roles: frozenset[str]
    token: str = field(default="", repr=False, compare=False)
    display_name: str = ""
    machine: bool = False
    # the platform service that carried this person's call (its own client-credentials token, verified),
    # or "" for a call straight from the person (through the gateway)
    via: str = ""

    def has(self, role: Role | str) -> bool:
        return str(role) in self.roles

    def require(self, *roles: Role) -> None:
        if not any(self.has(r) for r in roles):
            names = "、".join(r.label for r in roles)
            raise PermissionDenied(f"当前用户没有所需角色（{names}）")

    @property
    def reads_subtree(self) -> bool:
        return any(self.has(r) for r in SUBTREE_READERS)

    def require_calling_service(self, service: str) -> None:
        """A platform service calling an internal method on its own credential alone (no person behind it):
        `service` and nobody else. The interceptor admits only the registered callers; a handler checks again so
        it refuses when reached otherwise."""
        if not (self.machine and self.via == service and self.has(Role.SERVICE)):
            raise PermissionDenied("此接口仅供平台内部服务调用")


def can_read(principal: Principal, target: DivisionCode) -> bool:
    """Read within one's own tenant; supervision roles also read its descendants (DESIGN §3)."""
    if target == principal.tenant:
        return True
    return principal.reads_subtree and principal.tenant.is_ancestor_of(target)


def can_write(principal: Principal, target: DivisionCode) -> bool:
    """Write only within one's own tenant."""
    return target == principal.tenant


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("sanji_principal", default=None)


def current_principal() -> Principal:
    p = _current.get()
    if p is None:
        raise Unauthenticated("未登录或登录已失效，请重新登录")
    return p


def current_principal_or_none() -> Principal | None:
    return _current.get()


def current_tenant() -> DivisionCode:
    return current_principal().tenant


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[Principal | None]:
    """Bind the principal for the duration of a request or an event handler."""
    token = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(token)
