"""An online case's reports queued under its case number join its provincial serial's queue (issue 18): an
event of the case consumed before its acceptance (approval's decision overtaking intake's acceptance) is queued
under the case number, since docking cannot know the serial yet; the acceptance moves it (gateway/docking/
repository.py rekey) so the case has one order. The transaction that does it is the acceptance's filing: bound
to the deciding unit with the collecting window's scope open (0003), or to a township with its county's (0004).
Those scopes could file and read there; now they can also update the pending reports they file there — under
the same conditions, nothing else.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "docking"
_TENANT = "current_setting('app.tenant', true)"
# as 0003 COLLECTED and 0004 OWN_COUNTY
COLLECTED = (f"(tenant_code = current_setting('app.docking_collect', true) AND length({_TENANT}) >= 2"
             f" AND length(tenant_code) > length({_TENANT}) AND tenant_code LIKE {_TENANT} || '%')")
OWN_COUNTY = (f"(current_setting('app.docking_county', true) = 'on' AND length({_TENANT}) > 6"
              f" AND tenant_code = substr({_TENANT}, 1, 6))")


def upgrade() -> None:
    op.execute(f"CREATE POLICY outbound_collected_update ON {S}.outbound FOR UPDATE USING ({COLLECTED}"
               f" AND delivered_at IS NULL) WITH CHECK ({COLLECTED} AND delivered_at IS NULL)")
    op.execute(f"CREATE POLICY outbound_county_update ON {S}.outbound FOR UPDATE USING ({OWN_COUNTY}"
               f" AND delivered_at IS NULL) WITH CHECK ({OWN_COUNTY} AND delivered_at IS NULL)")


def downgrade() -> None:
    op.execute(f"DROP POLICY IF EXISTS outbound_county_update ON {S}.outbound")
    op.execute(f"DROP POLICY IF EXISTS outbound_collected_update ON {S}.outbound")
