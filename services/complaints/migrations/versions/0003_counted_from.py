"""The day a reopened complaint's round counts from (issue 16: re-counting after a province publishes a year must
re-count reopened and extended complaints too, so the round's start is kept). Filled in for complaints already
reopened from their 'reopened' record (its day in China Standard Time, as the service's clock counts)."""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "complaints"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.complaints ADD COLUMN counted_from date")
    op.execute(f"""
    UPDATE {S}.complaints c SET counted_from = r.day FROM (
        SELECT complaint_id, max((at AT TIME ZONE 'Asia/Shanghai')::date) AS day
        FROM {S}.complaint_records WHERE kind = 'reopened' GROUP BY complaint_id) r
    WHERE r.complaint_id = c.id AND c.reopened > 0""")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.complaints DROP COLUMN counted_from")
