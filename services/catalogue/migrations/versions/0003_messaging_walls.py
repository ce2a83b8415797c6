"""Row-level security on the messaging tables (issue 15, item 7): the outbox is read by the unit whose
transaction wrote a row (its new `writer` column) and its supervisors, or by the relay; the inbox is
walled by the tenant each event was recorded for.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from shared.db import messaging_rls_drop_statements, messaging_rls_statements

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "catalogue"


def upgrade() -> None:
    for stmt in messaging_rls_statements(S):
        op.execute(stmt)


def downgrade() -> None:
    for stmt in messaging_rls_drop_statements(S):
        op.execute(stmt)
