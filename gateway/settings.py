"""Settings of the gateway (env prefix SANJI_).

Where each service is reached comes from shared/registry.py: one `<service>_target` field per row
(SANJI_INTAKE_TARGET …), defaulting to the service's local port, so a service added to the registry
is reachable from the gateway without an edit here.
"""

from pydantic import Field, create_model

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
