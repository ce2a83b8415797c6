"""`GrpcProvinces`: the province records (shared/provinces.py) from the catalogue's public `GetProvince`, over a
`make_channel` channel. NOT_FOUND is a province without a record (None: the service's defaults hold); any other
failure is the catalogue being unreachable (`Unavailable`, never a guess)."""

from __future__ import annotations

import grpc
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.catalogue.v1 import catalogue_pb2_grpc

from shared.errors import Unavailable
from shared.grpc.client import make_channel
from shared.provinces import ProvinceRef

UNREACHABLE = "省级配置（事项目录服务）暂时无法访问，请稍后再试"


def _ref(r: cpb.Province) -> ProvinceRef:
    return ProvinceRef(tenant_code=r.tenant_code, calendar_region=r.calendar_region, payment_key_ref=r.payment_key_ref,
                       supervision_thresholds=dict(r.supervision_thresholds))


class GrpcProvinces:
    def __init__(self, target: str, *, timeout: float = 10.0):
        self._channel = make_channel(target)
        self._stub = catalogue_pb2_grpc.CatalogueServiceStub(self._channel)
        self._timeout = timeout

    def province(self, code: str) -> ProvinceRef | None:
        try:
            r = self._stub.GetProvince(cpb.GetProvinceRequest(tenant_code=code), timeout=self._timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable(UNREACHABLE) from None
        return _ref(r)

    def provinces(self) -> list[ProvinceRef]:
        try:
            return [_ref(r) for r in self._stub.ListProvinces(cpb.ListProvincesRequest(),
                                                              timeout=self._timeout).provinces]
        except grpc.RpcError:
            raise Unavailable(UNREACHABLE) from None

    def close(self) -> None:
        self._channel.close()
