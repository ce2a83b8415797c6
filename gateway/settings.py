"""Settings of the gateway (env prefix SANJI_).

Where each service is reached comes from shared/registry.py: one `<service>_target` field per row
(SANJI_INTAKE_TARGET …), defaulting to the service's local port, so a service added to the registry
is reachable from the gateway without an edit here.
"""

import ipaddress

from limits import parse_many
from pydantic import Field, create_model, field_validator

from shared import registry
from shared.config import PlatformSettings

_ServiceTargets = create_model(
    "_ServiceTargets",
    __base__=PlatformSettings,
    __doc__="Where the gateway reaches each registered service over gRPC.",
    **{spec.target_setting: (str, Field(spec.local_target, description=f"{spec.title} gRPC 地址"))
       for spec in registry.SERVICES},
)


class GatewaySettings(_ServiceTargets):
    """Settings of the gateway (env prefix SANJI_)."""

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    # the browser reaches the identity provider here (for the console login redirect)
    oidc_public_url: str = ""
    grpc_timeout_seconds: float = 15.0

    # Rate limits per client address on the routes anyone may call without logging in, in the `limits`
    # library's notation ("20/minute;200/hour": every part must hold). These are defaults chosen here, not
    # numbers from the seeds or the law; a province or deployment sets its own (SANJI_RATE_LIMIT_…).
    # - lookups that answer with a case's or a notice's state (progress, payment status): they are what an
    #   enumeration tries, so the tightest; a service hall's QR-code scans from one address stay well below
    rate_limit_lookup: str = "20/minute;200/hour"
    # - the public search, guides, unit tree, fee catalogue, home page, API document
    rate_limit_public: str = "120/minute"
    # - the provincial payment platform's callback (few servers, bursts when a batch of payments settles)
    rate_limit_callback: str = "600/minute"
    # - the console's login and callback
    rate_limit_login: str = "30/minute"
    # where the counts live: "memory://" counts per gateway process (with N replicas a client gets N times the
    # budget); a shared store, e.g. "redis://host:6379", counts once for all (the `limits` storage URIs)
    rate_limit_storage: str = "memory://"

    # The addresses (CIDR) of the reverse proxies in front of the gateway. Only a request that arrives from
    # one of them has its client address read from `forwarded_for_header` and its scheme from
    # X-Forwarded-Proto; empty (the default): the headers are ignored, the peer address is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    forwarded_for_header: str = "x-forwarded-for"

    @field_validator("rate_limit_lookup", "rate_limit_public", "rate_limit_callback", "rate_limit_login")
    @classmethod
    def _limits_parse(cls, value: str) -> str:
        parse_many(value)          # a limit the library cannot read stops the gateway at start-up
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(v.strip(), strict=False)) for v in value if v.strip()]
