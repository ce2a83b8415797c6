from typing import ClassVar

from pydantic import Field, field_validator

from services.complaints import signing
from shared.config import GrpcServiceSettings


class ComplaintsSettings(GrpcServiceSettings):
    """Settings of the complaints service (env prefix SANJI_, e.g. SANJI_COMPLAINTS_HOTLINE_PUBLIC_KEY).

    The 12345 hotline's public key is a secret without a default: a production process refuses to start without
    the deployment's own (and refuses the development key of this repository, which fills it only with
    SANJI_MODE=development: `make run`, tests)."""

    SECRETS: ClassVar[tuple[str, ...]] = (*GrpcServiceSettings.SECRETS, "complaints_hotline_public_key")
    DEV_DEFAULTS: ClassVar[dict[str, str]] = {**GrpcServiceSettings.DEV_DEFAULTS,
                                              "complaints_hotline_public_key": signing.DEV_HOTLINE_PUBLIC_KEY}

    grpc_port: int = 15056
    public_base_url: str = "http://127.0.0.1:8000"
    consumer_prefetch: int = 50
    # the catalogue holds the units (tenant tree): is the level above on the platform before an escalation
    catalogue_target: str = "127.0.0.1:15051"
    catalogue_timeout_seconds: float = 10.0
    complaints_hotline_public_key: str = ""
    # A hand-over's sent_at may differ from our clock by at most this much (a default, as the fees callback's:
    # five minutes covers NTP-synchronised clocks and refuses a replay of an old hand-over)
    complaints_hotline_clock_skew_seconds: int = Field(default=300, ge=0, le=86_400)

    @field_validator("complaints_hotline_public_key")
    @classmethod
    def _key_as_hex(cls, v: str) -> str:
        return (v or "").strip().lower()
