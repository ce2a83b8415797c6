"""Case numbers from one PostgreSQL sequence per tenant and year, drawn inside the acceptance.

The counter table made every acceptance of a tenant wait on one row until the transaction that
last took a number committed (or, in its own short transaction, still queued behind the others'
commits). A sequence never blocks and never gives a number twice; with CACHE 1 consecutive
acceptances get consecutive numbers. As before, an acceptance that fails after drawing its number
leaves that number unused (the handler logs it).

The sequences belong to the owner role. The application role may only call `next_case_sequence`,
a SECURITY DEFINER function that draws for the tenant the transaction is bound to and no other,
and creates the tenant's sequence for a new year (continuing an existing counter, if any).

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from sqlalchemy import text

from shared.db import tenant_rls_statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "intake"

NEXT_CASE_SEQUENCE = f"""
CREATE FUNCTION {S}.next_case_sequence(p_tenant text, p_year integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    seq text;
BEGIN
    IF p_tenant IS NULL OR p_tenant IS DISTINCT FROM current_setting('app.tenant', true) THEN
        RAISE EXCEPTION 'case numbers are drawn only for the tenant the transaction is bound to'
            USING ERRCODE = '42501';
    END IF;
    IF p_tenant !~ '^[0-9]{{2,12}}$' OR p_year IS NULL OR p_year NOT BETWEEN 2000 AND 2999 THEN
        RAISE EXCEPTION 'no case-number sequence for tenant % and year %', p_tenant, p_year
            USING ERRCODE = '22023';
    END IF;
    seq := format('{S}.%I', 'case_seq_' || p_tenant || '_' || p_year);
    IF to_regclass(seq) IS NULL THEN
        -- the first number of the tenant's year. A concurrent first acceptance waits on the catalogue
        -- row until the creator's transaction ends, then finds the sequence there.
        BEGIN
            EXECUTE format('CREATE SEQUENCE %s AS bigint MINVALUE 1 NO CYCLE CACHE 1', seq);
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;
        END;
    END IF;
    RETURN nextval(seq);
END
$$"""


def upgrade() -> None:
    op.execute(NEXT_CASE_SEQUENCE)
    op.execute(f"REVOKE ALL ON FUNCTION {S}.next_case_sequence(text, integer) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {S}.next_case_sequence(text, integer) TO sanji_app")
    # the counters taken so far continue in their sequences (the owner reads every tenant's row:
    # the table is dropped below)
    op.execute(f"ALTER TABLE {S}.case_sequences NO FORCE ROW LEVEL SECURITY")
    bind = op.get_bind()
    for tenant, year, last in bind.execute(text(f"SELECT tenant_code, year, last FROM {S}.case_sequences")).all():
        name = f"case_seq_{tenant}_{year}"
        bind.execute(text(f'CREATE SEQUENCE {S}."{name}" AS bigint MINVALUE 1 NO CYCLE CACHE 1'))
        if last > 0:
            bind.execute(text("SELECT setval(CAST(:s AS regclass), :v, true)"), {"s": f'{S}."{name}"', "v": last})
    op.execute(f"DROP TABLE {S}.case_sequences")


def downgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.case_sequences (
        tenant_code text NOT NULL,
        year integer NOT NULL,
        last integer NOT NULL CHECK (last >= 0),
        PRIMARY KEY (tenant_code, year)
    )""")
    bind = op.get_bind()
    names = bind.execute(text("SELECT c.relname FROM pg_class c WHERE c.relkind = 'S' AND c.relname LIKE"
                              f" 'case\\_seq\\_%' AND c.relnamespace = '{S}'::regnamespace")).scalars()
    for name in list(names):
        _, _, tenant, year = name.split("_")
        bind.execute(text(f"INSERT INTO {S}.case_sequences (tenant_code, year, last)"
                          f' SELECT :t, :y, CASE WHEN is_called THEN last_value ELSE 0 END FROM {S}."{name}"'),
                     {"t": tenant, "y": int(year)})
        bind.execute(text(f'DROP SEQUENCE {S}."{name}"'))
    op.execute(f"DROP FUNCTION {S}.next_case_sequence(text, integer)")
    for stmt in tenant_rls_statements(f"{S}.case_sequences"):     # walled again, once filled
        op.execute(stmt)
