"""好差评 in the read model (issue 17: "好差评 satisfaction and 差评 rectification rate" in the statistics and the
scorecard): one row per rating the complaints service announced (rating_submitted), left out of the unit's figures
when an appeal against it was upheld (appeal_decided), its 差评 marked rectified by rectification_done.

Revision ID: 0003
Revises: 0002

Walls: a rating belongs to the rated unit: read within it and by the supervision of its ancestors, written only by
it (the consumer binds the event's tenant, the rated unit); the public scorecard counts them through its named scope
(`app.public_stats`: counts and shares only, no personal data leave it).
Events of different queues arrive in any order: an appeal's or a rectification's event may come before the rating
itself, so every column but the keys may be filled later (`level` NULL: the rating itself not recorded yet, not
counted).
"""
from alembic import op

from shared.db import tenant_rls_statements

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "supervision"
PUBLIC_STATS = "current_setting('app.public_stats', true) = 'on'"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.ratings (
        tenant_code text NOT NULL,
        rating_id text NOT NULL,
        level integer CHECK (level BETWEEN 1 AND 5),
        channel text NOT NULL DEFAULT '',
        case_number text NOT NULL DEFAULT '',
        item_id text NOT NULL DEFAULT '',
        item_name text NOT NULL DEFAULT '',
        department text NOT NULL DEFAULT '',
        staff text NOT NULL DEFAULT '',
        rated_on date,
        appeal_upheld boolean NOT NULL DEFAULT false,
        rectified_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_code, rating_id)
    )""")
    op.execute(f"CREATE INDEX ratings_month ON {S}.ratings (tenant_code text_pattern_ops, rated_on)")
    for stmt in tenant_rls_statements(f"{S}.ratings", extra_read=PUBLIC_STATS):
        op.execute(stmt)


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.ratings")
