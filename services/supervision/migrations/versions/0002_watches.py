"""Deadline watches of complaints and ratings (投诉 3日报动态 / 7日报结果, 差评整改): one row per deadline an event
announced, closed by the event that meets it; the same threshold index as cases (`next_check_on`).

Revision ID: 0002
Revises: 0001

Walls: a watch belongs to the unit the deadline is on (the complaint's handling unit, the rated unit): read within
it and by the supervision of its ancestors, written only by it; the threshold sweep finds due watches through its
named scope (`app.sweep`), and the public scorecard counts them through its own (`app.public_stats`).
"""
from alembic import op

from shared.db import tenant_rls_statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "supervision"
SWEEP = "current_setting('app.sweep', true) = 'on'"
PUBLIC_STATS = "current_setting('app.public_stats', true) = 'on'"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.watches (
        tenant_code text NOT NULL,
        watch_id text NOT NULL,
        rule_id text NOT NULL,
        subject_kind text NOT NULL CHECK (subject_kind IN ('complaint', 'rectification')),
        number text NOT NULL DEFAULT '',
        label text NOT NULL DEFAULT '',
        post_holder text NOT NULL DEFAULT '',
        department text NOT NULL DEFAULT '',
        due_on date NOT NULL,
        done_at timestamptz,
        next_check_on date,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_code, watch_id)
    )""")
    op.execute(f"CREATE INDEX watches_next_check ON {S}.watches (next_check_on) WHERE next_check_on IS NOT NULL")
    for stmt in tenant_rls_statements(f"{S}.watches", extra_read=f"{SWEEP} OR {PUBLIC_STATS}"):
        op.execute(stmt)


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.watches")
