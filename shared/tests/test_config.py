"""Settings rules that are not plain defaults."""

from shared.config import BACKGROUND_CONNECTIONS, GrpcServiceSettings


def test_the_pool_holds_a_connection_for_every_thread_that_uses_one():
    assert GrpcServiceSettings(grpc_workers=16, db_pool_size=0).pool_size == 16 + BACKGROUND_CONNECTIONS
    assert GrpcServiceSettings(grpc_workers=4, db_pool_size=0).pool_size == 4 + BACKGROUND_CONNECTIONS
    assert GrpcServiceSettings(grpc_workers=16, db_pool_size=6).pool_size == 6     # an operator's choice wins


# -- development credentials only in development mode (issue 15, item 1) ------------------------------------
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from typing import ClassVar  # noqa: E402

import pytest  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from shared.config import DatabaseToolSettings, MigrationSettings  # noqa: E402

REAL = {"database_url": "postgresql+psycopg://sanji_app:s3cr3t-from-vault@db.internal:5432/sanji",
        "amqp_url": "amqps://sanji-intake:0th3r-s3cr3t@mq.internal:5671/sanji",
        "service_client_secret": "from-the-realm"}


class _WithKey(GrpcServiceSettings):
    SECRETS: ClassVar[tuple[str, ...]] = (*GrpcServiceSettings.SECRETS, "signing_key")
    DEV_DEFAULTS: ClassVar[dict[str, str]] = {"signing_key": "dev-key-in-the-repository"}
    signing_key: str = ""


def test_production_refuses_to_start_without_each_secret_and_names_it():
    with pytest.raises(ValidationError) as e:
        GrpcServiceSettings(mode="production")
    for name in ("SANJI_DATABASE_URL", "SANJI_AMQP_URL", "SANJI_SERVICE_CLIENT_SECRET"):
        assert name in str(e.value)
    with pytest.raises(ValidationError) as e:
        GrpcServiceSettings(mode="production", **{**REAL, "amqp_url": "amqp://guest:guest@127.0.0.1:5672/%2F"})
    assert "SANJI_AMQP_URL" in str(e.value) and "SANJI_DATABASE_URL" not in str(e.value)
    assert GrpcServiceSettings(mode="production", **REAL).amqp_url == REAL["amqp_url"]


def test_a_development_key_is_used_in_development_and_refused_in_production():
    assert _WithKey(mode="development").signing_key == "dev-key-in-the-repository"
    with pytest.raises(ValidationError, match="SANJI_SIGNING_KEY"):
        _WithKey(mode="production", **REAL)
    with pytest.raises(ValidationError, match="SANJI_SIGNING_KEY"):
        _WithKey(mode="production", **REAL, signing_key="dev-key-in-the-repository")
    assert _WithKey(mode="production", **REAL, signing_key="a-real-key").signing_key == "a-real-key"


def test_the_tools_need_only_their_own_secret():
    with pytest.raises(ValidationError, match="SANJI_DATABASE_OWNER_URL"):
        MigrationSettings(mode="production")
    with pytest.raises(ValidationError, match="SANJI_DATABASE_URL"):
        DatabaseToolSettings(mode="production")


def test_production_is_the_default_and_a_service_process_refuses_to_start_on_repository_credentials():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANJI_")}
    out = subprocess.run([sys.executable, "-m", "services.catalogue"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert "SANJI_DATABASE_URL" in out.stderr and "production" in out.stderr
