"""`outbound_delivered` holds delivered reports only, so that the pending ones are found by `outbound_pending` alone
(issue 22).

The delivery worker's pass (gateway/docking/repository.py due_heads) probes, for each pending report, its case's
first pending report. `outbound_delivered` (tenant_code, delivered_at) also matched `delivered_at IS NULL`, and on a
table not analyzed since its backlog grew (a new deployment, a province down for an hour, the lifecycle bench) the
planner took it for both the scan and each probe: every probe read every pending report of the county, a pass was
quadratic in the backlog. With 1,131 pending reports of one county: 250,381 buffers and 132 ms a pass, against 4,737
buffers and 3 ms through `outbound_pending`; the lifecycle bench spent 10 ms of PostgreSQL's time per lifecycle on it.
What reads this index asks for delivered reports only (a day's reports by delivered_at, for reconciliation and the
daily heads), which a range on delivered_at implies.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "docking"


def upgrade() -> None:
    op.execute(f"DROP INDEX {S}.outbound_delivered")
    op.execute(f"CREATE INDEX outbound_delivered ON {S}.outbound (tenant_code, delivered_at)"
               " WHERE delivered_at IS NOT NULL")


def downgrade() -> None:
    op.execute(f"DROP INDEX {S}.outbound_delivered")
    op.execute(f"CREATE INDEX outbound_delivered ON {S}.outbound (tenant_code, delivered_at)")
