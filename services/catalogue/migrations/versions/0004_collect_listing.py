"""代收 listings (issue 21 item 6): a township (or a county, for a city's item) window takes in an item a higher
level decides, on that level's behalf — seed 000 §10 (“依法应当先经下级行政机关审查后报上级行政机关决定的行政审批，
由 … 窗口转相关部门，在法定时限内报送上级 … 不得要求申请人重复提供申请材料”), seed 003 §4 (代为收件（受理）).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "catalogue"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.item_listings DROP CONSTRAINT IF EXISTS item_listings_kind_check")
    op.execute(f"ALTER TABLE {S}.item_listings ADD CONSTRAINT item_listings_kind_check"
               " CHECK (kind IN ('own', 'delegated', 'proxy', 'collect'))")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.item_listings DROP CONSTRAINT IF EXISTS item_listings_kind_check")
    op.execute(f"ALTER TABLE {S}.item_listings ADD CONSTRAINT item_listings_kind_check"
               " CHECK (kind IN ('own', 'delegated', 'proxy')) NOT VALID")
