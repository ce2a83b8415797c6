"""代收 (issue 21 item 6): a township window takes in an application for an item its county decides, on the
county's behalf (seed 000 §10 报批件: “由 … 窗口转相关部门，在法定时限内报送上级 … 不得要求申请人重复提供申请
材料”; seed 003 §4 代为收件（受理）). The application — and so the case — is the deciding unit's row
(`tenant_code`); `collect_tenant` names the window that took it in, which reads it (and its notices) to follow
its progress and hand out the result. Its decisions there are made in a transaction bound to the deciding unit
(services/intake/handlers.py), so no write policy widens.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "intake"
_TENANT = "current_setting('app.tenant', true)"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.applications ADD COLUMN collect_tenant text"
               " CHECK (collect_tenant IS NULL OR collect_tenant ~ '^[0-9]{6}([0-9]{3})?$')")
    op.execute(f"CREATE INDEX applications_collect ON {S}.applications (collect_tenant, received_at)"
               " WHERE collect_tenant IS NOT NULL")
    # permissive policies: OR-ed with the tenant wall of 0001
    op.execute(f"CREATE POLICY applications_collect_read ON {S}.applications FOR SELECT"
               f" USING (collect_tenant IS NOT NULL AND collect_tenant = {_TENANT})")
    op.execute(f"CREATE POLICY notices_collect_read ON {S}.notices FOR SELECT USING (EXISTS ("
               f"SELECT 1 FROM {S}.applications a WHERE a.id = application_id AND a.collect_tenant = {_TENANT}))")


def downgrade() -> None:
    op.execute(f"DROP POLICY IF EXISTS notices_collect_read ON {S}.notices")
    op.execute(f"DROP POLICY IF EXISTS applications_collect_read ON {S}.applications")
    op.execute(f"DROP INDEX IF EXISTS {S}.applications_collect")
    op.execute(f"ALTER TABLE {S}.applications DROP COLUMN IF EXISTS collect_tenant")
