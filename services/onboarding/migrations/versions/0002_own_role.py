"""The onboarding service runs as a database role of its own (issue 23): `sanji_onboarding`, made by the bootstrap
(or the deployment's database administrator) with USAGE on this schema only, and its tables granted here, under
the same row-level security as for the application role. The onboarding process can so reach no other service's
table — the county's tree, desks, seals and the readiness check go to their owners over gRPC.
(0003 then takes the shared application role's grants on these tables away.)

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "onboarding"
ROLE = "sanji_onboarding"
TABLES = f"{S}.jobs, {S}.job_files, {S}.outbox, {S}.inbox"


def upgrade() -> None:
    op.execute(f"GRANT USAGE ON SCHEMA {S} TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLES} TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {S}.outbox_seq_seq TO {ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON {TABLES} FROM {ROLE}")
    op.execute(f"REVOKE ALL ON SEQUENCE {S}.outbox_seq_seq FROM {ROLE}")
