"""Return visits of real-name 差评 in the public figures (issue 16: "every 差评 with a real name gets a return
visit (100 %)", visible in the unit's figures): rating_figures gains two counts — real-name 差评 and those visited.
Counts only, no person: the table stays public (tests/test_walls.py NOT_TENANT_DATA). Existing rows are counted
from the ratings and rectifications already stored."""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "complaints"


def upgrade() -> None:
    op.execute(f"ALTER TABLE {S}.rating_figures ADD COLUMN real_name_bad integer NOT NULL DEFAULT 0,"
               " ADD COLUMN visited integer NOT NULL DEFAULT 0")
    op.execute(f"""
    UPDATE {S}.rating_figures f SET real_name_bad = c.n, visited = c.v FROM (
        SELECT r.tenant_code, r.item_id, r.level, count(*) AS n, count(x.visited_at) AS v
        FROM {S}.ratings r JOIN {S}.rectifications x ON x.rating_id = r.id
        WHERE x.visit_required GROUP BY r.tenant_code, r.item_id, r.level) c
    WHERE f.unit = c.tenant_code AND f.item_id = c.item_id AND f.level = c.level""")


def downgrade() -> None:
    op.execute(f"ALTER TABLE {S}.rating_figures DROP COLUMN real_name_bad, DROP COLUMN visited")
