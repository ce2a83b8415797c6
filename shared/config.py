"""Typed settings. Each service declares one subclass, read once at start-up (its composition root).

Nothing else in the code base reads the environment.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    """What every process of the platform needs."""

    model_config = SettingsConfigDict(env_prefix="SANJI_", extra="ignore")

    # PostgreSQL: the application role does not own the tables (RLS applies to it).
    database_url: str = "postgresql+psycopg://sanji_app:sanji_app@127.0.0.1:5432/sanji"
    # the owner role runs migrations only
    database_owner_url: str = "postgresql+psycopg://sanji_owner:sanji_owner@127.0.0.1:5432/sanji"
    # connections kept open by one process; 0: sized to the process (a gRPC service: one per worker
    # thread plus four for its relay, consumers and sweeper; fewer than its threads, and every
    # checkout beyond them opens and closes a PostgreSQL backend of its own)
    db_pool_size: int = Field(default=0, ge=0)

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"

    # Identity: Keycloak (or the loopback OIDC provider with the same shape)
    oidc_server_url: str = "http://127.0.0.1:8090"
    oidc_realm: str = "sanji"
    oidc_audience: str = "sanji-platform"
    oidc_client_id: str = "sanji-console"
    jwks_min_refresh_seconds: float = 10.0
    # the realm's keys are fetched again at least this often (a withdrawn key stops being trusted)
    jwks_max_age_seconds: float = Field(default=300.0, gt=0)
    # the service's own (machine) identity, for work started by events
    machine_client_id: str = "sanji-services"
    # this service's own client secret (client `sanji-<service>`, client-credentials grant): the credential
    # it sends beside a person's token when it calls another service's internal methods
    service_client_secret: str = ""

    # Telemetry: none | console | otlp | jsonl:<path>
    otel_exporter: str = "none"
    otel_endpoint: str = "http://127.0.0.1:4317"

    # Province whose code formats and mapping tables apply (e.g. 62 Gansu, 51 Sichuan)
    province: str = "62"

    # The TrueType font embedded in printable documents: `path`, or `path#index` in a collection;
    # empty: AR PL UMing CN from Debian's fonts-arphic-uming where installed (shared.pdf)
    pdf_font: str = ""

    log_level: str = "INFO"

    # a drill or test deployment pins the date (SANJI_FIXED_TODAY=YYYY-MM-DD) for every process that
    # reads the platform `Clock`; empty: the system clock
    fixed_today: str = ""

    @property
    def oidc_issuer(self) -> str:
        return f"{self.oidc_server_url.rstrip('/')}/realms/{self.oidc_realm}"


BACKGROUND_CONNECTIONS = 4   # a service's outbox relay, event consumers and sweeper, beside its gRPC workers


class GrpcServiceSettings(PlatformSettings):
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 15051
    grpc_workers: int = Field(default=16, ge=1)
    relay_batch_size: int = 200
    relay_idle_seconds: float = 0.2

    @property
    def pool_size(self) -> int:
        return self.db_pool_size or self.grpc_workers + BACKGROUND_CONNECTIONS
