"""Provinces as data (issue 23, item 3): one row per province of the deployment — its name, the calendar region
it publishes, the reference (never the key) of its payment platform's key set (fees' ProvinceKeys), its 三级N同
elements and its complaint / rating defaults. Several provinces live side by side; the item-code format stays in
code_formats (same province key).

Walled like tenant data by `tenant_code` (the province's 2-digit code): every unit reads every record (reference
data the services need — nothing secret is stored), only a transaction bound to the province itself writes its
record, so Ningxia's administrator cannot touch Gansu's.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from shared.db import tenant_rls_statements

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "catalogue"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.provinces (
        tenant_code text PRIMARY KEY CHECK (tenant_code ~ '^[0-9]{{2}}$'),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
        calendar_region text NOT NULL CHECK (calendar_region ~ '^[0-9]{{2}}$'),
        payment_key_ref text NOT NULL DEFAULT '',
        n_tong jsonb NOT NULL DEFAULT '[]'::jsonb,
        complaint_working_days boolean NOT NULL DEFAULT true,
        rectification_days integer NOT NULL DEFAULT 15 CHECK (rectification_days BETWEEN 1 AND 60),
        updated_by text NOT NULL DEFAULT '',
        updated_at timestamptz NOT NULL DEFAULT now()
    )""")
    # the two provinces the demo and the seeds know, with the defaults the services use today
    # (services/complaints/domain.py ComplaintRules: 日 = working days, rectification in 15 working days)
    op.execute(f"""INSERT INTO {S}.provinces (tenant_code, name, calendar_region, updated_by) VALUES
        ('62', '甘肃省', '62', 'migration'), ('51', '四川省', '51', 'migration')""")
    for stmt in tenant_rls_statements(f"{S}.provinces", extra_read="true"):
        op.execute(stmt)


def downgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {S}.provinces")
