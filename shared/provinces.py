"""The province's record as the services read it (issue 23, item 3): the few fields of the catalogue's record
(services/catalogue/provinces.py) that another service counts with — the calendar region its working days are
published under and the reference of its payment platform's key set — behind a port, and a cache of them.

Plain Python, no I/O: the source is a `ProvinceSource` (shared/grpc/provinces.py asks the catalogue's public
`GetProvince`; a test may give a dict). The cache is keyed by the province's 2-digit code and by nothing else, so
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from shared.errors import InvalidArgument, Unavailable


@dataclass(frozen=True)
class ProvinceRef:
    """What the services read of a province's record."""

    tenant_code: str
    calendar_region: str             # the 2-digit region whose published years this province's units count on
    payment_key_ref: str = ""        # the name of its payment platform's key set (the key is the service's secret)


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
