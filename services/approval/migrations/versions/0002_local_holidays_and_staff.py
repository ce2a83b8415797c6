"""Local holidays under two-person control, audited; the staff each unit has seen (issue 15, items 4 and 6).

- `calendar_local_policies`: per province, whether its counties may add local holidays and how many days a
  year (reference data the operators maintain; the app only reads it).
- `calendar_local_days`: the approved local holidays (public reference data like `calendar_years`: a holiday
  is public; the app may add, never change or remove one).
- `calendar_changes`: each proposal, who proposed and approved it and when, and the deadlines it moved —
  tenant data, walled by RLS (supervision above reads it).
- `staff`: the users each unit has seen with a verified token (who may be given a desk there).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from shared.db import tenant_rls_statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "approval"

# Default: a province not listed allows NO local holiday (the code's default, services/approval/administration.py).
# 甘肃 (62) is the deployment's province in the seeds; its autonomous prefectures and counties keep local festival
# days, so it is enabled here with at most 3 days a year — a default the province's operators replace with their
# own rule (UPDATE approval.calendar_local_policies ...).
POLICIES = [("62", True, 3)]


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.calendar_local_policies (
        province text PRIMARY KEY CHECK (province ~ '^[0-9]{{2}}$'),
        local_holidays_allowed boolean NOT NULL DEFAULT false,
        max_days_per_year integer NOT NULL DEFAULT 0 CHECK (max_days_per_year BETWEEN 0 AND 366)
    )""")
    op.execute(f"GRANT SELECT ON {S}.calendar_local_policies TO sanji_app")
    for province, allowed, days in POLICIES:
        op.execute(f"INSERT INTO {S}.calendar_local_policies VALUES ('{province}', {allowed}, {days})")
    op.execute(f"""
    CREATE TABLE {S}.calendar_local_days (
        region text NOT NULL CHECK (region ~ '^([0-9]{{4}}|[0-9]{{6}})$'),
        day date NOT NULL,
        name text NOT NULL,
        change_id uuid NOT NULL,
        approved_at timestamptz NOT NULL,
        PRIMARY KEY (region, day)
    )""")
    op.execute(f"GRANT SELECT, INSERT ON {S}.calendar_local_days TO sanji_app")
    op.execute(f"""
    CREATE TABLE {S}.calendar_changes (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        day date NOT NULL,
        name text NOT NULL,
        reason text NOT NULL DEFAULT '',
        status text NOT NULL CHECK (status IN ('proposed', 'approved')),
        proposed_by text NOT NULL,
        proposed_by_name text NOT NULL DEFAULT '',
        proposed_at timestamptz NOT NULL,
        approved_by text,
        approved_by_name text,
        approved_at timestamptz,
        cases_examined integer,
        cases_changed integer,
        cases_moved text[] NOT NULL DEFAULT '{{}}',
        CHECK (status = 'proposed' OR (approved_by IS NOT NULL AND approved_by <> proposed_by))
    )""")
    op.execute(f"CREATE INDEX calendar_changes_tenant ON {S}.calendar_changes (tenant_code, proposed_at)")
    op.execute(f"""
    CREATE TABLE {S}.staff (
        tenant_code text NOT NULL,
        username text NOT NULL,
        display_name text NOT NULL DEFAULT '',
        first_seen_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_code, username)
    )""")
    for table in ("calendar_changes", "staff"):
        for stmt in tenant_rls_statements(f"{S}.{table}"):
            op.execute(stmt)


def downgrade() -> None:
    for table in ("staff", "calendar_changes", "calendar_local_days", "calendar_local_policies"):
        op.execute(f"DROP TABLE IF EXISTS {S}.{table}")
