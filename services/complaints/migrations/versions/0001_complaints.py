"""Complaints schema: complaints and their records, departments, follow-ups; the case read model; ratings,
rectifications, appeals and their decisions; the public figures; the working-day calendar.

Revision ID: 0001
Revises:

Walls (DESIGN §3):
- a complaint belongs to the HANDLING unit (the level above the unit complained about); the unit that
  filed it for a resident (a village agent, `filed_by_tenant`) reads it too, and nobody else below;
- the public follows a complaint by its number AND its follow code (the phone's last four digits, or the
  code printed on an anonymous report's receipt): both are in the policy, so the scope opens one row only;
- the case read model and ratings belong to the case's / rated unit; the public rating proves the case by
  its number AND the applicant's ID suffix, again in the policy;
- an appeal belongs to the rated unit; its decision is a separate row owned by the deciding unit above
  (a CHECK holds it to a strict ancestor), read by the rated unit;
- `rating_figures` holds counts only (no person, no text): public;
- the calendar is public reference data, as in intake and approval.
"""
import json

from alembic import op
from sqlalchemy import text

from shared.calendar import seed_year_from_package
from shared.calendar_store import DEFAULT_SEED_YEARS, calendar_table_statements
from shared.db import messaging_tables_statements, tenant_rls_statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "complaints"
_CUR = "current_setting('app.tenant', true)"
FILER_READ = f"({_CUR} <> '' AND filed_by_tenant = {_CUR})"
# a custom setting reads '' (not NULL) once a transaction on the same connection set it: never match ''
FOLLOW_READ = ("coalesce(current_setting('app.follow_number', true), '') <> ''"
               " AND number = current_setting('app.follow_number', true)"
               " AND follow_code = current_setting('app.follow_code', true)")
CASE_READ = ("coalesce(current_setting('app.rate_case', true), '') <> ''"
             " AND coalesce(current_setting('app.rate_suffix', true), '') <> ''"
             " AND case_number = current_setting('app.rate_case', true)"
             " AND id_suffix = current_setting('app.rate_suffix', true)")
RATING_READ = ("channel = 'case' AND coalesce(current_setting('app.rate_case', true), '') <> ''"
               " AND coalesce(current_setting('app.rate_suffix', true), '') <> ''"
               " AND case_number = current_setting('app.rate_case', true)"
               " AND id_suffix = current_setting('app.rate_suffix', true)")
