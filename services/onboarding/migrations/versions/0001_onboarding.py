"""Onboarding schema (issue 23, item 2): the province administrator's onboarding jobs — one row per county
onboarded from the console, its state, its report by line and what the county still lacks — and the files a
queued job runs on (deleted when it ends: the staff list may carry passwords). Walled by the province
(`tenant_code`, 2 digits): Shandong's administrator never sees Gansu's jobs. The job queue scope (`app.job_queue`)
lets the service's worker find which provinces have a job waiting (ids and provinces only); it then runs each in a
transaction bound to the job's province.

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.db import messaging_tables_statements, tenant_rls_statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "onboarding"
WAITING = ("current_setting('app.job_queue', true) = 'on'"
           " AND (status = 'queued' OR (status = 'running' AND started_at < now() - interval '15 minutes'))")


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.jobs (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL CHECK (tenant_code ~ '^[0-9]{{2}}$'),
        county text NOT NULL CHECK (county ~ '^[0-9]{{6}}$' AND left(county, 2) = tenant_code),
        status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
        requested_by text NOT NULL,
        requested_by_name text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        report jsonb NOT NULL DEFAULT '[]'::jsonb,
        problems jsonb NOT NULL DEFAULT '[]'::jsonb,
        lacks jsonb NOT NULL DEFAULT '[]'::jsonb,
        units_imported integer NOT NULL DEFAULT 0,
        staff_provisioned integer NOT NULL DEFAULT 0,
        passwords_set integer NOT NULL DEFAULT 0,
        credentials text,
        error text NOT NULL DEFAULT ''
    )""")
    op.execute(f"CREATE INDEX jobs_by_province ON {S}.jobs (tenant_code, created_at DESC)")
    op.execute(f"CREATE INDEX jobs_waiting ON {S}.jobs (created_at) WHERE status IN ('queued', 'running')")
    op.execute(f"""
    CREATE TABLE {S}.job_files (
        job_id uuid NOT NULL REFERENCES {S}.jobs (id) ON DELETE CASCADE,
        tenant_code text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('areas', 'streets', 'villages', 'staff')),
        filename text NOT NULL,
        content bytea NOT NULL,
        PRIMARY KEY (job_id, kind)
    )""")
    for stmt in [*tenant_rls_statements(f"{S}.jobs", extra_read=WAITING),
                 *tenant_rls_statements(f"{S}.job_files"),
                 *messaging_tables_statements(S)]:
        op.execute(stmt)


def downgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {S}.job_files, {S}.jobs, {S}.outbox, {S}.inbox")
