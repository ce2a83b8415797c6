"""Which units this deployment holds (its tenant tree), as the complaints service needs to know it: whether the
level above a unit is on the platform at all, before a second 不满意 is escalated to it.

`UnitDirectory` is the port; `GrpcUnits` asks the catalogue's public `GetUnit` (the catalogue keeps the units
imported from the division data) over a `make_channel` channel. NOT_FOUND means the unit is not in the tree; any
other failure is the catalogue being unreachable, and the complainant's rating is answered 503 (retry), never
escalated to a guess.
"""

from __future__ import annotations

from typing import Protocol

import grpc
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.catalogue.v1 import catalogue_pb2_grpc

from shared.errors import Unavailable
from shared.grpc.client import make_channel


class UnitDirectory(Protocol):
    def exists(self, code: str) -> bool:
        """Whether `code` is a unit of this deployment's tenant tree."""
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

    def close(self) -> None:
        self._channel.close()
