"""The open cards of one case, by their own index (issue 22): every event of a case asks for them, and with only
`cards_case` (all of a case's cards, open or closed) and the partial `cards_one_open`, PostgreSQL found the generic
plan of that statement dearer than a custom one and planned it again on every call (11 plans per case lifecycle in
the lifecycle bench). With this partial index the generic plan is as cheap as the custom one, so it is planned once
per connection; and once a county has years of closed cards, the open ones of a case are read without them.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "supervision"


def upgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS cards_case_open ON {S}.cards (tenant_code, application_id)"
               " WHERE status = 'open'")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {S}.cards_case_open")
