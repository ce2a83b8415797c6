"""Row-level security on the messaging tables (issue 15, item 7): the outbox is read by the unit whose
transaction wrote a row (its new `writer` column) and its supervisors, or by the relay; the inbox is
walled by the tenant each event was recorded for.

callback_rejections: refused payment callbacks, before any tenant is known. The application role
only appends to it (no SELECT, UPDATE or DELETE, and RLS lets it insert and nothing else); the
owner role (operations) reads it.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from shared.db import messaging_rls_drop_statements, messaging_rls_statements

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "fees"


def upgrade() -> None:
    for stmt in messaging_rls_statements(S):
        op.execute(stmt)
    op.execute(f"REVOKE SELECT ON {S}.callback_rejections FROM sanji_app")
    op.execute(f"ALTER TABLE {S}.callback_rejections ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {S}.callback_rejections FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY callback_rejections_append ON {S}.callback_rejections FOR INSERT TO sanji_app"
               " WITH CHECK (true)")
    op.execute(f"CREATE POLICY callback_rejections_operations ON {S}.callback_rejections FOR SELECT"
               " TO sanji_owner USING (true)")


def downgrade() -> None:
    op.execute(f"DROP POLICY callback_rejections_append ON {S}.callback_rejections")
    op.execute(f"DROP POLICY callback_rejections_operations ON {S}.callback_rejections")
    op.execute(f"ALTER TABLE {S}.callback_rejections NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {S}.callback_rejections DISABLE ROW LEVEL SECURITY")
    op.execute(f"GRANT SELECT ON {S}.callback_rejections TO sanji_app")
    for stmt in messaging_rls_drop_statements(S):
        op.execute(stmt)
