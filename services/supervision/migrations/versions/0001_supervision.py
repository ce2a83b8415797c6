"""Supervision schema: the read model of cases and held steps, cards, orders (督办函) and their replies,
accountability records, the provinces' rule thresholds, the audit chain, the working-day calendar, outbox/inbox.

Revision ID: 0001
Revises:

Walls (DESIGN §3):
- cases, steps and cards belong to the unit that handles the case: read within it and by the supervision of
  its ancestors (subtree), written only by it (the consumer binds the event's tenant, the sweep each case's);
  the threshold sweep finds due cases across tenants through its named scope (`app.sweep`), and the public
  scorecard and ranking aggregate across units through theirs (`app.public_stats`), reading counts only;
- an order belongs to the supervision unit that issued it (written only there); the unit it is addressed to
  reads it; the reply belongs to that unit (written only there) and the issuer reads it;
- an accountability record is written by a supervision unit about a person of its own unit or below, and read
  by the supervision of the person's unit and above only (never a sibling's);
- the audit chain (shared.hashchain) is append-only for the application role.
"""
import json

from alembic import op
from sqlalchemy import text

from shared.calendar import seed_year_from_package
from shared.calendar_store import DEFAULT_SEED_YEARS, calendar_table_statements
from shared.db import READ_PREDICATE, messaging_tables_statements, tenant_rls_statements
from shared.hashchain import chain_tables_statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "supervision"
_CUR = "current_setting('app.tenant', true)"
SWEEP = "current_setting('app.sweep', true) = 'on'"
PUBLIC_STATS = "current_setting('app.public_stats', true) = 'on'"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.cases (
        tenant_code text NOT NULL,
        application_id text NOT NULL,
        case_number text NOT NULL DEFAULT '',
        case_id text NOT NULL DEFAULT '',
        stage text NOT NULL CHECK (stage IN ('received','correction','rejected','accepted','open','decided',
                                             'completed','delivered','terminated')),
        item_id text NOT NULL DEFAULT '',
        item_name text NOT NULL DEFAULT '',
        department text NOT NULL DEFAULT '',
        channel text NOT NULL DEFAULT '',
        proxy_tenant text NOT NULL DEFAULT '',
        received_at timestamptz,
        received_on date,
        received_by text NOT NULL DEFAULT '',
        accepted_at timestamptz,
        accepted_on date,
        accepted_by text NOT NULL DEFAULT '',
        deemed boolean NOT NULL DEFAULT false,
        immediate boolean NOT NULL DEFAULT false,
        promised_limit integer NOT NULL DEFAULT 0,
        statutory_limit integer NOT NULL DEFAULT 0,
        promised_due date,
        statutory_due date,
        promised_trace text NOT NULL DEFAULT '',
        statutory_trace text NOT NULL DEFAULT '',
        provisional_years integer[] NOT NULL DEFAULT '{{}}',
        suspended boolean NOT NULL DEFAULT false,
        suspensions integer NOT NULL DEFAULT 0,
        paused_days integer NOT NULL DEFAULT 0,
        corrections integer NOT NULL DEFAULT 0,
        waived integer NOT NULL DEFAULT 0,
        decided_at timestamptz,
        decided_on date,
        decided_by text NOT NULL DEFAULT '',
        outcome text NOT NULL DEFAULT '',
        late_promised boolean,
        late_statutory boolean,
        working_days integer,
        completed_at timestamptz,
        delivered_at timestamptz,
        delivery_method text NOT NULL DEFAULT '',
        fees_fen bigint NOT NULL DEFAULT 0,
        next_check_on date,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_code, application_id)
    )""")
    op.execute(f"CREATE UNIQUE INDEX cases_number ON {S}.cases (tenant_code, case_number) WHERE case_number <> ''")
    # the threshold index: the sweep reads only the cases whose next threshold has come
    op.execute(f"CREATE INDEX cases_next_check ON {S}.cases (next_check_on) WHERE next_check_on IS NOT NULL")
    op.execute(f"CREATE INDEX cases_month ON {S}.cases (tenant_code text_pattern_ops, accepted_on)")
    op.execute(f"""
    CREATE TABLE {S}.steps (
        tenant_code text NOT NULL,
        step_id text NOT NULL,
        application_id text NOT NULL,
        case_number text NOT NULL,
        kind text NOT NULL,
        desk text NOT NULL DEFAULT '',
        holder text NOT NULL,
        holder_name text NOT NULL DEFAULT '',
        claimed_at timestamptz NOT NULL,
        claimed_on date NOT NULL,
        done_at timestamptz,
        released_at timestamptz,
        PRIMARY KEY (tenant_code, step_id)
    )""")
    op.execute(f"CREATE INDEX steps_case ON {S}.steps (tenant_code, application_id)")
    op.execute(f"""
    CREATE TABLE {S}.cards (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        rule_id text NOT NULL,
        severity text NOT NULL CHECK (severity IN ('yellow','red')),
        status text NOT NULL CHECK (status IN ('open','closed')),
        subject_kind text NOT NULL,
        subject_ref text NOT NULL,
        application_id text NOT NULL DEFAULT '',
        case_number text NOT NULL DEFAULT '',
        item_name text NOT NULL DEFAULT '',
        department text NOT NULL DEFAULT '',
        post text NOT NULL DEFAULT '',
        post_holder text NOT NULL DEFAULT '',
        post_holder_name text NOT NULL DEFAULT '',
        due date,
        trace text NOT NULL DEFAULT '',
        text text NOT NULL DEFAULT '',
        cases jsonb NOT NULL DEFAULT '[]'::jsonb,
        raised_on date NOT NULL,
        raised_at timestamptz NOT NULL,
        closed_at timestamptz,
        closed_reason text NOT NULL DEFAULT ''
    )""")
    op.execute(f"CREATE UNIQUE INDEX cards_one_open ON {S}.cards (tenant_code, rule_id, subject_ref)"
               " WHERE status = 'open'")
    op.execute(f"CREATE INDEX cards_list ON {S}.cards (tenant_code text_pattern_ops, status, raised_at)")
    op.execute(f"CREATE INDEX cards_case ON {S}.cards (tenant_code, application_id)")
    op.execute(f"""
    CREATE TABLE {S}.orders (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        unit_tenant text NOT NULL,
        number text NOT NULL,
        card_id uuid NOT NULL,
        rule_id text NOT NULL,
        case_number text NOT NULL DEFAULT '',
        post_holder text NOT NULL DEFAULT '',
        severity text NOT NULL,
        request text NOT NULL,
        issued_by text NOT NULL,
        issued_by_name text NOT NULL DEFAULT '',
        issued_at timestamptz NOT NULL,
        issued_on date NOT NULL,
        reply_due date NOT NULL,
        status text NOT NULL CHECK (status IN ('issued','answered','escalated')),
        escalated_to text NOT NULL DEFAULT '',
        escalated_at timestamptz,
        idempotency_key text NOT NULL,
        UNIQUE (tenant_code, idempotency_key),
        UNIQUE (tenant_code, number),
        -- an order goes to the issuer's own unit or a unit below it
        CHECK (unit_tenant LIKE tenant_code || '%')
    )""")
    op.execute(f"CREATE INDEX orders_unit ON {S}.orders (unit_tenant, status)")
    op.execute(f"CREATE INDEX orders_due ON {S}.orders (reply_due) WHERE status = 'issued'")
    op.execute(f"""
    CREATE TABLE {S}.order_replies (
        order_id uuid PRIMARY KEY REFERENCES {S}.orders(id),
        tenant_code text NOT NULL,
        issuer_tenant text NOT NULL,
        reason text NOT NULL,
        rectification text NOT NULL,
        answered_by text NOT NULL,
        answered_by_name text NOT NULL DEFAULT '',
        answered_at timestamptz NOT NULL
    )""")
    op.execute(f"""
    CREATE TABLE {S}.accountability (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        person text NOT NULL,
        person_name text NOT NULL DEFAULT '',
        person_unit text NOT NULL,
        grade text NOT NULL CHECK (grade IN ('minor','major','severe')),
        measure text NOT NULL,
        rule_id text NOT NULL DEFAULT '',
        card_ids jsonb NOT NULL DEFAULT '[]'::jsonb,
        order_id text NOT NULL DEFAULT '',
        rectify_by date,
        note text NOT NULL DEFAULT '',
        recorded_by text NOT NULL,
        recorded_at timestamptz NOT NULL,
        CHECK (person_unit LIKE tenant_code || '%')
    )""")
    op.execute(f"CREATE INDEX accountability_person ON {S}.accountability (person_unit text_pattern_ops, person)")
    op.execute(f"""
    CREATE TABLE {S}.rule_thresholds (
        province text NOT NULL CHECK (province ~ '^[0-9]{{2}}$'),
        rule_id text NOT NULL,
        name text NOT NULL,
        value double precision NOT NULL,
        PRIMARY KEY (province, rule_id, name)
    )""")
    op.execute(f"GRANT SELECT ON {S}.rule_thresholds TO sanji_app")

    for table in ("cases", "cards"):
        for stmt in tenant_rls_statements(f"{S}.{table}", extra_read=f"{SWEEP} OR {PUBLIC_STATS}"):
            op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.steps"):
        op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.orders", extra_read=f"unit_tenant = {_CUR} OR {SWEEP}"):
        op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.order_replies",
                                      extra_read=READ_PREDICATE.format(col="issuer_tenant")):
        op.execute(stmt)
    # accountability: read by the person's unit's supervision and above; written by a supervision unit about its
    # own unit or below; never changed or deleted
    acc = f"{S}.accountability"
    read = READ_PREDICATE.format(col="person_unit")
    write = f"tenant_code = {_CUR} AND person_unit LIKE {_CUR} || '%'"
    for stmt in (f"ALTER TABLE {acc} ENABLE ROW LEVEL SECURITY", f"ALTER TABLE {acc} FORCE ROW LEVEL SECURITY",
                 f"CREATE POLICY accountability_read ON {acc} FOR SELECT USING {read}",
                 f"CREATE POLICY accountability_insert ON {acc} FOR INSERT WITH CHECK ({write})",
                 f"CREATE POLICY accountability_update ON {acc} FOR UPDATE USING ({write}) WITH CHECK ({write})",
                 f"CREATE POLICY accountability_delete ON {acc} FOR DELETE USING ({write})",
                 f"GRANT SELECT, INSERT ON {acc} TO sanji_app"):
        op.execute(stmt)
    for stmt in chain_tables_statements(S, tips_extra_read=SWEEP):
        op.execute(stmt)
    for stmt in messaging_tables_statements(S):
        op.execute(stmt)
    for stmt in calendar_table_statements(S):
        op.execute(stmt)
    bind = op.get_bind()
    # the national working-day calendar as the chinese-calendar package knows it (as intake and approval);
    # later years are published by an administrator (`python -m shared.calendar_store publish --schema supervision`)
    bind.execute(text("SELECT set_config('app.calendar_region', 'region:', true)"))
    for year in DEFAULT_SEED_YEARS:
        cy = seed_year_from_package(year)
        bind.execute(text(f"INSERT INTO {S}.calendar_years (region, year, data, source, published_at, published_by)"
                          " VALUES ('', :y, CAST(:d AS jsonb), :s, :at, :by) ON CONFLICT DO NOTHING"),
                     {"y": year, "d": json.dumps(cy.to_dict(), ensure_ascii=False), "s": cy.source,
                      "at": cy.published_at, "by": cy.published_by})


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {S} CASCADE")
