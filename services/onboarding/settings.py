from typing import ClassVar

from pydantic import Field

from shared.config import GrpcServiceSettings


class OnboardingSettings(GrpcServiceSettings):
    """Settings of the onboarding service (env prefix SANJI_). Beside every service's secrets it holds the identity
    provider's administrator client (realm-management's realm-admin role): the only process that does — the
    gateway holds no credentials (issue 15) and forwards the province administrator's request here."""

    SECRETS: ClassVar[tuple[str, ...]] = (*GrpcServiceSettings.SECRETS, "idp_admin_client_secret")

    grpc_port: int = 15059
    idp_admin_client_id: str = "sanji-admin"
    idp_admin_client_secret: str = ""
    # the owners it asks, on its own service credential, to set up a new unit's back office and to say what a county
    # still lacks (approval, fees, catalogue: their internal methods; it reads and writes no table of theirs)
    approval_target: str = "127.0.0.1:15054"
    fees_target: str = "127.0.0.1:15055"
    catalogue_target: str = "127.0.0.1:15051"
    downstream_timeout_seconds: float = Field(default=30.0, gt=0)
    # how often the worker looks for a queued job (one indexed query when none waits)
    job_poll_seconds: float = Field(default=1.0, gt=0)
