from typing import ClassVar

from pydantic import Field, field_validator

from shared import hashchain
from shared.config import GrpcServiceSettings


class SupervisionSettings(GrpcServiceSettings):
    """Settings of the supervision service (env prefix SANJI_, e.g. SANJI_SUPERVISION_CHAIN_PRIVATE_KEY).

    The chain-head key pair (SM2) is a secret without a default: a production process refuses to start without
    its own pair and refuses this repository's development pair, which fills it only with SANJI_MODE=development."""

    SECRETS: ClassVar[tuple[str, ...]] = (*GrpcServiceSettings.SECRETS, "supervision_chain_private_key",
                                          "supervision_chain_public_key")
    DEV_DEFAULTS: ClassVar[dict[str, str]] = {**GrpcServiceSettings.DEV_DEFAULTS,
                                              "supervision_chain_private_key": hashchain.DEV_CHAIN_PRIVATE_KEY,
                                              "supervision_chain_public_key": hashchain.DEV_CHAIN_PUBLIC_KEY}

    grpc_port: int = 15057
    consumer_prefetch: int = 100
    # after an event arrives, how long the consumer keeps reading before it handles what came (issue 22): the read
    # model and the audit chain are off the case's path and the thresholds count in working days, so a tenth of a
    # second is nothing to a supervisor, and a run of events then costs one transaction and one ack instead of one
    # each. A default chosen here, not a rule; 0 handles each event as it comes
    consumer_linger_seconds: float = Field(default=0.1, ge=0, le=1)
    # the threshold sweep (cards by time, order escalation, the daily chain heads): how often it looks at the
    # `next_check_on` index; each round costs one indexed query when nothing is due
    sweep_interval_seconds: float = Field(default=2.0, gt=0)
    supervision_chain_private_key: str = ""
    supervision_chain_public_key: str = ""
    # public keys that signed earlier chain heads (a key rotated out still verifies its heads): comma-separated hex
    supervision_chain_previous_public_keys: str = ""
    # the province records at the catalogue: each province's warning / red-card thresholds (issue 23), asked
    # again after province_record_seconds (a default chosen here, as approval's and intake's)
    catalogue_target: str = "127.0.0.1:15051"
    catalogue_timeout_seconds: float = 10.0
    province_record_seconds: float = Field(default=60.0, gt=0)

    @field_validator("supervision_chain_private_key", "supervision_chain_public_key")
    @classmethod
    def _key_as_hex(cls, v: str) -> str:
        return (v or "").strip().lower()
