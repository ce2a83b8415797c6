"""A case's notices found by its number (issue 22 item 4): `notice_of_case` — run for every case of the
cashier's list and when a notice is issued — names the tenant and the case but no status, so the partial
index `notices_one_per_case` (live notices only) cannot serve it and PostgreSQL read every notice of the
table (a sequential scan: 18 ms with 20,000 cases, growing with the year's volume). This index serves it.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "fees"


def upgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS notices_case ON {S}.notices (tenant_code, case_number, issued_at)")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {S}.notices_case")
