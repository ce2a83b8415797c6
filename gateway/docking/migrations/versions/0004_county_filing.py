"""A township's (or village's) reports go to the province as its county's (issue 18): the docking gateway talks
to the province per county — one sender, one message log, one daily reconciliation — but filed a township's case
events under the township, so the county's reconciliation found the province's receipts of them unknown, and
the report could not read the provincial serial kept under the county.

A transaction bound to a unit below a county, with the named scope `app.docking_county` open
(gateway/docking/repository.py COUNTY_FILING: only the consumer's report filing opens it), files its report
under that county and reads the county's online applications (the serial; the case number is noted there).
Nothing else of the county's, nor of another county's.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "docking"
_TENANT = "current_setting('app.tenant', true)"
OWN_COUNTY = (f"(current_setting('app.docking_county', true) = 'on' AND length({_TENANT}) > 6"
              f" AND tenant_code = substr({_TENANT}, 1, 6))")


def upgrade() -> None:
    op.execute(f"CREATE POLICY outbound_county_insert ON {S}.outbound FOR INSERT WITH CHECK {OWN_COUNTY}")
    op.execute(f"CREATE POLICY outbound_county_read ON {S}.outbound FOR SELECT USING {OWN_COUNTY}")
    op.execute(f"CREATE POLICY online_applications_county_read ON {S}.online_applications FOR SELECT"
               f" USING {OWN_COUNTY}")
    op.execute(f"CREATE POLICY online_applications_county_update ON {S}.online_applications FOR UPDATE"
               f" USING {OWN_COUNTY} WITH CHECK {OWN_COUNTY}")


def downgrade() -> None:
    for policy, table in (("online_applications_county_update", "online_applications"),
                          ("online_applications_county_read", "online_applications"),
                          ("outbound_county_read", "outbound"), ("outbound_county_insert", "outbound")):
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {S}.{table}")
