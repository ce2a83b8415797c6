"""Which units this deployment holds (its tenant tree), as the complaints service needs to know it: whether the
level above a unit is on the platform at all, before a second 不满意 is escalated to it.

`UnitDirectory` is the port; `GrpcUnits` asks the catalogue's public `GetUnit` (the catalogue keeps the units
imported from the division data) over a `make_channel` channel. NOT_FOUND means the unit is not in the tree; any
other failure is the catalogue being unreachable, and the complainant's rating is answered 503 (retry), never
escalated to a guess.

`ProvinceRules` (issue 23, item 3): the complaint rules of a tenant's province — the province's record at the
catalogue (`GetProvince`: whether 日 are working days, the rectification days) over the defaults of
`domain.ComplaintRules`; a province without a record keeps the defaults. Cached per province for `ttl` seconds; if
the catalogue cannot be reached, the last answer is used, and without one the caller gets a 503 (retry), never a
guess.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Protocol

import grpc
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.catalogue.v1 import catalogue_pb2_grpc

from services.complaints import domain as d
from shared.errors import Unavailable
from shared.grpc.client import make_channel


class UnitDirectory(Protocol):
    def exists(self, code: str) -> bool:
        """Whether `code` is a unit of this deployment's tenant tree."""
        ...

    def province(self, code: str) -> tuple[bool, int] | None:
        """A province's (complaint_working_days, rectification_days) from its record, None without one."""
        ...


class GrpcUnits:
    def __init__(self, target: str, *, timeout: float = 10.0):
        self._channel = make_channel(target)
        self._stub = catalogue_pb2_grpc.CatalogueServiceStub(self._channel)
        self._timeout = timeout

    def exists(self, code: str) -> bool:
        try:
            self._stub.GetUnit(cpb.GetUnitRequest(code=code), timeout=self._timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise Unavailable("单位目录（事项目录服务）暂时无法访问，请稍后再试") from None
        return True

    def province(self, code: str) -> tuple[bool, int] | None:
        """The province's (complaint_working_days, rectification_days), or None when it has no record."""
        try:
            r = self._stub.GetProvince(cpb.GetProvinceRequest(tenant_code=code), timeout=self._timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable("省级配置（事项目录服务）暂时无法访问，请稍后再试") from None
        return r.complaint_working_days, r.rectification_days

    def close(self) -> None:
        self._channel.close()


class ProvinceRules:
    """tenant → its province's ComplaintRules (see the module's docstring). `units` None: the defaults."""

    def __init__(self, units: UnitDirectory | None, *, ttl: float = 300.0):
        self.units = units
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, d.ComplaintRules]] = {}

    def __call__(self, tenant: str) -> d.ComplaintRules:
        base = d.rules_for(tenant)
        if self.units is None:
            return base
        province, now = str(tenant)[:2], time.monotonic()
        hit = self._cache.get(province)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        try:
            record = self.units.province(province)
        except Unavailable:
            if hit:
                return hit[1]
            raise
        rules = base if record is None else dataclasses.replace(base, working_days=record[0],
                                                                rectification_days=record[1])
        with self._lock:
            self._cache[province] = (now, rules)
        return rules

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()
