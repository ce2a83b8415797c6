"""Catalogue schema: units, items and versions, listings, code formats and mappings, outbox/inbox.

Revision ID: 0001
Revises:
"""
from alembic import op

from shared.db import PUBLIC_MODE, messaging_tables_statements, tenant_rls_statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "catalogue"
_TENANT = "current_setting('app.tenant', true)"
# Published (non-draft) items are public information: readable by anyone in public mode, and by the
# owner's descendants (a township reads its county's items) — never a sibling's, never a draft.
ITEM_PUBLIC_READ = (f"status <> 'draft' AND ({PUBLIC_MODE} OR (length({_TENANT}) > length(tenant_code)"
                    f" AND {_TENANT} LIKE tenant_code || '%'))")
LISTING_READ = f"revoked_at IS NULL AND (listed_for = {_TENANT} OR {PUBLIC_MODE})"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.units (
        code text PRIMARY KEY CHECK (code ~ '^[0-9]{{2}}([0-9]{{2}}([0-9]{{2}}([0-9]{{3}}([0-9]{{3}})?)?)?)?$'),
        name text NOT NULL,
        kind text NOT NULL,
        parent_code text
    )""")
    op.execute(f"CREATE INDEX units_parent ON {S}.units (parent_code)")
    op.execute(f"""
    CREATE TABLE {S}.code_formats (
        province text PRIMARY KEY,
        basic_max integer NOT NULL,
        implementation_max integer NOT NULL,
        case_number_max integer NOT NULL,
        basic_pattern text NOT NULL,
        implementation_pattern text NOT NULL,
        description text NOT NULL
    )""")
    op.execute(f"""
    CREATE TABLE {S}.code_mappings (
        province text NOT NULL,
        code_set text NOT NULL,
        external_code text NOT NULL,
        internal_code text NOT NULL,
        label text NOT NULL DEFAULT '',
        PRIMARY KEY (province, code_set, external_code)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.items (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        basic_code text NOT NULL,
        current_version integer NOT NULL,
        status text NOT NULL CHECK (status IN ('draft','published','superseded','cancelled')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"CREATE UNIQUE INDEX items_code ON {S}.items (tenant_code, basic_code) WHERE status <> 'cancelled'")
    op.execute(f"CREATE INDEX items_tenant ON {S}.items (tenant_code text_pattern_ops, status)")
    op.execute(f"""
    CREATE TABLE {S}.item_versions (
        item_id uuid NOT NULL REFERENCES {S}.items(id),
        version integer NOT NULL CHECK (version >= 1),
        tenant_code text NOT NULL,
        status text NOT NULL CHECK (status IN ('draft','published','superseded','cancelled')),
        name text NOT NULL,
        item_type text NOT NULL,
        exercise_level text NOT NULL,
        elements jsonb NOT NULL,
        terms text[] NOT NULL DEFAULT '{{}}',
        change_reason text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        published_at timestamptz,
        published_by text,
        PRIMARY KEY (item_id, version)
    )""")
    op.execute(f"CREATE INDEX item_versions_terms ON {S}.item_versions USING gin (terms)")
    op.execute(f"CREATE INDEX item_versions_tenant ON {S}.item_versions (tenant_code, status)")
    op.execute(f"""
    CREATE TABLE {S}.item_listings (
        id bigserial PRIMARY KEY,
        tenant_code text NOT NULL,
        item_id uuid NOT NULL REFERENCES {S}.items(id),
        listed_for text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('own','delegated','proxy')),
        reason text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        revoked_at timestamptz
    )""")
    op.execute(f"CREATE UNIQUE INDEX item_listings_live ON {S}.item_listings (item_id, listed_for, kind)"
               " WHERE revoked_at IS NULL")
    op.execute(f"CREATE INDEX item_listings_for ON {S}.item_listings (listed_for) WHERE revoked_at IS NULL")

    for stmt in tenant_rls_statements(f"{S}.items", extra_read=ITEM_PUBLIC_READ):
        op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.item_versions", extra_read=ITEM_PUBLIC_READ):
        op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.item_listings", extra_read=LISTING_READ):
        op.execute(stmt)
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {S}.item_listings_id_seq TO sanji_app")
    # reference data (public): the app reads it; the importer (owner) writes it
    op.execute(f"GRANT SELECT ON {S}.units, {S}.code_formats, {S}.code_mappings TO sanji_app")
    for stmt in messaging_tables_statements(S, rls=False):
        op.execute(stmt)

    # Code formats: GB/T 39046 by default; provinces that publish longer codes are configured here.
    op.execute(f"""INSERT INTO {S}.code_formats VALUES
        ('', 10, 24, 50, '[0-9A-Za-z]+', '[0-9A-Za-z\\-]+', 'GB/T 39046-2020'),
        ('62', 14, 55, 50, '[0-9A-Za-z]+', '[0-9A-Za-z\\-]+', '甘肃省政务服务事项编码规则'),
        ('51', 14, 55, 64, '[0-9A-Za-z]+', '[0-9A-Za-z\\-]+', '四川省政务服务事项编码规则')""")
    # The province's own code sets mapped onto GB/T 39046 (e.g. Sichuan writes task types 1, 5, 7 …).
    rows = []
    for prov in ("51", "62"):
        for ext, internal, label in [("1", "01", "行政许可"), ("2", "02", "行政处罚"), ("3", "03", "行政强制"),
                                     ("4", "04", "行政征收"), ("5", "05", "行政给付"), ("6", "06", "行政检查"),
                                     ("7", "07", "行政确认"), ("8", "08", "行政奖励"), ("9", "09", "行政裁决"),
                                     ("10", "10", "其他行政权力"), ("20", "20", "公共服务")]:
            rows.append(f"('{prov}', 'item_type', '{ext}', '{internal}', '{label}')")
        for ext, internal, label in [("1", "1", "受理"), ("3", "3", "受理通过"), ("4", "4", "不予受理"),
                                     ("6", "6", "补正开始"), ("8", "8", "部门办理"), ("9", "9", "特别程序开始"),
                                     ("10", "10", "特别程序结束"), ("11", "11", "办结")]:
            rows.append(f"('{prov}', 'progress', '{ext}', '{internal}', '{label}')")
    op.execute(f"INSERT INTO {S}.code_mappings VALUES {', '.join(rows)}")
