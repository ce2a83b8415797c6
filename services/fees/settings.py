from services.fees import signing
from shared.config import GrpcServiceSettings


class FeesSettings(GrpcServiceSettings):
    """Settings of the fees service (env prefix SANJI_, e.g. SANJI_GRPC_PORT, SANJI_FEES_RECEIPT_PRIVATE_KEY).

    The keys default to the development keys (loopback runs and the provincial platform simulator);
    a deployment sets the province's real public key and its own receipt key pair."""

    grpc_port: int = 15055
    public_base_url: str = "http://127.0.0.1:8000"
    consumer_prefetch: int = 50
    # the provincial public payment platform signs its callbacks with this key's private half (SM2)
    fees_province_public_key: str = signing.DEV_PROVINCE_PUBLIC_KEY
    # the fees service countersigns receipts with this key pair (SM2)
    fees_receipt_private_key: str = signing.DEV_RECEIPT_PRIVATE_KEY
    fees_receipt_public_key: str = signing.DEV_RECEIPT_PUBLIC_KEY
