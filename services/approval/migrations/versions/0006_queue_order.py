"""A desk's queue read in index order (issue 22 item 4): the queue is ordered by the case's promised due
date, which lives on the case, so every page joined and sorted every open step of the desks (and counted
them all) — at a year of a county, thousands of rows for a page of 20. The steps not yet finished now carry
their case's promised_due (`due`, written with the case by services/approval/repository.py: _write and
apply_projections), and the open steps are indexed per desk and kind in the queue's order.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "approval"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.steps ADD COLUMN due date")
    # the steps already there, filled once by the owner (the tenant walls set aside for this statement only)
    op.execute(f"ALTER TABLE {S}.steps NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {S}.cases NO FORCE ROW LEVEL SECURITY")
    op.execute(f"UPDATE {S}.steps s SET due = c.promised_due FROM {S}.cases c"
               " WHERE c.id = s.case_id AND s.status IN ('waiting','open','claimed')")
    op.execute(f"ALTER TABLE {S}.cases FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {S}.steps FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE INDEX steps_queue_due ON {S}.steps (tenant_code, desk, kind, due, opened_at, id)"
               " WHERE status = 'open'")
    op.execute(f"DROP INDEX IF EXISTS {S}.steps_queue")


def downgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS steps_queue ON {S}.steps (tenant_code, desk, kind) WHERE status = 'open'")
    op.execute(f"DROP INDEX IF EXISTS {S}.steps_queue_due")
    op.execute(f"ALTER TABLE {S}.steps DROP COLUMN IF EXISTS due")
