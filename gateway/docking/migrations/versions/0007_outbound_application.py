"""A report of an application without its case number (补正) consumed after the application's acceptance joins
the case's queue (issue 18): docking finds the case's key from the report that tied the application to its case
number (the acceptance, the hand-out) by the application id (gateway/docking/repository.py
case_key_of_application). The reports are kept, so that lookup needs an index, and on a column: row-level
security keeps a condition on `body->>'application_id'` (jsonb's operator is not leakproof) out of an index
condition. `linked_application`: the application id of a report that names both it and its case number, else ''.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "docking"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.outbound ADD COLUMN linked_application text NOT NULL DEFAULT ''")
    op.execute(f"UPDATE {S}.outbound SET linked_application = body->>'application_id'"
               " WHERE coalesce(body->>'application_id', '') <> '' AND coalesce(body->>'case_number', '') <> ''")
    op.execute(f"CREATE INDEX outbound_application ON {S}.outbound (tenant_code, linked_application, seq)"
               " WHERE linked_application <> ''")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {S}.outbound_application")
    op.execute(f"ALTER TABLE {S}.outbound DROP COLUMN linked_application")
