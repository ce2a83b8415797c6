import re
from typing import ClassVar

from pydantic import Field, field_validator

from services.fees import signing
from shared.config import GrpcServiceSettings


class FeesSettings(GrpcServiceSettings):
    """Settings of the fees service (env prefix SANJI_, e.g. SANJI_GRPC_PORT, SANJI_FEES_RECEIPT_PRIVATE_KEY).

    The keys are secrets without a default: a production process refuses to start until the deployment
    gives the province's real public key and its own receipt key pair (and refuses the development keys of
    this repository, which fill them only with SANJI_MODE=development: `make run`, tests, the simulator)."""

    SECRETS: ClassVar[tuple[str, ...]] = (*GrpcServiceSettings.SECRETS, "fees_province_public_key",
                                          "fees_receipt_private_key", "fees_receipt_public_key")
    DEV_DEFAULTS: ClassVar[dict[str, str]] = {**GrpcServiceSettings.DEV_DEFAULTS,
                                              "fees_province_public_key": signing.DEV_PROVINCE_PUBLIC_KEY,
                                              "fees_receipt_private_key": signing.DEV_RECEIPT_PRIVATE_KEY,
                                              "fees_receipt_public_key": signing.DEV_RECEIPT_PUBLIC_KEY}

    grpc_port: int = 15055
    public_base_url: str = "http://127.0.0.1:8000"
    consumer_prefetch: int = 50
    # the provincial public payment platform signs its callbacks with this key's private half (SM2)
    fees_province_public_key: str = ""
    # several provinces in one deployment (issue 23): the payment platforms' public keys by key set name, as JSON
    # {"ningxia-pay": "<128 hex>", …}; a province's record at the catalogue names its set (payment_key_ref, set
    # by the province's administrator); a province without one signs with fees_province_public_key
    fees_payment_key_sets: dict[str, str] = Field(default_factory=dict)
    # how long a province's record (its key set name) is kept before it is asked again: a change at the
    # catalogue is counted on within this many seconds in every replica. A default chosen here (a key rotation
    # is planned with the province's platform; a minute keeps one GetProvince a minute per province)
    fees_province_record_seconds: float = Field(default=60.0, gt=0, le=3600)
    catalogue_target: str = "127.0.0.1:15051"
    catalogue_timeout_seconds: float = 10.0
    # the fees service countersigns receipts with this key pair (SM2)
    fees_receipt_private_key: str = ""
    fees_receipt_public_key: str = ""

    # A callback's paid_at may be ahead of our clock by at most this much (the province's clock and ours
    # differ a little), and no earlier than its notice's issue time less the same allowance. A default, not
    # a number of the seeds or the law: five minutes covers NTP-synchronised clocks; a province may widen it.
    fees_paid_at_clock_skew_seconds: int = Field(default=300, ge=0, le=86_400)
    # A refused callback stores at most this many bytes of its fields (the rest only as its length and
    # SHA-256) and at most this many refusals a minute are stored (the others are counted). Defaults chosen
    # here: 2 KB holds every field of a real callback; 60 a minute is far above any real rate of refusals
    # and keeps a flood without a login to about 180 KB a minute.
    fees_rejection_body_bytes: int = Field(default=2048, ge=256, le=65_536)
    fees_rejections_stored_per_minute: int = Field(default=60, ge=1, le=100_000)
    # the verification code (查验码) printed on a notice and in its QR code: the public status lookup needs
    # it beside the notice number. A default (31⁸ ≈ 8.5×10¹¹ codes per notice against the gateway's rate
    # limit); a province may print longer codes.
    fees_verification_code_length: int = Field(default=8, ge=8, le=16)

    @field_validator("fees_payment_key_sets")
    @classmethod
    def _key_sets(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [r for r in v if not re.match(r"^[A-Za-z0-9_.:-]{1,64}$", r)]
        if bad:
            raise ValueError(f"SANJI_FEES_PAYMENT_KEY_SETS names key sets by letters, digits and _.:-, not {bad}")
        return {r: (k or "").strip().lower() for r, k in v.items()}

    @field_validator("fees_province_public_key", "fees_receipt_private_key", "fees_receipt_public_key")
    @classmethod
    def _key_as_hex(cls, v: str) -> str:
        # one spelling of a key, so the development keys are recognised (and refused) however they are written
        return (v or "").strip().lower()
