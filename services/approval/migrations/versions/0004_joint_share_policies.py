"""A joint case's split of its promised limit, per province (issue 21 item 9).

`joint_share_policies`: per province, the share of a joint case's promised limit the lead department keeps
to conclude and decide (percent, and at least so many working days); the departments examine in parallel
in the rest. Reference data the operators maintain; the app only reads it. A province without a row gets
the code's DEFAULT (services/approval/domain.py, DEFAULT_JOINT_SHARE: a quarter, at least one day) — the
seeds fix no such split, so no province is seeded here: the default is a default, not a rule.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "approval"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.joint_share_policies (
        province text PRIMARY KEY CHECK (province ~ '^[0-9]{{2}}$'),
        lead_percent integer NOT NULL CHECK (lead_percent BETWEEN 0 AND 99),
        lead_min_days integer NOT NULL CHECK (lead_min_days BETWEEN 0 AND 3650),
        basis text NOT NULL DEFAULT ''
    )""")
    op.execute(f"GRANT SELECT ON {S}.joint_share_policies TO sanji_app")


def downgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {S}.joint_share_policies")
