from shared.config import GrpcServiceSettings


class AgencySettings(GrpcServiceSettings):
    """Settings of the agency service (env prefix SANJI_, e.g. SANJI_INTAKE_TARGET)."""

    grpc_port: int = 15053
    catalogue_target: str = "127.0.0.1:15051"
    intake_target: str = "127.0.0.1:15052"
    downstream_timeout_seconds: float = 15.0
    consumer_prefetch: int = 50
