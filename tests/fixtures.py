"""Shared integration fixtures (loaded by the root conftest): the real test database (migrated),
the loopback OIDC provider,
and the catalogue's gRPC server in this process with the platform's interceptor chain."""

from __future__ import annotations

import grpc
import pytest
from sanji.catalogue.v1 import catalogue_pb2_grpc

from infra import migrate
from infra.oidc.provider import ProviderServer
from services.catalogue.admin import import_units
from services.catalogue.handlers import CatalogueHandlers
from services.catalogue.service import registration
from services.catalogue.translate import EventsOut
from shared.auth import ServiceCredentials, TokenVerifier
from shared.db import Database
from tests.support import SERVICE_SECRETS, TEST_USERS, UNITS_CSV, Tokens, service_clients, serving


@pytest.fixture(scope="session")
def migrated(test_settings):
    migrate.migrate_all(test_settings.database_owner_url)
    import_units(test_settings.database_owner_url, UNITS_CSV)
    return test_settings


@pytest.fixture(scope="session")
def oidc():
    server = ProviderServer(TEST_USERS, service_clients=service_clients()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def service_credentials(oidc):
    """service_credentials("agency"): that service's own client credentials against the test provider, as
    its composition root makes them (ServiceCredentials.from_settings)."""
    made: dict[str, ServiceCredentials] = {}

    def of(name: str) -> ServiceCredentials:
        if name not in made:
            made[name] = ServiceCredentials(oidc.url, "sanji", name, SERVICE_SECRETS[name])
        return made[name]
    return of


@pytest.fixture(scope="session")
def tokens(oidc) -> Tokens:
    return Tokens(oidc.url)


@pytest.fixture(scope="session")
def verifier(oidc) -> TokenVerifier:
    return TokenVerifier(oidc.url, "sanji", audience="sanji-platform")


@pytest.fixture(scope="session")
def catalogue_db(migrated):
    db = Database.connect(migrated.database_url, schema="catalogue", pool_size=4)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def catalogue_server(catalogue_db, verifier):
    handlers = CatalogueHandlers(catalogue_db, events_out=EventsOut(), public_base_url="http://127.0.0.1:8000")
    with serving([registration(handlers)], verifier) as target:
        yield target


@pytest.fixture(scope="session")
def stub(catalogue_server):
    with grpc.insecure_channel(catalogue_server) as channel:
        yield catalogue_pb2_grpc.CatalogueServiceStub(channel)


# the real processes run on a pinned date (a drill deployment), moved forward by restarting intake
E2E_TODAY = "2026-09-30"


@pytest.fixture(scope="session")
def demo_platform(test_settings, tmp_path_factory):
    """The real processes (OIDC provider, every service, gateway) on free loopback ports, with their
    own database and vhost (their sweepers and consumers touch nothing of the other tests), loaded
    with the demo county's units, users and catalogue through the public APIs."""
    import json

    from conftest import TEST_DB, TEST_VHOST
    from infra.demo.load import DIVISIONS, load_approval_setup, load_catalogue, load_demo_users
    from infra.local import bootstrap
    from infra.local.platform import Platform, Ports
    from shared.config import PlatformSettings

    db, vhost = f"{TEST_DB}_e2e", f"{TEST_VHOST}_e2e"
    bootstrap.main(["--database", db, "--vhost", vhost, "--recreate"])
    settings = PlatformSettings(
        database_url=f"postgresql+psycopg://sanji_app:sanji_app@127.0.0.1:5432/{db}",
        database_owner_url=f"postgresql+psycopg://sanji_owner:sanji_owner@127.0.0.1:5432/{db}",
        amqp_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}")
    migrate.migrate_all(settings.database_owner_url)
    import_units(settings.database_owner_url, DIVISIONS.read_text(encoding="utf-8"))
    from services.fees.demo import load_demo_fees

    load_demo_fees(settings.database_owner_url)
    run_dir = tmp_path_factory.mktemp("platform")
    from tests.faults.tenants import matrix_users

    users = load_demo_users() + matrix_users()     # the tenant matrix's attackers beside the demo's staff
    users_file = run_dir / "users.json"
    users_file.write_text(json.dumps(users, ensure_ascii=False), encoding="utf-8")
    platform = Platform(
        run_dir=run_dir, ports=Ports.free(),
        env={"SANJI_DATABASE_URL": settings.database_url, "SANJI_DATABASE_OWNER_URL": settings.database_owner_url,
             "SANJI_AMQP_URL": settings.amqp_url, "SANJI_OTEL_EXPORTER": f"jsonl:{run_dir}/spans-{{service}}.jsonl",
             "SANJI_FIXED_TODAY": E2E_TODAY, "SANJI_SWEEP_INTERVAL_SECONDS": "0.5",
             # every end-to-end test calls from the one loopback address: in random order their public lookups
             # (progress, ratings, complaint follow-ups) together passed the 20 a minute one client may make;
             # the limiter itself is tested in gateway/tests/test_ratelimit.py
             "SANJI_RATE_LIMIT_LOOKUP": "600/minute",
             # and the browser tests' staff all log in from it: a login is two requests on the login budget (the
             # login and the callback), and the suite's logins passed the 30 a minute (15 people), the last
             # one's callback answered 429
             "SANJI_RATE_LIMIT_LOGIN": "600/minute"})
    try:
        platform.start_oidc(users_file)
        platform.start_services()
        platform.start_gateway()
        platform.settings = settings
        platform.users = users
        platform.summary = load_catalogue(platform.catalogue_target, platform.oidc_url, users)
        platform.approval_setup = load_approval_setup(platform.target("approval"), platform.oidc_url, users)
        yield platform
    finally:
        platform.stop()
