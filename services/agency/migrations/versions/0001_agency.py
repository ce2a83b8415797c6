"""Agency schema: proxy requests, visits, progress notes, hand-overs of originals and their receipts.

Revision ID: 0001
Revises:

Walls (DESIGN §3):
- proxy requests, visits and notes belong to the proxy point (the village, or the county for a key
  project): read within it (and by supervisors of an ancestor), written only by it;
- a hand-over row belongs to the GIVER (from_tenant); its receipt is a separate row belonging to the
  RECEIVER (to_tenant), and a composite foreign key ties the receipt's owner to the hand-over's
  addressee — so only the addressee can ever confirm, whatever SQL the application sends;
- reading is widened, never writing: the receiver reads hand-overs addressed to it, the giver reads
  the receipts of its hand-overs, and every unit on the custody path (from the proxy point up to the
  handling unit) reads the chain's hops;
- hand-overs and receipts are signed records: append-only for the application role.
"""
from alembic import op

from shared.db import messaging_tables_statements, tenant_rls_statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "agency"
_CUR = "current_setting('app.tenant', true)"
# the current unit lies on the path proxy point → … → handling unit
ON_PATH = (f"({_CUR} <> '' AND origin_tenant LIKE {_CUR} || '%' AND {_CUR} LIKE handling_tenant || '%')")
HANDOVER_READ = f"to_tenant = {_CUR} OR {ON_PATH}"
RECEIPT_READ = f"from_tenant = {_CUR} OR {ON_PATH}"
STATUSES = ("'requested','assigned','submitted','correction','accepted','rejected','terminated','result_ready',"
            "'delivered'")


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.proxy_requests (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        idempotency_key text NOT NULL,
        fingerprint text NOT NULL,
        resident_name text NOT NULL,
        resident_id_number text NOT NULL CHECK (resident_id_number ~ '^[0-9]{{17}}[0-9X]$'),
        resident_phone text NOT NULL DEFAULT '',
        resident_address text NOT NULL DEFAULT '',
        special_group text NOT NULL CHECK (special_group IN ('elderly','disabled','youfu','dibao','none')),
        door_to_door boolean NOT NULL,
        key_project boolean NOT NULL DEFAULT false,
        project_name text NOT NULL DEFAULT '',
        item_id text NOT NULL,
        item_version integer NOT NULL,
        item_name text NOT NULL,
        scenario_code text NOT NULL DEFAULT '',
        material_names jsonb NOT NULL DEFAULT '{{}}'::jsonb,
        handling_tenant text NOT NULL,
        handling_unit_name text NOT NULL DEFAULT '',
        auth_signed_on date NOT NULL,
        auth_scope text NOT NULL,
        auth_document_ref text NOT NULL,
        auth_valid_until date,
        agent text NOT NULL DEFAULT '',
        agent_name text NOT NULL DEFAULT '',
        status text NOT NULL CHECK (status IN ({STATUSES})),
        status_at timestamptz NOT NULL DEFAULT now(),
        application_id text NOT NULL DEFAULT '',
        case_number text NOT NULL DEFAULT '',
        materials jsonb NOT NULL DEFAULT '[]'::jsonb,
        free_of_charge boolean NOT NULL DEFAULT true CHECK (free_of_charge),
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        submitted_at timestamptz,
        -- free door-to-door service is for special groups and key projects (the rule, held by the database too)
        CHECK (NOT door_to_door OR special_group <> 'none' OR key_project),
        -- key projects are the county's; everything else is taken in at a village point
        CHECK ((key_project AND length(tenant_code) = 6) OR (NOT key_project AND length(tenant_code) = 12))
    )""")
    op.execute(f"CREATE UNIQUE INDEX proxy_requests_idem ON {S}.proxy_requests (tenant_code, idempotency_key)")
    op.execute(f"CREATE INDEX proxy_requests_tenant ON {S}.proxy_requests (tenant_code text_pattern_ops, status,"
               " created_at)")
    op.execute(f"CREATE INDEX proxy_requests_application ON {S}.proxy_requests (application_id)"
               " WHERE application_id <> ''")
    op.execute(f"""
    CREATE TABLE {S}.visits (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        request_id uuid NOT NULL REFERENCES {S}.proxy_requests(id),
        scheduled_for timestamptz NOT NULL,
        address text NOT NULL,
        purpose text NOT NULL DEFAULT '',
        scheduled_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        done_at timestamptz,
        outcome text NOT NULL DEFAULT '',
        done_by text NOT NULL DEFAULT '',
        done_by_name text NOT NULL DEFAULT '',
        materials jsonb NOT NULL DEFAULT '[]'::jsonb
    )""")
    op.execute(f"CREATE INDEX visits_request ON {S}.visits (request_id, scheduled_for)")
    op.execute(f"""
    CREATE TABLE {S}.progress_notes (
        id bigserial PRIMARY KEY,
        tenant_code text NOT NULL,
        request_id uuid NOT NULL REFERENCES {S}.proxy_requests(id),
        note_key text NOT NULL,
        at timestamptz NOT NULL,
        step text NOT NULL,
        text text NOT NULL,
        UNIQUE (request_id, note_key)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.handovers (
        id uuid PRIMARY KEY,
        from_tenant text NOT NULL,
        to_tenant text NOT NULL,
        origin_tenant text NOT NULL,
        handling_tenant text NOT NULL,
        request_id uuid NOT NULL,
        application_id text NOT NULL,
        case_number text NOT NULL DEFAULT '',
        previous_id uuid REFERENCES {S}.handovers(id),
        items jsonb NOT NULL CHECK (jsonb_typeof(items) = 'array' AND jsonb_array_length(items) > 0),
        handed_by text NOT NULL,
        handed_by_name text NOT NULL DEFAULT '',
        handed_at timestamptz NOT NULL DEFAULT now(),
        -- up the tree only, one level at a time, and never beyond the handling unit
        CHECK (length(to_tenant) < length(from_tenant) AND from_tenant LIKE to_tenant || '%'),
        CHECK (to_tenant LIKE handling_tenant || '%' AND origin_tenant LIKE from_tenant || '%'),
        UNIQUE (id, to_tenant, from_tenant, origin_tenant, handling_tenant)
    )""")
    op.execute(f"CREATE INDEX handovers_to ON {S}.handovers (to_tenant, handed_at)")
    op.execute(f"CREATE INDEX handovers_from ON {S}.handovers (from_tenant, handed_at)")
    op.execute(f"CREATE INDEX handovers_application ON {S}.handovers (application_id)")
    op.execute(f"CREATE INDEX handovers_request ON {S}.handovers (request_id)")
    op.execute(f"""
    CREATE TABLE {S}.handover_receipts (
        handover_id uuid PRIMARY KEY,
        to_tenant text NOT NULL,
        from_tenant text NOT NULL,
        origin_tenant text NOT NULL,
        handling_tenant text NOT NULL,
        received_by text NOT NULL,
        received_by_name text NOT NULL DEFAULT '',
        received_at timestamptz NOT NULL DEFAULT now(),
        note text NOT NULL DEFAULT '',
        -- the receipt's owner IS the hand-over's addressee: nobody else can confirm it
        FOREIGN KEY (handover_id, to_tenant, from_tenant, origin_tenant, handling_tenant)
            REFERENCES {S}.handovers (id, to_tenant, from_tenant, origin_tenant, handling_tenant)
    )""")

    for table in ("proxy_requests", "visits", "progress_notes"):
        for stmt in tenant_rls_statements(f"{S}.{table}"):
            op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.handovers", column="from_tenant", extra_read=HANDOVER_READ):
        op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.handover_receipts", column="to_tenant", extra_read=RECEIPT_READ):
        op.execute(stmt)
    # signed records: the application may add them, never change or remove them
    op.execute(f"REVOKE UPDATE, DELETE ON {S}.handovers, {S}.handover_receipts FROM sanji_app")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {S}.progress_notes_id_seq TO sanji_app")
    for stmt in messaging_tables_statements(S, rls=False):
        op.execute(stmt)
