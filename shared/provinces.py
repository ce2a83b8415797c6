"""The province's record as the services read it (issue 23, item 3): the few fields of the catalogue's record
(services/catalogue/provinces.py) that another service counts with — the calendar region its working days are
published under, the reference of its payment platform's key set, its supervision thresholds — behind a port, and
a cache of them.

Plain Python, no I/O: the source is a `ProvinceSource` (shared/grpc/provinces.py asks the catalogue's public
`GetProvince` and `ListProvinces`). The cache is keyed by the province's 2-digit code and by nothing else, so
one province's record is never served for another's tenant; it is bounded (at most the 100 possible codes)
and each entry lives `ttl` seconds, after which a change the province's administrator made at the catalogue is
read. An event would not do better here: a service's replicas share one queue per event (competing consumers,
shared/messaging/tests/test_replicas.py), so a `province changed` event would reach one replica's cache and
leave the others' as they were; the bound on staleness is the ttl in every replica alike.

If the catalogue cannot be reached, the last answer for that province is used; without one the caller gets
`Unavailable` (answered 503, retried), never a guess. A province the catalogue has no record of reads as
`None`: each service then keeps its documented default.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from shared.errors import InvalidArgument, Unavailable

# The supervision thresholds a province's record may set (services/supervision/domain.py DEFAULT_RULES, which
# says where each default comes from; a test there keeps the two lists the same): "<rule id>.<threshold>" → the
# values allowed. The catalogue refuses any other name or a value outside its range, so a record can never stop
# supervision from evaluating a province's cases.
SUPERVISION_THRESHOLDS: dict[str, tuple[float, float]] = {
    "case-promised-deadline.yellow_working_days": (0, 30),    # yellow card this many working days before
    "step-budget.review_share": (0.05, 1),                    # a step's share of the promised limit
    "step-budget.decide_share": (0.05, 1),
    "step-budget.min_days": (1, 30),                          # at least this many working days per step
    "step-budget.yellow_working_days": (0, 30),
    "suspension-watch.max_suspensions": (0, 50),              # more suspensions than this: a yellow card
    "suspension-watch.max_paused_share": (0.05, 1),           # paused days above this share of the limit
}


def check_supervision_thresholds(values: Mapping[str, object]) -> dict[str, float]:
    """The thresholds of a record, checked (InvalidArgument naming `supervision_thresholds`, in Chinese)."""
    if not isinstance(values, Mapping):
        raise InvalidArgument("supervision_thresholds", "监察阈值应为“规则.阈值”到数值的对应表")
    out: dict[str, float] = {}
    for name, value in values.items():
        if name not in SUPERVISION_THRESHOLDS:
            known = "、".join(SUPERVISION_THRESHOLDS)
            raise InvalidArgument("supervision_thresholds", f"没有名为 {str(name)[:80]!r} 的监察阈值（可设：{known}）")
        low, high = SUPERVISION_THRESHOLDS[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise InvalidArgument("supervision_thresholds", f"监察阈值 {name} 应为 {low:g} 到 {high:g} 之间的数值")
        out[name] = float(value)
    return out


@dataclass(frozen=True)
class ProvinceRef:
    """What the services read of a province's record."""

    tenant_code: str
    calendar_region: str             # the 2-digit region whose published years this province's units count on
    payment_key_ref: str = ""        # the name of its payment platform's key set (the key is the service's secret)
    # "<rule id>.<threshold>" → value (SUPERVISION_THRESHOLDS); a threshold not named keeps supervision's default
    supervision_thresholds: Mapping[str, float] = field(default_factory=dict)


class ProvinceSource(Protocol):
    def province(self, code: str) -> ProvinceRef | None:
        """The record of province `code` (2 digits), None when the deployment has none; `Unavailable` when the
        catalogue cannot be reached."""
        ...

    def provinces(self) -> list[ProvinceRef]:
        """Every province record of the deployment; `Unavailable` when the catalogue cannot be reached."""
        ...


def province_of(tenant: str) -> str:
    """The 2-digit province of a tenant code (refused when it is not one)."""
    code = (tenant or "").strip()[:2]
    if len(code) != 2 or not (code.isascii() and code.isdigit()):
        raise InvalidArgument("tenant", f"区划代码格式不正确：{tenant!r}")
    return code


class ProvinceBook:
    """Province records by code, each cached `ttl` seconds (see the module's docstring)."""

    def __init__(self, source: ProvinceSource, *, ttl: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self.source = source
        self.ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, ProvinceRef | None]] = {}

    def get(self, tenant: str) -> ProvinceRef | None:
        """The record of the tenant's province (any tenant code: its first two digits name the province)."""
        code = province_of(tenant)
        now = self._monotonic()
        hit = self._cache.get(code)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        try:
            record = self.source.province(code)
        except Unavailable:
            if hit is not None:
                return hit[1]
            raise
        if record is not None and record.tenant_code != code:
            # never one province's record for another's units, whatever the source answered
            raise Unavailable("省级配置（事项目录服务）返回了其他省的记录，已拒绝使用")
        with self._lock:
            self._cache[code] = (now, record)
        return record

    def calendar_region(self, tenant: str) -> str:
        """The region whose years the tenant's units count on: the record's, else the province's own code."""
        record = self.get(tenant)
        return record.calendar_region if record is not None and record.calendar_region else province_of(tenant)

    def following(self, region: str) -> list[str]:
        """The other provinces whose record names `region` as their calendar region (asked afresh: a year published
        under `region` re-projects their dates too)."""
        return sorted(r.tenant_code for r in self.source.provinces()
                      if r.calendar_region == region and r.tenant_code != region)

    def invalidate(self, province: str | None = None) -> None:
        with self._lock:
            if province is None:
                self._cache.clear()
            else:
                self._cache.pop(province, None)
