"""The window's list read in index order (issue 22 item 4): at a year of a county the list read every
application of the tenant (a sequential scan, a sort and a count of all of them) for each page of 20. The
list (services/intake/repository.py list_for) is now two index-ordered scans — the tenant's own rows and the
rows it collected for a higher level (代收) — each stopping after the page, and its total is counted up to a
cap. These are the indexes those scans walk, in the list's order (received_at DESC, id): with or without a
status filter, and for the collecting window (which replaces 0005's applications_collect: the same leading
column, so the collect read policies still find their rows through it).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "intake"


def upgrade() -> None:
    op.execute(f"CREATE INDEX applications_window ON {S}.applications (tenant_code, received_at DESC, id)")
    op.execute(f"CREATE INDEX applications_window_status ON {S}.applications"
               " (tenant_code, status, received_at DESC, id)")
    op.execute(f"CREATE INDEX applications_collect_window ON {S}.applications (collect_tenant, received_at DESC, id)"
               " WHERE collect_tenant IS NOT NULL")
    op.execute(f"DROP INDEX IF EXISTS {S}.applications_collect")


def downgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS applications_collect ON {S}.applications (collect_tenant, received_at)"
               " WHERE collect_tenant IS NOT NULL")
    op.execute(f"DROP INDEX IF EXISTS {S}.applications_collect_window")
    op.execute(f"DROP INDEX IF EXISTS {S}.applications_window_status")
    op.execute(f"DROP INDEX IF EXISTS {S}.applications_window")
