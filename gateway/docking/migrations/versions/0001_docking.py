"""Docking schema: the message log (an SM3 chain per county, shared.hashchain), the nonces seen, refused
messages, the outbound reports to the province (its outbox), online applications received, reconciliation
reports; outbox/inbox.

Revision ID: 0001
Revises:
"""
from alembic import op

from shared.db import messaging_tables_statements, tenant_rls_statements
from shared.hashchain import chain_tables_statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "docking"
# the delivery worker lists which counties have reports due (and nothing else) under this named scope
SWEEP = "current_setting('app.docking_sweep', true) = 'on'"


def upgrade() -> None:
    # Every message in and out, with its signature, hash and time: one SM3 chain per county (shared.hashchain,
    # as supervision's audit chain): log_records / log_heads (daily heads signed with the docking key) / log_tips.
    for st in chain_tables_statements(S, prefix="log"):
        op.execute(st)
    # Nonces seen, per sender, for as long as a message could still be fresh (the domain's window).
    op.execute(f"""
    CREATE TABLE {S}.nonces (
        sender text NOT NULL,
        nonce text NOT NULL,
        seen_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (sender, nonce)
    )""")
    # Refused messages: why, and the hash and length of what came (never its content: it is not trusted).
    op.execute(f"""
    CREATE TABLE {S}.refusals (
        id bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL DEFAULT now(),
        reason text NOT NULL,
        claimed_sender text NOT NULL DEFAULT '',
        claimed_tenant text NOT NULL DEFAULT '',
        claimed_message_id text NOT NULL DEFAULT '',
        body_sm3 text NOT NULL,
        body_bytes integer NOT NULL
    )""")
    # Reports for the province (办件信息汇聚): idempotent by message id (derived from the event's id), delivered
    # per case in order, retried with backoff.
    op.execute(f"""
    CREATE TABLE {S}.outbound (
        seq bigserial PRIMARY KEY,
        message_id uuid NOT NULL UNIQUE,
        tenant_code text NOT NULL,
        case_key text NOT NULL,
        type text NOT NULL,
        body jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz,
        last_error text NOT NULL DEFAULT ''
    )""")
    op.execute(f"CREATE INDEX outbound_pending ON {S}.outbound (tenant_code, case_key, seq) WHERE delivered_at IS NULL")
    op.execute(f"CREATE INDEX outbound_delivered ON {S}.outbound (tenant_code, delivered_at)")
    # Online applications forwarded by the province: the province's serial number ↔ the county's application.
    op.execute(f"""
    CREATE TABLE {S}.online_applications (
        tenant_code text NOT NULL,
        provincial_serial text NOT NULL,
        message_id uuid NOT NULL UNIQUE,
        unit_code text NOT NULL,
        item_id text NOT NULL,
        application_id text NOT NULL DEFAULT '',
        case_number text NOT NULL DEFAULT '',
        status text NOT NULL CHECK (status IN ('received', 'forwarded', 'failed')),
        error text NOT NULL DEFAULT '',
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_code, provincial_serial)
    )""")
    op.execute(f"CREATE INDEX online_applications_app ON {S}.online_applications (application_id)")
    op.execute(f"""
    CREATE TABLE {S}.reconciliations (
        id bigserial PRIMARY KEY,
        tenant_code text NOT NULL,
        day date NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        mismatches integer NOT NULL,
        resent integer NOT NULL,
        csv text NOT NULL
    )""")
    for table in ("online_applications", "reconciliations"):
        for st in tenant_rls_statements(f"{S}.{table}"):
            op.execute(st)
    for st in tenant_rls_statements(f"{S}.outbound", extra_read=SWEEP):
        op.execute(st)
    op.execute(f"GRANT SELECT, INSERT, DELETE ON {S}.nonces TO sanji_app")
    # refusals: appended by the application role, read only by operations (the owner), as fees' refused callbacks
    op.execute(f"GRANT INSERT ON {S}.refusals TO sanji_app")
    op.execute(f"ALTER TABLE {S}.refusals ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {S}.refusals FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY refusals_append ON {S}.refusals FOR INSERT TO sanji_app WITH CHECK (true)")
    op.execute(f"CREATE POLICY refusals_operations ON {S}.refusals FOR SELECT TO sanji_owner USING (true)")
    for seq in ("refusals_id_seq", "outbound_seq_seq", "reconciliations_id_seq"):
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {S}.{seq} TO sanji_app")
    for st in messaging_tables_statements(S):
        op.execute(st)