DECISION_READ = f"({_CUR} <> '' AND rated_tenant = {_CUR})"
STATUSES = "'received','assigned','progressing','replied','closed','escalated'"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.complaints (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        number text NOT NULL UNIQUE,
        follow_code text NOT NULL CHECK (follow_code ~ '^[0-9]{{4}}$'),
        external_id text,                        -- the hotline's hand-over id: a retry never files twice
        channel text NOT NULL CHECK (channel IN ('public','hall','agent','hotline')),
        kind text NOT NULL CHECK (kind IN ('complaint','report')),
        status text NOT NULL CHECK (status IN ({STATUSES})),
        category text NOT NULL,
        content text NOT NULL CHECK (length(content) <= 2000),
        anonymous boolean NOT NULL DEFAULT false,
        complainant_name text NOT NULL DEFAULT '',
        complainant_phone text NOT NULL DEFAULT '',
        complainant_id_number text NOT NULL DEFAULT '',
        subject_tenant text NOT NULL,
        subject_department text NOT NULL DEFAULT '',
        subject_case_number text NOT NULL DEFAULT '',
        subject_item_id text NOT NULL DEFAULT '',
        subject_window text NOT NULL DEFAULT '',
        subject_staff text NOT NULL DEFAULT '',
        filed_by_tenant text NOT NULL DEFAULT '',
        filed_by text NOT NULL DEFAULT '',
        handler text NOT NULL DEFAULT '',
        handler_name text NOT NULL DEFAULT '',
        assigned_at timestamptz,
        received_at timestamptz NOT NULL,
        received_on date NOT NULL,
        progress_due date NOT NULL,
        result_due date NOT NULL,
        due_trace text NOT NULL DEFAULT '',
        provisional boolean NOT NULL DEFAULT false,
        progress_reported_at timestamptz,
        extension jsonb,
        extensions integer NOT NULL DEFAULT 0,
        outcome text NOT NULL DEFAULT '' CHECK (outcome IN ('','solved','plan','policy')),
        reply_channel text NOT NULL DEFAULT '',
        reply text NOT NULL DEFAULT '',
        replied_at timestamptz,
        reopened integer NOT NULL DEFAULT 0,
        round integer NOT NULL DEFAULT 1,
        escalated_from text NOT NULL DEFAULT '',
        escalated_to text NOT NULL DEFAULT '',
        satisfaction text NOT NULL DEFAULT '',
        updated_at timestamptz NOT NULL DEFAULT now(),
        -- an anonymous report carries no identity at all
        CHECK (NOT anonymous OR (kind = 'report' AND complainant_name = '' AND complainant_phone = ''
                                 AND complainant_id_number = ''))
    )""")
    op.execute(f"CREATE UNIQUE INDEX complaints_external ON {S}.complaints (external_id) WHERE external_id IS NOT NULL")
    op.execute(f"CREATE INDEX complaints_tenant ON {S}.complaints (tenant_code text_pattern_ops, status, received_at)")
    op.execute(f"CREATE INDEX complaints_filer ON {S}.complaints (filed_by_tenant) WHERE filed_by_tenant <> ''")
    op.execute(f"""
    CREATE TABLE {S}.complaint_records (
        id bigserial PRIMARY KEY,
        tenant_code text NOT NULL,
        complaint_id uuid NOT NULL REFERENCES {S}.complaints(id),
        kind text NOT NULL,
        at timestamptz NOT NULL,
        by text NOT NULL DEFAULT '',
        by_name text NOT NULL DEFAULT '',
        text text NOT NULL DEFAULT '',
        on_day date,
        method text NOT NULL DEFAULT '',
        public boolean NOT NULL DEFAULT false     -- told to the complainant (shown on the public page)
    )""")
    op.execute(f"CREATE INDEX complaint_records_complaint ON {S}.complaint_records (complaint_id, at)")
    op.execute(f"""
    CREATE TABLE {S}.complaint_departments (
        tenant_code text NOT NULL,
        complaint_id uuid NOT NULL REFERENCES {S}.complaints(id),
        department text NOT NULL,
        lead boolean NOT NULL DEFAULT false,
        report text NOT NULL DEFAULT '',
        reported_at timestamptz,
        reported_by text NOT NULL DEFAULT '',
        PRIMARY KEY (complaint_id, department)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.follow_ups (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        complaint_id uuid NOT NULL REFERENCES {S}.complaints(id),
        promise text NOT NULL,
        due_on date NOT NULL,
        method text NOT NULL DEFAULT '' CHECK (method IN ('','phone','on_site','undercover')),
        visited_at timestamptz,
        visited_by text NOT NULL DEFAULT '',
        result text NOT NULL DEFAULT ''
    )""")
    op.execute(f"CREATE INDEX follow_ups_complaint ON {S}.follow_ups (complaint_id)")
    op.execute(f"""
    CREATE TABLE {S}.complaint_sequences (
        tenant_code text NOT NULL,
        day date NOT NULL,
        last integer NOT NULL,
        PRIMARY KEY (tenant_code, day)
    )""")
    # what the complaints service knows of cases, from intake's and approval's events
    op.execute(f"""
    CREATE TABLE {S}.cases (
        case_number text PRIMARY KEY,
        tenant_code text NOT NULL,
        id_suffix text NOT NULL DEFAULT '',
        item_id text NOT NULL DEFAULT '',
        item_name text NOT NULL DEFAULT '',
        department text NOT NULL DEFAULT '',
        accepted_by text NOT NULL DEFAULT '',
        decided_by text NOT NULL DEFAULT '',
        accepted_at timestamptz,
        completed_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
    )""")
    op.execute(f"""
    CREATE TABLE {S}.ratings (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        channel text NOT NULL CHECK (channel IN ('case','window','unit_comment','supervision')),
        level integer NOT NULL CHECK (level BETWEEN 1 AND 5),
        case_number text NOT NULL DEFAULT '',
        id_suffix text NOT NULL DEFAULT '',
        item_id text NOT NULL DEFAULT '',
        item_name text NOT NULL DEFAULT '',
        staff text NOT NULL DEFAULT '',
        department text NOT NULL DEFAULT '',
        indicators jsonb NOT NULL DEFAULT '{{}}'::jsonb,
        text text NOT NULL DEFAULT '' CHECK (length(text) <= 1000),
        rater_name text NOT NULL DEFAULT '',
        rater_phone text NOT NULL DEFAULT '',
        rated_by text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL
    )""")
    # one rating per case and channel (一事一评)
    op.execute(f"CREATE UNIQUE INDEX ratings_one_per_case ON {S}.ratings (case_number, channel)"
               " WHERE case_number <> ''")
    op.execute(f"CREATE INDEX ratings_tenant ON {S}.ratings (tenant_code, created_at)")
    op.execute(f"""
    CREATE TABLE {S}.rectifications (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        rating_id uuid NOT NULL UNIQUE REFERENCES {S}.ratings(id),
        staff text NOT NULL DEFAULT '',
        case_number text NOT NULL DEFAULT '',
        id_suffix text NOT NULL DEFAULT '',
        status text NOT NULL CHECK (status IN ('open','answered','rated')),
        due_on date NOT NULL,
        due_trace text NOT NULL DEFAULT '',
        verification text NOT NULL DEFAULT '',
        measures text NOT NULL DEFAULT '',
        answer text NOT NULL DEFAULT '',
        answered_at timestamptz,
        answered_by text NOT NULL DEFAULT '',
        visit_required boolean NOT NULL,
        visit_method text NOT NULL DEFAULT '',
        visited_at timestamptz,
        visit_result text NOT NULL DEFAULT '',
        satisfaction text NOT NULL DEFAULT '',
        rated_at timestamptz,
        created_at timestamptz NOT NULL
    )""")
    op.execute(f"""
    CREATE TABLE {S}.appeals (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        rating_id uuid NOT NULL UNIQUE REFERENCES {S}.ratings(id),
        reason text NOT NULL,
        evidence text NOT NULL,
        filed_by text NOT NULL,
        filed_at timestamptz NOT NULL,
        UNIQUE (id, tenant_code)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.appeal_decisions (
        appeal_id uuid PRIMARY KEY,
        tenant_code text NOT NULL,            -- the deciding unit (a strict ancestor of the rated unit)
        rated_tenant text NOT NULL,
        rating_id uuid NOT NULL,
        upheld boolean NOT NULL,
        note text NOT NULL DEFAULT '',
        decided_by text NOT NULL,
        decided_at timestamptz NOT NULL,
        CHECK (rated_tenant LIKE tenant_code || '%' AND length(rated_tenant) > length(tenant_code)),
        FOREIGN KEY (appeal_id, rated_tenant) REFERENCES {S}.appeals (id, tenant_code)
    )""")
    # public figures: counts only, by unit, item and level; `counted` drops when an appeal is upheld
    op.execute(f"""
    CREATE TABLE {S}.rating_figures (
        unit text NOT NULL,
        item_id text NOT NULL DEFAULT '',
        level integer NOT NULL CHECK (level BETWEEN 1 AND 5),
        total integer NOT NULL DEFAULT 0,
        counted integer NOT NULL DEFAULT 0,
        PRIMARY KEY (unit, item_id, level)
    )""")

    for stmt in tenant_rls_statements(f"{S}.complaints", extra_read=f"{FILER_READ} OR ({FOLLOW_READ})"):
        op.execute(stmt)
    # the records told to the complainant are read on the public page, in the same scope as their complaint
    records_read = (f"public AND coalesce(current_setting('app.follow_number', true), '') <> ''"
                    f" AND complaint_id IN (SELECT c.id FROM {S}.complaints c WHERE c.number ="
                    " current_setting('app.follow_number', true)"
                    " AND c.follow_code = current_setting('app.follow_code', true))")
    for stmt in tenant_rls_statements(f"{S}.complaint_records", extra_read=records_read):
        op.execute(stmt)
    for table in ("complaint_departments", "follow_ups", "complaint_sequences", "rectifications", "appeals"):
        for stmt in tenant_rls_statements(f"{S}.{table}"):
            op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.cases", extra_read=CASE_READ):
        op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.ratings", extra_read=RATING_READ):
        op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.appeal_decisions", extra_read=DECISION_READ):
        op.execute(stmt)
    # ratings, appeals and decisions are records: added, never changed or removed by the application
    op.execute(f"REVOKE UPDATE, DELETE ON {S}.ratings, {S}.appeals, {S}.appeal_decisions FROM sanji_app")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {S}.rating_figures TO sanji_app")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {S}.complaint_records_id_seq TO sanji_app")
    for stmt in messaging_tables_statements(S):
        op.execute(stmt)
    for stmt in calendar_table_statements(S):
        op.execute(stmt)
    bind = op.get_bind()
    # the calendar's writes are open only to a transaction naming the region it publishes (shared.calendar_store)
    bind.execute(text("SELECT set_config('app.calendar_region', 'region:', true)"))
    # the national working-day calendar as the chinese-calendar package knows it (as intake and approval seed it)
    for year in DEFAULT_SEED_YEARS:
        cy = seed_year_from_package(year)
        bind.execute(text(f"INSERT INTO {S}.calendar_years (region, year, data, source, published_at, published_by)"
                          " VALUES ('', :y, CAST(:d AS jsonb), :s, :at, :by) ON CONFLICT DO NOTHING"),
                     {"y": year, "d": json.dumps(cy.to_dict(), ensure_ascii=False), "s": cy.source,
                      "at": cy.published_at, "by": cy.published_by})
