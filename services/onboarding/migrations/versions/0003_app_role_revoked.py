"""The shared application role loses every grant on the onboarding schema (issue 23): the jobs hold a county's staff
list and, until the province's administrator takes them, its initial passwords, so only the onboarding process's
own role (`sanji_onboarding`, 0002) may read or write them — not any other service's process, whatever province it
is bound to. tests/test_walls.py walls these tables through that role.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "onboarding"
APP = "sanji_app"
TABLES = f"{S}.jobs, {S}.job_files, {S}.outbox, {S}.inbox"


def upgrade() -> None:
    op.execute(f"REVOKE ALL ON {TABLES} FROM {APP}")
    op.execute(f"REVOKE ALL ON SEQUENCE {S}.outbox_seq_seq FROM {APP}")
    op.execute(f"REVOKE ALL ON SCHEMA {S} FROM {APP}")


def downgrade() -> None:
    op.execute(f"GRANT USAGE ON SCHEMA {S} TO {APP}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLES} TO {APP}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {S}.outbox_seq_seq TO {APP}")
