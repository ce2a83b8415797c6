"""When the agent began submitting a proxy request to intake (before the call), so that progress that
names an application is taken only for a request the agency itself submitted (issue 15): an event about
a request never submitted can no longer attach a stranger's application to it and block its submission.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "agency"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.proxy_requests ADD COLUMN submission_started_at timestamptz")
    # requests submitted before this revision were submitted by the agency (it alone recorded them)
    op.execute(f"ALTER TABLE {S}.proxy_requests NO FORCE ROW LEVEL SECURITY")
    op.execute(f"UPDATE {S}.proxy_requests SET submission_started_at = coalesce(submitted_at, status_at)"
               " WHERE application_id <> ''")
    op.execute(f"ALTER TABLE {S}.proxy_requests FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.proxy_requests DROP COLUMN submission_started_at")
