from shared.config import PlatformSettings


class GatewaySettings(PlatformSettings):
    """Settings of the gateway (env prefix SANJI_)."""

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    catalogue_target: str = "127.0.0.1:15051"
    intake_target: str = "127.0.0.1:15052"
    agency_target: str = "127.0.0.1:15053"
    approval_target: str = "127.0.0.1:15054"
    fees_target: str = "127.0.0.1:15055"
    public_base_url: str = "http://127.0.0.1:8000"
    # the browser reaches the identity provider here (for the console login redirect)
    oidc_public_url: str = ""
    grpc_timeout_seconds: float = 15.0
