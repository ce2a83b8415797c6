"""委托收件 reported under the collecting county (issue 18): a provincial application taken in by a county window
on the province's behalf is the province's case (tenant "62"), but the province hears of it from the county
that collected it, with its own serial number.

- `collected_cases`: per deciding unit (walled by it like any table), the applications a lower window took
  in on its behalf through the portal: which window, the provincial serial, the case number once accepted.
  Written when intake answers the forwarded application, read when the case's later events come (each bound
  to the deciding unit), also for events that do not name the collecting window (fees', events written
  before intake and approval carried `collect_tenant`).
- `outbound`: a transaction bound to the deciding unit files a report under the collecting window only
  through the named scope `app.docking_collect` (gateway/docking/repository.py COLLECTED_FILING), and only
  for a window inside its own subtree; it sees (RETURNING) only the row it files there.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from shared.db import tenant_rls_statements

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "docking"
_TENANT = "current_setting('app.tenant', true)"
# the collecting window named by the scope, strictly below the bound (deciding) unit
COLLECTED = (f"(tenant_code = current_setting('app.docking_collect', true) AND length({_TENANT}) >= 2"
             f" AND length(tenant_code) > length({_TENANT}) AND tenant_code LIKE {_TENANT} || '%')")


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.collected_cases (
        tenant_code text NOT NULL,
        application_id text NOT NULL,
        collect_tenant text NOT NULL CHECK (collect_tenant ~ '^[0-9]{{6}}([0-9]{{3}})?$'),
        provincial_serial text NOT NULL DEFAULT '',
        case_number text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_code, application_id),
        CHECK (collect_tenant LIKE tenant_code || '%' AND collect_tenant <> tenant_code)
    )""")
    op.execute(f"CREATE INDEX collected_cases_case ON {S}.collected_cases (tenant_code, case_number)"
               " WHERE case_number <> ''")
    for st in tenant_rls_statements(f"{S}.collected_cases"):
        op.execute(st)
    op.execute(f"CREATE POLICY outbound_collected_insert ON {S}.outbound FOR INSERT WITH CHECK {COLLECTED}")
    op.execute(f"CREATE POLICY outbound_collected_read ON {S}.outbound FOR SELECT USING {COLLECTED}")


def downgrade() -> None:
    op.execute(f"DROP POLICY IF EXISTS outbound_collected_read ON {S}.outbound")
    op.execute(f"DROP POLICY IF EXISTS outbound_collected_insert ON {S}.outbound")
    op.execute(f"DROP TABLE IF EXISTS {S}.collected_cases")
