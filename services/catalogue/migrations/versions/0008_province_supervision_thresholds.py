"""A province's record holds its supervision thresholds too (issue 23, item 3): supervision's warning and red-card
thresholds ("<rule id>.<threshold>" → value, shared/provinces.py SUPERVISION_THRESHOLDS) set by the province's
administrator with the rest of its record; an empty map keeps supervision's documented defaults
(services/supervision/domain.py DEFAULT_RULES), which every province has until its administrator sets one.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "catalogue"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.provinces ADD COLUMN supervision_thresholds jsonb NOT NULL DEFAULT '{{}}'::jsonb"
               " CHECK (jsonb_typeof(supervision_thresholds) = 'object')")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.provinces DROP COLUMN supervision_thresholds")
