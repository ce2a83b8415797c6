from typing import ClassVar

from pydantic import Field, field_validator

from shared.config import GrpcServiceSettings

# Development keys (loopback runs, tests, the provincial platform simulator). Refused in production.
# The docking gateway's own pair: it signs every message to the province and the daily heads of its log.
DEV_DOCKING_PRIVATE_KEY = "e020e2c8914579cfd4214d802ed6472625411370ca1c3836910d06331536420b"
DEV_DOCKING_PUBLIC_KEY = ("cdd31ba4779a1ebbc6d6581e46c65ee1f72e6513535b138c7ee7f259717371b3"
                          "70887514133ec12e683eb46ee9ec0d73c371ff258a941778901d1d05cf742ae8")
# The simulated province's pair (the same one its payment platform signs fees callbacks with:
# services/fees/signing.py): only infra/province holds the private half.
DEV_PROVINCE_PRIVATE_KEY = "b3a5c7bcd7634efac3cdb84d4f73474a7865b153940eedb667baad5ec25ab3d8"
DEV_PROVINCE_PUBLIC_KEY = ("2046d44b6d798bd41ed59fff40990925cc2bc7acf970c38cebfd1696ae37c6d0"
                           "283864846ca4f6ce2331f868c304b01679da6fd8d7f4f42c85da049cef4b4cd0")


def parse_province_keys(value: str) -> dict[str, str]:
    """`62:<public key hex>;51:<…>` → {'62': '…', '51': '…'} (a province's two-digit code, its public key)."""
    out: dict[str, str] = {}
    for part in (value or "").replace(",", ";").split(";"):
        if not part.strip():
            continue
        code, _, key = part.strip().partition(":")
        if len(code) != 2 or not code.isdigit() or len(key) != 128:
            raise ValueError("SANJI_DOCKING_PROVINCE_KEYS: '<省代码>:<128 位十六进制公钥>'，多个以分号分隔")
        out[code] = key.lower()
    return out


class DockingSettings(GrpcServiceSettings):
    """Settings of the docking gateway (env prefix SANJI_, e.g. SANJI_DOCKING_PROVINCE_URL).

    The keys are secrets without a default: a production process refuses to start until the deployment gives
    its own SM2 key pair and each province's public key (the development keys of this repository fill them
    only with SANJI_MODE=development)."""

    SECRETS: ClassVar[tuple[str, ...]] = (*GrpcServiceSettings.SECRETS, "docking_private_key", "docking_public_key",
                                          "docking_province_keys")
    DEV_DEFAULTS: ClassVar[dict[str, str]] = {**GrpcServiceSettings.DEV_DEFAULTS,
                                              "docking_private_key": DEV_DOCKING_PRIVATE_KEY,
                                              "docking_public_key": DEV_DOCKING_PUBLIC_KEY,
                                              "docking_province_keys": f"62:{DEV_PROVINCE_PUBLIC_KEY}"}

    grpc_port: int = 15058
    catalogue_target: str = "127.0.0.1:15051"
    intake_target: str = "127.0.0.1:15052"
    fees_target: str = "127.0.0.1:15055"
    downstream_timeout_seconds: float = 15.0
    consumer_prefetch: int = 50
    # after a case event arrives, how long the consumer keeps reading before it handles what came (issue 22): the
    # reports wait for the delivery worker's pass anyway (every docking_delivery_interval_seconds), so a tenth of a
    # second here costs the province nothing and takes a run of events in one transaction and one ack. A default
    # chosen here, not a rule; 0 handles each event as it comes
    consumer_linger_seconds: float = Field(default=0.1, ge=0, le=1)

    # where the provincial platform takes reports (the simulator on loopback in development)
    docking_province_url: str = "http://127.0.0.1:15090"
    docking_private_key: str = ""
    docking_public_key: str = ""
    # each province's public key: `62:<hex>;51:<hex>`
    docking_province_keys: str = ""
    # the delivery worker: how often it looks for due reports, how many per county per pass, the HTTP timeout.
    # Defaults chosen here, not numbers of the seeds.
    docking_delivery_interval_seconds: float = Field(default=0.5, gt=0)
    docking_delivery_batch: int = Field(default=200, ge=1, le=10_000)
    docking_http_timeout_seconds: float = Field(default=5.0, gt=0)
    docking_backoff_first_seconds: float = Field(default=1.0, gt=0)
    docking_backoff_max_seconds: float = Field(default=300.0, gt=0)
    # a case's next report waits this long after docking queued it, so that an earlier event of the case the
    # consumer is still retrying (after 1 s, then 5 s) takes its place before it: the province applies a case's
    # reports as status transitions, in order. A default (gateway/docking/domain.py SETTLE), not a seed's number.
    docking_settle_seconds: float = Field(default=8.0, ge=0, le=3600)
    # refused province messages stored a minute (the rest counted only): a default, fees' figure for its
    # refused payment callbacks
    docking_refusals_stored_per_minute: int = Field(default=60, ge=1, le=100_000)

    @field_validator("docking_private_key", "docking_public_key", "docking_province_keys")
    @classmethod
    def _lower(cls, v: str) -> str:
        return (v or "").strip().lower()

    @property
    def province_keys(self) -> dict[str, str]:
        return parse_province_keys(self.docking_province_keys)
