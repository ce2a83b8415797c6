from shared.config import GrpcServiceSettings


class ApprovalSettings(GrpcServiceSettings):
    """Settings of the approval service (env prefix SANJI_, e.g. SANJI_GRPC_PORT, SANJI_FIXED_TODAY)."""

    grpc_port: int = 15054
    consumer_prefetch: int = 50
    calendar_cache_seconds: float = 60.0
