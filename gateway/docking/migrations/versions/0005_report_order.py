"""A case's reports in the case's order (issue 18): the province applies them as status transitions, but
docking sent them in the order it consumed their events, and the events come from several queues — one retried
by the consumer let the next overtake it (e.g. 办结 before 决定).

`outbound` keeps each report's order key: `stage`, its place in the case's lifecycle (gateway/docking/domain.py
REPORT_STAGES), and `event_at`, its event's own time. The sender takes a case's head by (stage, event_at, seq);
the pending index follows that order. Reports queued before this revision get their stage from their type (the
table as it stands here) and their queueing time as their event's.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "docking"
# domain.REPORT_STAGES as this revision was written (a migration keeps its own copy)
_STAGES = {"application_forwarded": 10, "application_not_taken": 10, "correction_requested": 20,
           "application_accepted": 30, "application_rejected": 30, "clock_suspended": 40, "clock_resumed": 40,
           "case_decided": 50, "fees_settled": 60, "case_completed": 70, "result_picked_up": 80,
           "rating_submitted": 90}


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.outbound ADD COLUMN stage smallint NOT NULL DEFAULT 0")
    op.execute(f"ALTER TABLE {S}.outbound ADD COLUMN event_at timestamptz")
    cases = " ".join(f"WHEN '{t}' THEN {n}" for t, n in _STAGES.items())
    op.execute(f"UPDATE {S}.outbound SET stage = CASE type {cases} ELSE 0 END, event_at = created_at")
    op.execute(f"ALTER TABLE {S}.outbound ALTER COLUMN event_at SET DEFAULT now()")
    op.execute(f"ALTER TABLE {S}.outbound ALTER COLUMN event_at SET NOT NULL")
    op.execute(f"DROP INDEX {S}.outbound_pending")
    op.execute(f"CREATE INDEX outbound_pending ON {S}.outbound (tenant_code, case_key, stage, event_at, seq)"
               " WHERE delivered_at IS NULL")


def downgrade() -> None:
    op.execute(f"DROP INDEX {S}.outbound_pending")
    op.execute(f"CREATE INDEX outbound_pending ON {S}.outbound (tenant_code, case_key, seq) WHERE delivered_at IS NULL")
    op.execute(f"ALTER TABLE {S}.outbound DROP COLUMN event_at")
    op.execute(f"ALTER TABLE {S}.outbound DROP COLUMN stage")
