"""The case list read in index order with a capped count (issue 22 item 4, found by the lists session): at a
year of a county (1,000,000 cases) the unfiltered list sorted every case of the county on disk and counted them
all for each page, 1.8 s a call. These indexes hold the list's order (promised due date, then when the case
opened, then its id) for the whole county and for one status; the count stops at the list's cap
(repository.CASES_TOTAL_CAP).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "approval"


def upgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS cases_list ON {S}.cases (tenant_code, promised_due, opened_at, id)")
    op.execute(f"CREATE INDEX IF NOT EXISTS cases_list_status ON {S}.cases"
               " (tenant_code, status, promised_due, opened_at, id)")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {S}.cases_list_status")
    op.execute(f"DROP INDEX IF EXISTS {S}.cases_list")
