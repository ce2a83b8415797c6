from shared.config import GrpcServiceSettings


class CatalogueSettings(GrpcServiceSettings):
    """Settings of the catalogue service (env prefix SANJI_, e.g. SANJI_GRPC_PORT)."""

    grpc_port: int = 15051
    public_base_url: str = "http://127.0.0.1:8000"
