"""Search terms as rows (issue 22 item 3): one row per (term, item version), b-tree indexed on the term.

The GIN index on item_versions.terms cannot serve a search under row-level security: `@>` on arrays (like
tsvector's `@@` and pg_trgm's operators) is not leakproof, so PostgreSQL evaluates the policy before it and
scans every row of the table, detoasting each version's term array (≈ 10 ms for 1,131 items). Equality on
text is leakproof, so `term = ANY(:terms)` is an index condition under the same policies: a search reads
only the rows of its own terms. The rows are the same terms as item_versions.terms (services.catalogue.search:
jieba words, every character and bigram of the Chinese runs, Latin words), written by the catalogue with the
version, and walled exactly like item_versions (the status column carries the policy's "published is public").

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from shared.db import PUBLIC_MODE, tenant_rls_statements

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "catalogue"
_TENANT = "current_setting('app.tenant', true)"
# as item_versions (0001): published (non-draft) versions are public information
ITEM_PUBLIC_READ = (f"status <> 'draft' AND ({PUBLIC_MODE} OR (length({_TENANT}) > length(tenant_code)"
                    f" AND {_TENANT} LIKE tenant_code || '%'))")


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.item_terms (
        term text NOT NULL,
        item_id uuid NOT NULL,
        version integer NOT NULL,
        tenant_code text NOT NULL,
        status text NOT NULL CHECK (status IN ('draft','published','superseded','cancelled')),
        PRIMARY KEY (term, item_id, version),
        FOREIGN KEY (item_id, version) REFERENCES {S}.item_versions (item_id, version)
    )""")
    op.execute(f"CREATE INDEX item_terms_version ON {S}.item_terms (item_id, version)")
    # the terms already indexed, copied once by the owner (its own policies set aside for this statement only)
    op.execute(f"ALTER TABLE {S}.item_versions NO FORCE ROW LEVEL SECURITY")
    op.execute(f"INSERT INTO {S}.item_terms (term, item_id, version, tenant_code, status)"
               f" SELECT DISTINCT t.term, v.item_id, v.version, v.tenant_code, v.status"
               f" FROM {S}.item_versions v, unnest(v.terms) AS t(term)")
    op.execute(f"ALTER TABLE {S}.item_versions FORCE ROW LEVEL SECURITY")
    for stmt in tenant_rls_statements(f"{S}.item_terms", extra_read=ITEM_PUBLIC_READ):
        op.execute(stmt)


def downgrade() -> None:
    op.execute(f"DROP TABLE {S}.item_terms")
