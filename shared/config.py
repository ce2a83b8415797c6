"""Typed settings. Each service declares one subclass, read once at start-up (its composition root).

Nothing else in the code base reads the environment.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT, PRODUCTION = "development", "production"
# credentials that live in this repository: a deployment that still holds one of them is refused
DEV_CREDENTIALS = ("sanji_app:sanji_app@", "sanji_owner:sanji_owner@", "guest:guest@", ":sanji-dev-broker@",
                   "CHANGE-ME")


class MissingSecret(ValueError):
    """A production process without a real value for a secret setting (named as its SANJI_ variable)."""


class PlatformSettings(BaseSettings):
    """What every process of the platform needs."""

    model_config = SettingsConfigDict(env_prefix="SANJI_", extra="ignore")

    # development: `make run`, tests and benches on loopback, with the repository's development credentials
    # and keys. production (the default, so nothing runs on them by accident): every setting in SECRETS must
    # be given, and none may be a credential that lives in this repository.
    mode: Literal["development", "production"] = PRODUCTION
    # the secret settings this process needs (each settings class names its own; the gateway needs none of
    # the database's or the broker's)
    SECRETS: ClassVar[tuple[str, ...]] = ()
    # development values of secrets without a usable default (a key pair a deployment must replace)
    DEV_DEFAULTS: ClassVar[dict[str, str]] = {}

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

    # No deployment-wide province: one deployment serves several provinces, and the province whose code
    # formats, mapping tables and calendar apply is each tenant's own (the first two digits of its code).

    # The TrueType font embedded in printable documents: `path`, or `path#index` in a collection;
    # empty: AR PL UMing CN from Debian's fonts-arphic-uming where installed (shared.pdf)
    pdf_font: str = ""

    log_level: str = "INFO"

    # a drill or test deployment pins the date (SANJI_FIXED_TODAY=YYYY-MM-DD) for every process that
    # reads the platform `Clock`; empty: the system clock
    fixed_today: str = ""

    @model_validator(mode="after")
    def _secrets_are_real(self):
        if self.mode == DEVELOPMENT:
            for name, value in self.DEV_DEFAULTS.items():
                if not getattr(self, name):
                    setattr(self, name, value)
            return self
        missing = [name for name in self.SECRETS
                   if name not in self.model_fields_set or not str(getattr(self, name) or "").strip()
                   or any(dev in str(getattr(self, name)) for dev in DEV_CREDENTIALS)
                   or str(getattr(self, name)) in self.DEV_DEFAULTS.values()]
        if missing:
            names = "、".join(f"SANJI_{n.upper()}" for n in missing)
            raise MissingSecret(f"refusing to start in production mode without real values for: {names}"
                                " (development credentials and keys are only for SANJI_MODE=development)")
        return self

    @property
    def oidc_issuer(self) -> str:
        return f"{self.oidc_server_url.rstrip('/')}/realms/{self.oidc_realm}"


BACKGROUND_CONNECTIONS = 4   # a service's outbox relay, event consumers and sweeper, beside its gRPC workers


class GrpcServiceSettings(PlatformSettings):
    SECRETS: ClassVar[tuple[str, ...]] = ("database_url", "amqp_url", "service_client_secret")

    grpc_host: str = "127.0.0.1"
    grpc_port: int = 15051
    grpc_workers: int = Field(default=16, ge=1)
    relay_batch_size: int = 200
    # the broker's topology is declared from the registry before services run (bootstrap, the migration Job):
    # a service's consumer only checks its queues, and takes an event only from its source's broker user
    amqp_passive_topology: bool = True
    amqp_verify_publishers: bool = True
    relay_idle_seconds: float = 0.2

    @property
    def pool_size(self) -> int:
        return self.db_pool_size or self.grpc_workers + BACKGROUND_CONNECTIONS


class DatabaseToolSettings(PlatformSettings):
    """A command that works on the database as the application role (e.g. a catalogue import)."""

    SECRETS: ClassVar[tuple[str, ...]] = ("database_url",)


class MigrationSettings(PlatformSettings):
    """The migration job: the only process that holds the owner's credentials (and, to declare the broker's
    topology, its administrator's)."""

    SECRETS: ClassVar[tuple[str, ...]] = ("database_owner_url",)
    amqp_admin_url: str = ""
