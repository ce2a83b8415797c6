"""Anyone may book door-to-door service; only its being free is for special groups and key projects
(issue 21 item 2; seeds 001 and 003 list 上门服务 among the general service measures, seed 001 makes it
无偿 for 身障人、老年人、优抚人员、低保人员). The table's rule that refused any other door-to-door booking goes;
whether a booking is free is derived from the group and the key project (services/agency/domain.py).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "agency"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.proxy_requests DROP CONSTRAINT IF EXISTS proxy_requests_check")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.proxy_requests ADD CONSTRAINT proxy_requests_check"
               " CHECK (NOT door_to_door OR special_group <> 'none' OR key_project) NOT VALID")
