"""The division tree written by a province's own administrator (issue 23, item 2): a province admin onboards a
county of the province from the console (services/onboarding), which runs on the application role — no service
holds the owner's credentials (issue 15's trust boundaries). Units stay public reference data (read by everyone);
the application role may now insert and rename units, but only in a transaction bound to a province (2-digit
tenant) and only below it: Shandong's binding cannot write a Gansu unit, a county's binding cannot write at all.
The owner (migrations, `import-units`, `make run`'s demo tree) keeps writing every unit.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "catalogue"
_TENANT = "current_setting('app.tenant', true)"
# a province's binding, and a unit of that province (not the province itself: its row is the deployment's)
BELOW_THE_BOUND_PROVINCE = (f"(length({_TENANT}) = 2 AND length(code) > 2 AND code LIKE {_TENANT} || '%'"
                            f" AND (parent_code IS NULL OR parent_code LIKE {_TENANT} || '%'))")


def upgrade() -> None:
    for stmt in (
        f"ALTER TABLE {S}.units ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {S}.units FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY units_read ON {S}.units FOR SELECT USING (true)",
        f"CREATE POLICY units_owner ON {S}.units FOR ALL TO sanji_owner USING (true) WITH CHECK (true)",
        f"CREATE POLICY units_insert ON {S}.units FOR INSERT TO sanji_app WITH CHECK {BELOW_THE_BOUND_PROVINCE}",
        f"CREATE POLICY units_update ON {S}.units FOR UPDATE TO sanji_app USING {BELOW_THE_BOUND_PROVINCE}"
        f" WITH CHECK {BELOW_THE_BOUND_PROVINCE}",
        f"GRANT INSERT, UPDATE ON {S}.units TO sanji_app",
    ):
        op.execute(stmt)


def downgrade() -> None:
    for stmt in (
        f"REVOKE INSERT, UPDATE ON {S}.units FROM sanji_app",
        *(f"DROP POLICY IF EXISTS units_{p} ON {S}.units" for p in ("read", "owner", "insert", "update")),
        f"ALTER TABLE {S}.units NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {S}.units DISABLE ROW LEVEL SECURITY",
    ):
        op.execute(stmt)
