"""The window's list counts its rows from the index alone (issue 22 item 4).

The list's capped count (up to 1,001 rows) read the rows themselves, because the read policy (RLS) looks at
columns applications_window did not hold: tenant_code, collect_tenant, case_number, query_code_hash and
applicant_id_number. At a year of a county the 1,001 newest applications sit on ~1,000 different table pages
(or, for the county itself, PostgreSQL scanned the table until it had found them). The two window indexes now
carry those columns (INCLUDE), and the count follows the index's order (services/intake/repository.py list_for):
an index-only scan of a dozen pages, for the county as for a township with a handful of applications. Those
columns change only when the status does (the case number and the query code's digest at acceptance), and the
status is already a key of applications_window_status: no update that was HOT before stops being HOT.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "intake"
POLICY_COLUMNS = "collect_tenant, case_number, query_code_hash, applicant_id_number"


def upgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {S}.applications_window")
    op.execute(f"CREATE INDEX applications_window ON {S}.applications (tenant_code, received_at DESC, id)"
               f" INCLUDE ({POLICY_COLUMNS})")
    op.execute(f"DROP INDEX IF EXISTS {S}.applications_window_status")
    op.execute(f"CREATE INDEX applications_window_status ON {S}.applications"
               f" (tenant_code, status, received_at DESC, id) INCLUDE ({POLICY_COLUMNS})")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {S}.applications_window_status")
    op.execute(f"CREATE INDEX applications_window_status ON {S}.applications"
               " (tenant_code, status, received_at DESC, id)")
    op.execute(f"DROP INDEX IF EXISTS {S}.applications_window")
    op.execute(f"CREATE INDEX applications_window ON {S}.applications (tenant_code, received_at DESC, id)")
