"""The cashier's list of every status read in its order (issue 22 item 4): with no status named, the list's page
(most recently changed first: updated_at DESC, case_number) had no index to follow — cases_queue leads with the
status — so PostgreSQL read and sorted every case of the tenant for each page: 608 ms at a year's volume
(970,000 cases, a parallel sequential scan of 32,000 blocks). This index gives the page in order, stopping after
its rows; a page filtered by status keeps cases_queue (replaced by cases_by_status_change in 0007).

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "fees"


def upgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS cases_by_change ON {S}.cases (tenant_code, updated_at DESC, case_number)")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {S}.cases_by_change")
