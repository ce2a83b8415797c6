from pydantic import Field

from shared.config import GrpcServiceSettings


class IntakeSettings(GrpcServiceSettings):
    """Settings of the intake service (env prefix SANJI_, e.g. SANJI_GRPC_PORT)."""

    grpc_port: int = 15052
    catalogue_target: str = "127.0.0.1:15051"
    catalogue_timeout_seconds: float = 10.0
    # how long an answer of the catalogue (who handles an item for this unit) is reused; 0: ask every time
    catalogue_cache_seconds: float = Field(default=2.0, ge=0)
    # a province's record (the calendar region its units count on) is asked again after this many seconds
    # (a default chosen here, as approval's)
    province_record_seconds: float = Field(default=60.0, gt=0)
    public_base_url: str = "http://127.0.0.1:8000"
    # GB/T 39046: 办件编号 an..50; a province may configure another maximum
    case_number_max: int = 50
    # characters of the query code (查询码) given on acceptance: a default (services/intake/querycodes.py says
    # why 8); a province may require longer codes
    query_code_length: int = Field(default=8, ge=8, le=16)
    # the sweep for deemed acceptance and 容缺 expiry
    sweep_interval_seconds: float = 30.0
    # approval's events (decided, completed) in flight per consumer
    consumer_prefetch: int = 50
