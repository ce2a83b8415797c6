"""The catalogue as intake sees it: "which unit handles this item, taken in here, under which version".

`CatalogueClient` is the port; `GrpcCatalogue` asks the catalogue service's `ResolveHandlingUnit`
over a `make_channel` channel, which forwards the calling user's token (the catalogue checks the
same person's list: 清单之外无许可). Catalogue errors become intake errors naming intake's fields.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import grpc
from google.protobuf import json_format
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.catalogue.v1 import catalogue_pb2_grpc

from services.intake.items import ItemSnapshot
from shared.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Unauthenticated, Unavailable
from shared.grpc.client import make_channel
from shared.grpc.server import FIELD_KEY


@dataclass(frozen=True)
class Resolution:
    handling_tenant: str
    handling_unit_name: str
    proxy: bool
    item: ItemSnapshot
    collect: bool = False          # 代收: the caller's window takes it in on the deciding unit's behalf


class CatalogueClient(Protocol):
    def resolve(self, item_id: str, version: int = 0, *, tenant: str) -> Resolution:
        """Who handles `item_id` (at `version`, 0: the current one) when `tenant`, the caller's unit, takes
        it in. The caller's token, forwarded, is what the catalogue checks; `tenant` names it for caches."""
        ...

    def resolve_public(self, item_id: str, *, unit: str) -> Resolution:
        """Who handles `item_id` (its current published version) when `unit` takes it in with no person of the
        platform behind the call (an online application, 委托收件): from the catalogue's public methods."""
        ...


def snapshot_of(item: cpb.Item) -> ItemSnapshot:
    d = json_format.MessageToDict(item.elements, preserving_proto_field_name=True)
    d.update({"id": item.id, "version": item.version, "tenant": item.tenant})
    return ItemSnapshot.from_dict(d)


class GrpcCatalogue:
    def __init__(self, target: str, *, timeout: float = 10.0):
        self._channel = make_channel(target)
        self._stub = catalogue_pb2_grpc.CatalogueServiceStub(self._channel)
        self._timeout = timeout

    def resolve(self, item_id: str, version: int = 0, *, tenant: str = "") -> Resolution:
        try:
            r = self._stub.ResolveHandlingUnit(cpb.ResolveHandlingUnitRequest(item_id=item_id, version=version),
                                               timeout=self._timeout)
        except grpc.RpcError as exc:
            raise _translate(exc) from None
        return Resolution(handling_tenant=r.handling_tenant, handling_unit_name=r.handling_unit_name or
                          r.handling_tenant, proxy=r.proxy, item=snapshot_of(r.item), collect=r.collect)

    def resolve_public(self, item_id: str, *, unit: str) -> Resolution:
        """Who handles the item (as the public sees it: its current published version) taken in at `unit`: for
        an application with no person of the platform behind it (online, forwarded by the docking gateway),
        checked on the catalogue's public methods only — the listings, as the unit's own window would see them."""
        try:
            r = self._stub.ResolveHandlingUnitAt(cpb.ResolveHandlingUnitAtRequest(item_id=item_id, unit=unit),
                                                 timeout=self._timeout)
        except grpc.RpcError as exc:
            raise _translate(exc) from None
        return Resolution(handling_tenant=r.handling_tenant, handling_unit_name=r.handling_unit_name or
                          r.handling_tenant, proxy=r.proxy, item=snapshot_of(r.item), collect=r.collect)

    def close(self) -> None:
        self._channel.close()


class CachedCatalogue:
    """A few seconds of memory in front of the catalogue: a window taking in a queue of applications for
    the same items asks once per item and unit, not once per application.

    Only answers are kept, never refusals, each for `ttl` seconds: an item cancelled, adjusted or taken
    off a unit's list is refused here at most `ttl` seconds later — the bound the catalogue's own replicas
    already keep between them (`VersionCache.current_ttl`). Keys are (caller's unit, item, version): one
    unit's answer is never given to another."""

    def __init__(self, inner: CatalogueClient, *, ttl: float = 2.0, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self._inner = inner
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str, int], tuple[float, Resolution]] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(self, item_id: str, version: int = 0, *, tenant: str) -> Resolution:
        key = (tenant, item_id, version)
        now = self._clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                self._entries.move_to_end(key)
                return hit[1]
        answer = self._inner.resolve(item_id, version, tenant=tenant)     # refusals raise: nothing is kept
        with self._lock:
            self._entries[key] = (now + self._ttl, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return answer

    def resolve_public(self, item_id: str, *, unit: str) -> Resolution:
        return self._inner.resolve_public(item_id, unit=unit)     # rare (online applications): not kept

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def _translate(exc: grpc.RpcError) -> Exception:
    code = exc.code()
    details = exc.details() or ""
    field = dict(exc.trailing_metadata() or ()).get(FIELD_KEY, "")
    if code == grpc.StatusCode.NOT_FOUND:
        return InvalidArgument("item_id", "事项不存在或不在本单位可办理的清单中（清单之外无许可）")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidArgument("item_version" if field == "version" else "item_id", details)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return FailedPrecondition(details, field="item_id")
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return PermissionDenied(details)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return Unauthenticated(details or "未登录或登录已失效，请重新登录")
    return Unavailable("事项目录服务暂不可用，请稍后重试")
