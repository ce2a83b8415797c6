"""The cashier's list of one status read in its order (issue 22 item 4): the page (most recently changed first:
updated_at DESC, case_number) followed cases_queue (tenant_code, status, updated_at), which gives updated_at but
not case_number in the page's direction, so PostgreSQL read every case sharing the 20th case's updated_at and
sorted them (an incremental sort: 236 rows for a page of 20 at 1,000,000 cases, where `make volume` gives a few
hundred cases each time). This index gives the page in order, stopping after its 20 rows, and serves the capped
count index-only as cases_queue did, which it replaces.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "fees"


def upgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS cases_by_status_change ON {S}.cases"
               " (tenant_code, status, updated_at DESC, case_number)")
    op.execute(f"DROP INDEX IF EXISTS {S}.cases_queue")


def downgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS cases_queue ON {S}.cases (tenant_code, status, updated_at)")
    op.execute(f"DROP INDEX IF EXISTS {S}.cases_by_status_change")
