"""Fees schema: fee catalogue and versions, treasury accounts, case fees and lines, notices, payments,
the reconciliation queue, refunds, the log of refused callbacks, outbox/inbox.

Revision ID: 0001
Revises:
"""
from alembic import op

from shared.db import PUBLIC_MODE, messaging_tables_statements, tenant_rls_statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "fees"
_TENANT = "current_setting('app.tenant', true)"
# A published fee catalogue is public information (收费目录清单公开): readable in public mode and by
# the owner's descendants (a township assesses with its county's fee items) — never a draft.
FEE_PUBLIC_READ = (f"status <> 'draft' AND ({PUBLIC_MODE} OR (length({_TENANT}) > length(tenant_code)"
                   f" AND {_TENANT} LIKE tenant_code || '%'))")
MONEY = "bigint NOT NULL DEFAULT 0 CHECK ({c} >= 0)"


def money(col: str) -> str:
    return f"{col} {MONEY.format(c=col)}"


def upgrade() -> None:
    # Reference data (like the catalogue's units): which account receives a tenant's fees. Only a
    # treasury or non-tax revenue account may be a payee (收缴分离) — never a department's account.
    op.execute(f"""
    CREATE TABLE {S}.treasury_accounts (
        tenant_code text PRIMARY KEY,
        payee_name text NOT NULL,
        account_number text NOT NULL UNIQUE,
        bank_name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('treasury', 'non_tax_revenue'))
    )""")
    op.execute(f"""
    CREATE TABLE {S}.fee_items (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        fee_code text NOT NULL,
        current_version integer NOT NULL,
        status text NOT NULL CHECK (status IN ('draft','published','superseded','cancelled')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"CREATE UNIQUE INDEX fee_items_code ON {S}.fee_items (tenant_code, fee_code)"
               " WHERE status <> 'cancelled'")
    op.execute(f"""
    CREATE TABLE {S}.fee_item_versions (
        fee_item_id uuid NOT NULL REFERENCES {S}.fee_items(id),
        version integer NOT NULL CHECK (version >= 1),
        tenant_code text NOT NULL,
        status text NOT NULL CHECK (status IN ('draft','published','superseded','cancelled')),
        fee_code text NOT NULL,
        name text NOT NULL,
        definition jsonb NOT NULL,
        change_reason text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        published_at timestamptz,
        published_by text,
        PRIMARY KEY (fee_item_id, version)
    )""")
    op.execute(f"CREATE INDEX fee_item_versions_code ON {S}.fee_item_versions (fee_code, status)")

    op.execute(f"""
    CREATE TABLE {S}.cases (
        tenant_code text NOT NULL,
        case_number text NOT NULL,
        status text NOT NULL CHECK (status IN ('awaiting_assessment','assessed','noticed','settled','closed')),
        source text NOT NULL CHECK (source IN ('decision','cashier')),
        government_invested boolean NOT NULL DEFAULT false,
        key_project boolean NOT NULL DEFAULT false,
        applicant_name text NOT NULL DEFAULT '',
        item_id text NOT NULL DEFAULT '',
        item_version integer NOT NULL DEFAULT 0,
        item_name text NOT NULL DEFAULT '',
        expected_fee_codes text[] NOT NULL DEFAULT '{{}}',
        decided_at timestamptz,
        assessed_by text,
        assessed_at timestamptz,
        {money('total_fen')},
        {money('waived_fen')},
        {money('paid_fen')},
        {money('refunded_fen')},
        settled_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_code, case_number),
        CHECK (waived_fen <= total_fen)
    )""")
    op.execute(f"CREATE UNIQUE INDEX cases_number ON {S}.cases (case_number)")
    op.execute(f"CREATE INDEX cases_queue ON {S}.cases (tenant_code, status, updated_at)")
    op.execute(f"""
    CREATE TABLE {S}.lines (
        tenant_code text NOT NULL,
        case_number text NOT NULL,
        line_no integer NOT NULL CHECK (line_no >= 1),
        fee_code text NOT NULL,
        fee_item_id uuid NOT NULL,
        fee_version integer NOT NULL,
        name text NOT NULL,
        collecting_unit text NOT NULL,
        basis text NOT NULL,
        standard jsonb NOT NULL,
        waiver_reasons jsonb NOT NULL DEFAULT '[]'::jsonb,
        quantities jsonb NOT NULL DEFAULT '{{}}'::jsonb,
        {money('unit_price_fen')},
        {money('amount_fen')},
        {money('waived_fen')},
        lower_bound_applied boolean NOT NULL DEFAULT false,
        calculation text NOT NULL DEFAULT '',
        waiver_reason_code text NOT NULL DEFAULT '',
        waiver_reason text NOT NULL DEFAULT '',
        waived_by text NOT NULL DEFAULT '',
        waiver_note text NOT NULL DEFAULT '',
        status text NOT NULL CHECK (status IN ('unpaid','paid','waived')),
        PRIMARY KEY (tenant_code, case_number, line_no),
        FOREIGN KEY (tenant_code, case_number) REFERENCES {S}.cases (tenant_code, case_number),
        CHECK (waived_fen <= amount_fen)
    )""")

    op.execute(f"""
    CREATE TABLE {S}.notice_counters (
        tenant_code text NOT NULL,
        year integer NOT NULL,
        last_seq integer NOT NULL,
        PRIMARY KEY (tenant_code, year)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.notices (
        notice_number text PRIMARY KEY,
        tenant_code text NOT NULL,
        case_number text NOT NULL,
        total_fen bigint NOT NULL CHECK (total_fen > 0),
        payee_name text NOT NULL,
        payee_account text NOT NULL,
        payee_bank text NOT NULL,
        status text NOT NULL CHECK (status IN ('issued','paid','void')),
        issued_by text NOT NULL,
        issued_at timestamptz NOT NULL DEFAULT now(),
        paid_at timestamptz,
        payment_id text,
        receipt_text text,
        receipt_digest text,
        receipt_signature text,
        receipt_signer text,
        FOREIGN KEY (tenant_code, case_number) REFERENCES {S}.cases (tenant_code, case_number)
    )""")
    # one live notice per case (一费制): every fee line of every department on it
    op.execute(f"CREATE UNIQUE INDEX notices_one_per_case ON {S}.notices (tenant_code, case_number)"
               " WHERE status <> 'void'")
    op.execute(f"CREATE INDEX notices_day ON {S}.notices (tenant_code, issued_at)")
    op.execute(f"""
    CREATE TABLE {S}.payments (
        payment_id text PRIMARY KEY,
        tenant_code text NOT NULL,
        notice_number text NOT NULL,
        matched_notice text REFERENCES {S}.notices (notice_number),
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        paid_at timestamptz NOT NULL,
        payer_name text NOT NULL DEFAULT '',
        channel text NOT NULL DEFAULT '',
        payee_account text NOT NULL,
        fields jsonb NOT NULL,
        fields_digest text NOT NULL,
        signature text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('matched','queued')),
        received_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"CREATE INDEX payments_day ON {S}.payments (tenant_code, received_at)")
    op.execute(f"""
    CREATE TABLE {S}.reconciliation (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('unknown_notice','amount_mismatch','already_paid','notice_void')),
        status text NOT NULL CHECK (status IN ('open','matched','resolved')),
        payment_id text NOT NULL REFERENCES {S}.payments (payment_id),
        notice_number text NOT NULL,
        case_number text NOT NULL DEFAULT '',
        amount_fen bigint NOT NULL,
        expected_fen bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        resolution text NOT NULL DEFAULT '',
        resolved_by text NOT NULL DEFAULT '',
        resolved_at timestamptz
    )""")
    op.execute(f"CREATE INDEX reconciliation_open ON {S}.reconciliation (tenant_code, notice_number)"
               " WHERE status = 'open'")
    op.execute(f"CREATE INDEX reconciliation_day ON {S}.reconciliation (tenant_code, created_at)")
    op.execute(f"""
    CREATE TABLE {S}.refunds (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        notice_number text NOT NULL DEFAULT '',
        case_number text NOT NULL DEFAULT '',
        payment_id text NOT NULL REFERENCES {S}.payments (payment_id),
        reconciliation_id uuid REFERENCES {S}.reconciliation (id),
        amount_fen bigint NOT NULL CHECK (amount_fen > 0),
        reason text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending','approved','rejected')),
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL DEFAULT now(),
        decided_by text NOT NULL DEFAULT '',
        decided_at timestamptz,
        note text NOT NULL DEFAULT ''
    )""")
    op.execute(f"CREATE INDEX refunds_day ON {S}.refunds (tenant_code, decided_at)")
    # Security log: callbacks refused before any tenant is known (bad signature, unknown account).
    # Infrastructure like the outbox: no RLS; the application may add and read, never change.
    op.execute(f"""
    CREATE TABLE {S}.callback_rejections (
        id bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL DEFAULT now(),
        reason text NOT NULL,
        payment_id text NOT NULL DEFAULT '',
        notice_number text NOT NULL DEFAULT '',
        fields jsonb NOT NULL,
        signature text NOT NULL DEFAULT ''
    )""")

    for table in ("fee_items", "fee_item_versions"):
        for stmt in tenant_rls_statements(f"{S}.{table}", extra_read=FEE_PUBLIC_READ):
            op.execute(stmt)
    for table in ("cases", "lines", "notice_counters", "notices", "payments", "reconciliation", "refunds"):
        for stmt in tenant_rls_statements(f"{S}.{table}"):
            op.execute(stmt)
    op.execute(f"GRANT SELECT ON {S}.treasury_accounts TO sanji_app")
    op.execute(f"GRANT SELECT, INSERT ON {S}.callback_rejections TO sanji_app")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {S}.callback_rejections_id_seq TO sanji_app")
    for stmt in messaging_tables_statements(S, rls=False):
        op.execute(stmt)
