"""The gateway's one edge per app: who the caller is (the verified token, from the Authorization header
or the console's cookie) and one gRPC channel per service, at its registry target setting.

Endpoints take `p: User` (the verified principal); routers reach services through gateway.rest.Backend,
which forwards `md(p)` (the caller's token) so each service checks the same person again.
"""

from typing import Annotated

import grpc
from fastapi import Depends, Request

from shared import registry
from shared.auth import TokenVerifier
from shared.errors import Unauthenticated
from shared.grpc.client import bearer, make_channel
from shared.tenancy import Principal

COOKIE = "sanji_session"


class Edge:
    def __init__(self, settings, verifier: TokenVerifier):
        self.settings = settings
        self.verifier = verifier
        self.timeout = settings.grpc_timeout_seconds
        self._channels: dict[str, grpc.Channel] = {}
        self._stubs: dict[tuple[str, type], object] = {}

    def target(self, service: str) -> str:
        return getattr(self.settings, registry.spec(service).target_setting)

    def stub(self, service: str, stub_cls: type):
        key = (service, stub_cls)
        if key not in self._stubs:
            if service not in self._channels:
                self._channels[service] = make_channel(self.target(service))
            self._stubs[key] = stub_cls(self._channels[service])
        return self._stubs[key]

    def token_of(self, request: Request) -> str:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.cookies.get(COOKIE, "")

    def authenticate(self, request: Request) -> Principal:
        token = self.token_of(request)
        if not token:
            raise Unauthenticated("未登录或登录已失效，请重新登录")
        return self.verifier.verify(token)

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()


def edge_of(request: Request) -> Edge:
    return request.app.state.edge


def current_user(request: Request) -> Principal:
    return edge_of(request).authenticate(request)


User = Annotated[Principal, Depends(current_user)]


def md(p: Principal) -> tuple[tuple[str, str], ...]:
    return bearer(p.token)

