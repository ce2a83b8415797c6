from shared.config import GrpcServiceSettings


class ApprovalSettings(GrpcServiceSettings):
    """Settings of the approval service (env prefix SANJI_, e.g. SANJI_GRPC_PORT, SANJI_FIXED_TODAY)."""

    grpc_port: int = 15054
    consumer_prefetch: int = 50
    calendar_cache_seconds: float = 60.0
    # the province records (issue 23): which region's published years a province's units count on
    catalogue_target: str = "127.0.0.1:15051"
    catalogue_timeout_seconds: float = 10.0
    # a province's record is asked again after this many seconds (a default chosen here, like the calendar's)
    province_record_seconds: float = 60.0
