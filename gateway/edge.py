"""The gateway's one edge per app: who the caller is (the verified token, from the Authorization header
or the console's cookie; the client's address and whether it came over https, trusting a proxy's
forwarding headers only from the configured `trusted_proxies`) and one gRPC channel per service, at its
registry target setting.

Endpoints take `p: User` (the verified principal); routers reach services through gateway.rest.Backend,
which forwards `md(p)` (the caller's token) so each service checks the same person again.
"""

import ipaddress
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
        self._proxies = [ipaddress.ip_network(n) for n in settings.trusted_proxies]

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

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._proxies)

    def client_address(self, request: Request) -> str:
        """The client's address: the peer's, or, when the peer is a trusted proxy, the nearest address in
        its forwarding header that is not itself a trusted proxy (a client cannot pick its own by
        writing the header: the proxy appends what it saw, and we read from the right)."""
        peer = request.client.host if request.client else ""
        if not self._trusted(peer):
            return peer
        hops = [h.strip() for h in request.headers.get(self.settings.forwarded_for_header, "").split(",")]
        hops = [h for h in hops if h]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer

    def is_https(self, request: Request) -> bool:
        """Served over https: the public address says so, or the request came so (directly, or through a
        trusted proxy that says so in X-Forwarded-Proto)."""
        if self.settings.public_base_url.lower().startswith("https://") or request.url.scheme == "https":
            return True
        peer = request.client.host if request.client else ""
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return self._trusted(peer) and proto == "https"

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

