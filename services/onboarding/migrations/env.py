"""Alembic environment of the onboarding schema (run as the owner role)."""

from shared.db import run_alembic_environment

run_alembic_environment("onboarding")
