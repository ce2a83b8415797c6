"""Whole-project limits (issue 21 item 8): a project groups one construction project's cases, with its own
deadline ledger — seed 002 (房地产建设项目 ≤ 70 working days), seed 003 §35 (工程建设项目 ≤ 100).

- `projects`: the project, its kind and its budget of working days from the day it starts;
- `project_cases`: which of the unit's cases belong to it;
- `project_pauses`: its own suspensions, each with its reason, who suspended and who resumed it.
All tenant data, walled by RLS.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from shared.db import tenant_rls_statements

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "approval"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.projects (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        kind text NOT NULL CHECK (kind IN ('real_estate', 'construction')),
        limit_days integer NOT NULL CHECK ((kind = 'real_estate' AND limit_days BETWEEN 1 AND 70)
                                           OR (kind = 'construction' AND limit_days BETWEEN 1 AND 100)),
        started_on date NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL
    )""")
    op.execute(f"CREATE INDEX projects_tenant ON {S}.projects (tenant_code, created_at)")
    op.execute(f"""
    CREATE TABLE {S}.project_cases (
        project_id uuid NOT NULL REFERENCES {S}.projects(id),
        case_id uuid NOT NULL REFERENCES {S}.cases(id),
        tenant_code text NOT NULL,
        added_by text NOT NULL,
        added_at timestamptz NOT NULL,
        PRIMARY KEY (project_id, case_id)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.project_pauses (
        id uuid PRIMARY KEY,
        project_id uuid NOT NULL REFERENCES {S}.projects(id),
        tenant_code text NOT NULL,
        start_on date NOT NULL,
        end_on date CHECK (end_on IS NULL OR end_on >= start_on),
        reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
        by_user text NOT NULL,
        resumed_by text NOT NULL DEFAULT ''
    )""")
    op.execute(f"CREATE UNIQUE INDEX project_pauses_one_open ON {S}.project_pauses (project_id) WHERE end_on IS NULL")
    for table in ("projects", "project_cases", "project_pauses"):
        for stmt in tenant_rls_statements(f"{S}.{table}"):
            op.execute(stmt)


def downgrade() -> None:
    for table in ("project_pauses", "project_cases", "projects"):
        op.execute(f"DROP TABLE IF EXISTS {S}.{table}")
