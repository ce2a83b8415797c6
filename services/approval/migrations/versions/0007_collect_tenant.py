"""委托收件 (issue 18): a case remembers the window that took its application in on the case's unit's behalf
(intake's application_accepted carries it as `collect_tenant`), and the case's events carry it on, so the
docking gateway reports a provincial case collected by a county window under that county. '' for a case
taken in by its own unit (and for every case opened before this revision: not collected).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "approval"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.cases ADD COLUMN collect_tenant text NOT NULL DEFAULT ''"
               " CHECK (collect_tenant = '' OR collect_tenant ~ '^[0-9]{6}([0-9]{3})?$')")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.cases DROP COLUMN IF EXISTS collect_tenant")
