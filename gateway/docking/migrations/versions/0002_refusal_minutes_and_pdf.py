"""Refused province messages counted per minute and stored up to a cap (like fees' refused callbacks: a flood
of refused messages, which needs no key, costs a bounded amount of storage); the reconciliation report kept
as PDF beside the CSV.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "docking"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.refusal_minutes (
        minute timestamptz PRIMARY KEY,
        seen integer NOT NULL CHECK (seen >= 0),
        stored integer NOT NULL DEFAULT 0 CHECK (stored >= 0 AND stored <= seen)
    )""")
    # security bookkeeping before any tenant is known (the message is refused): counts only, no tenant data
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {S}.refusal_minutes TO sanji_app")
    op.execute(f"ALTER TABLE {S}.reconciliations ADD COLUMN pdf bytea")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.reconciliations DROP COLUMN pdf")
    op.execute(f"DROP TABLE {S}.refusal_minutes")
