"""Drop `supervision.rule_thresholds` (issue 23): a province's thresholds are its record's now (catalogue 0008,
`Province.supervision_thresholds`, read through shared.provinces), and no code has read or written this table
since; nothing ever wrote it but SQL by hand, so there is nothing to carry over.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "supervision"


def upgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {S}.rule_thresholds")


def downgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.rule_thresholds (
        province text NOT NULL CHECK (province ~ '^[0-9]{{2}}$'),
        rule_id text NOT NULL,
        name text NOT NULL,
        value double precision NOT NULL,
        PRIMARY KEY (province, rule_id, name)
    )""")
    op.execute(f"GRANT SELECT ON {S}.rule_thresholds TO sanji_app")
