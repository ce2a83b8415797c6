"""Test infrastructure shared by every test: a fresh database and AMQP virtual host per run.

Tests talk to the real PostgreSQL and RabbitMQ on loopback (`make test` starts them when missing).
The run uses its own database (sanji_test) and vhost (sanji_test) so it never touches `make run`'s.
"""

from __future__ import annotations

import os
import socket

import pytest

from infra.local import bootstrap
from shared.config import PlatformSettings

# tests run on loopback with the repository's development credentials and keys (shared.config: production,
# the default, refuses them); set before any settings object is made
os.environ["SANJI_MODE"] = "development"
TEST_DB = os.environ.get("SANJI_TEST_DATABASE", "sanji_test")
TEST_VHOST = os.environ.get("SANJI_TEST_VHOST", "sanji_test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def test_settings() -> PlatformSettings:
    """Settings pointing at this run's own database and vhost (created fresh)."""
    # the in-process tests declare their consumers' queues themselves (some with short retry delays); the
    # end-to-end platform bootstraps a vhost of its own with the registry's whole topology
    bootstrap.main(["--database", TEST_DB, "--vhost", TEST_VHOST, "--recreate", "--no-topology"])
    return PlatformSettings(
        database_url=f"postgresql+psycopg://sanji_app:sanji_app@127.0.0.1:5432/{TEST_DB}",
        database_owner_url=f"postgresql+psycopg://sanji_owner:sanji_owner@127.0.0.1:5432/{TEST_DB}",
        amqp_url=f"amqp://guest:guest@127.0.0.1:5672/{TEST_VHOST}",
    )


pytest_plugins = ["tests.fixtures"]
