"""Approval schema: cases and their steps, the deadline ledger, inspections, decisions, certificates,
the one seal per tenant, desks, fee settlements, history, re-projections; back-office categories and
their mapping rules; the working-day calendar; outbox/inbox.

Revision ID: 0001
Revises:
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

S = "approval"

# 后台分类 (seed 004: 市场准入、社会事务（交通）、投资建设、涉农事务) — data, not code.
CATEGORIES = [("market_access", "市场准入", 1), ("investment", "投资建设", 2), ("social_affairs", "社会事务", 3),
              ("agriculture", "涉农事务", 4)]
# National default mapping: a department name containing the pattern → the category. A region (a division
# code prefix) may add its own rules; the lowest priority wins, then the most specific region.
DEPARTMENT_RULES = {
    "market_access": ["市场监督", "市场监管", "工商", "商务", "食品药品", "烟草", "经信", "经济和信息化"],
    "investment": ["发展和改革", "发改", "住房和城乡建设", "住建", "自然资源", "规划", "生态环境", "人防",
                   "人民防空", "消防", "应急管理", "综合行政执法"],
    "agriculture": ["农业农村", "农牧", "林业", "林草", "草原", "畜牧", "水务", "水利", "乡村振兴", "供销"],
    "social_affairs": ["民政", "教育", "卫生健康", "卫健", "人力资源", "社会保障", "残疾人", "文体旅游", "文化",
                       "交通", "公安", "司法", "医疗保障", "退役军人", "民宗"],
}
TYPE_RULES = [("20", "social_affairs"), ("05", "social_affairs"), ("07", "social_affairs")]

OPEN_STATES = "('review','decision')"


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.categories (
        code text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        sort integer NOT NULL DEFAULT 0
    )""")
    op.execute(f"""
    CREATE TABLE {S}.category_rules (
        id serial PRIMARY KEY,
        region text NOT NULL DEFAULT '' CHECK (region ~ '^([0-9]{{2}}|[0-9]{{4}}|[0-9]{{6}}|[0-9]{{9}}|[0-9]{{12}})?$'),
        kind text NOT NULL CHECK (kind IN ('department_contains', 'item_type', 'default')),
        pattern text NOT NULL DEFAULT '',
        category text NOT NULL REFERENCES {S}.categories(code),
        priority integer NOT NULL
    )""")
    op.execute(f"""
    CREATE TABLE {S}.cases (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        case_number text NOT NULL,
        application_id text NOT NULL,
        item_id text NOT NULL,
        item_version integer NOT NULL,
        item_name text NOT NULL DEFAULT '',
        item_type text NOT NULL DEFAULT '',
        department text NOT NULL DEFAULT '',
        category text NOT NULL REFERENCES {S}.categories(code),
        immediate boolean NOT NULL DEFAULT false,
        joint boolean NOT NULL DEFAULT false,
        joint_departments text[] NOT NULL DEFAULT '{{}}',
        has_fees boolean NOT NULL DEFAULT false,
        fee_codes text[] NOT NULL DEFAULT '{{}}',
        site_inspection text NOT NULL DEFAULT '',
        government_invested boolean NOT NULL DEFAULT false,
        key_project boolean NOT NULL DEFAULT false,
        applicant_name text NOT NULL DEFAULT '',
        scenario_code text NOT NULL DEFAULT '',
        scenario_name text NOT NULL DEFAULT '',
        materials jsonb NOT NULL DEFAULT '[]'::jsonb,
        accepted_at timestamptz NOT NULL,
        accepted_on date NOT NULL,
        accepted_by text NOT NULL DEFAULT '',
        proxy_tenant text NOT NULL DEFAULT '',
        promised_days integer NOT NULL CHECK (promised_days >= 0),
        statutory_days integer NOT NULL CHECK (statutory_days >= 0),
        status text NOT NULL CHECK (status IN ('review','decision','awaiting_fees','completed','delivered',
                                                'terminated')),
        opened_at timestamptz NOT NULL,
        fees_settled_at timestamptz,
        completed_at timestamptz,
        delivered_at timestamptz,
        delivery_method text NOT NULL DEFAULT '',
        delivered_by text NOT NULL DEFAULT '',
        delivery_recipient text NOT NULL DEFAULT '',
        delivery_tracking text NOT NULL DEFAULT '',
        -- a cache of the computed deadline, for queues and supervision (the ledger + calendar are the truth)
        promised_due date,
        statutory_due date,
        delivery_due date,
        due_provisional boolean NOT NULL DEFAULT false,
        clock_suspended boolean NOT NULL DEFAULT false,
        projected_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 0,
        CONSTRAINT cases_application UNIQUE (application_id),
        CONSTRAINT cases_number UNIQUE (tenant_code, case_number)
    )""")
    op.execute(f"CREATE INDEX cases_open_due ON {S}.cases (tenant_code, promised_due) WHERE status IN {OPEN_STATES}")
    op.execute(f"CREATE INDEX cases_statutory_due ON {S}.cases (tenant_code, statutory_due)"
               f" WHERE status IN {OPEN_STATES}")
    op.execute(f"CREATE INDEX cases_delivery_due ON {S}.cases (tenant_code, delivery_due)"
               " WHERE status IN ('awaiting_fees','completed')")
    op.execute(f"CREATE INDEX cases_tenant_status ON {S}.cases (tenant_code text_pattern_ops, status)")
    op.execute(f"""
    CREATE TABLE {S}.steps (
        id uuid PRIMARY KEY,
        case_id uuid NOT NULL REFERENCES {S}.cases(id),
        tenant_code text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('review','department_review','decision','window_decision')),
        desk text NOT NULL,
        seq integer NOT NULL,
        status text NOT NULL CHECK (status IN ('waiting','open','claimed','done','cancelled')),
        share_days integer NOT NULL DEFAULT 0,
        opened_at timestamptz,
        claimed_by text NOT NULL DEFAULT '',
        claimed_by_name text NOT NULL DEFAULT '',
        claimed_at timestamptz,
        done_by text NOT NULL DEFAULT '',
        done_by_name text NOT NULL DEFAULT '',
        done_at timestamptz,
        done_on date,
        opinion text NOT NULL DEFAULT '',
        conclusion text NOT NULL DEFAULT '',
        UNIQUE (case_id, seq)
    )""")
    op.execute(f"CREATE INDEX steps_queue ON {S}.steps (tenant_code, desk, kind) WHERE status = 'open'")
    op.execute(f"CREATE INDEX steps_claimed ON {S}.steps (tenant_code, claimed_by) WHERE status = 'claimed'")
    op.execute(f"""
    CREATE TABLE {S}.ledger (
        id uuid PRIMARY KEY,
        seq bigserial,
        case_id uuid NOT NULL REFERENCES {S}.cases(id),
        tenant_code text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('suspend','resume','extend')),
        procedure text NOT NULL DEFAULT '',
        reason text NOT NULL DEFAULT '',
        days integer NOT NULL DEFAULT 0,
        on_date date,
        at timestamptz NOT NULL,
        by_user text NOT NULL,
        by_name text NOT NULL DEFAULT '',
        approved_by text NOT NULL DEFAULT '',
        approved_by_name text NOT NULL DEFAULT '',
        ref uuid,
        notice_number text NOT NULL DEFAULT ''
    )""")
    op.execute(f"CREATE INDEX ledger_case ON {S}.ledger (case_id, seq)")
    op.execute(f"CREATE UNIQUE INDEX ledger_one_resume ON {S}.ledger (ref) WHERE kind = 'resume'")
    op.execute(f"""
    CREATE TABLE {S}.inspections (
        id uuid PRIMARY KEY,
        case_id uuid NOT NULL REFERENCES {S}.cases(id),
        tenant_code text NOT NULL,
        mode text NOT NULL CHECK (mode IN ('independent','joint','delegated')),
        departments text[] NOT NULL DEFAULT '{{}}',
        scheduled_on date NOT NULL,
        suspends boolean NOT NULL,
        status text NOT NULL CHECK (status IN ('scheduled','recorded')),
        inspectors text NOT NULL DEFAULT '',
        note text NOT NULL DEFAULT '',
        findings text NOT NULL DEFAULT '',
        conclusion text NOT NULL DEFAULT '',
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL,
        recorded_by text NOT NULL DEFAULT '',
        recorded_at timestamptz,
        suspension_id uuid
    )""")
    op.execute(f"CREATE INDEX inspections_case ON {S}.inspections (case_id)")
    op.execute(f"""
    CREATE TABLE {S}.decisions (
        case_id uuid PRIMARY KEY REFERENCES {S}.cases(id),   -- one decision per case
        tenant_code text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('approved','denied')),
        decider text NOT NULL,
        decider_name text NOT NULL DEFAULT '',
        at timestamptz NOT NULL,
        decided_on date NOT NULL,
        opinion text NOT NULL DEFAULT '',
        reasons text[] NOT NULL DEFAULT '{{}}',
        remedies text NOT NULL DEFAULT '',
        document_number text NOT NULL,
        immediate boolean NOT NULL DEFAULT false,
        CHECK (outcome = 'approved' OR cardinality(reasons) > 0),
        UNIQUE (tenant_code, document_number)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.seals (
        tenant_code text PRIMARY KEY,                          -- 一枚印章: one approval seal per tenant
        name text NOT NULL,
        code text NOT NULL,
        registered_at timestamptz NOT NULL DEFAULT now(),
        registered_by text NOT NULL
    )""")
    op.execute(f"""
    CREATE TABLE {S}.certificates (
        case_id uuid PRIMARY KEY REFERENCES {S}.cases(id),
        tenant_code text NOT NULL REFERENCES {S}.seals(tenant_code),
        number text NOT NULL,
        title text NOT NULL,
        holder text NOT NULL DEFAULT '',
        seal_name text NOT NULL,
        seal_code text NOT NULL,
        issued_at timestamptz NOT NULL,
        UNIQUE (tenant_code, number)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.history (
        id bigserial PRIMARY KEY,
        case_id uuid NOT NULL REFERENCES {S}.cases(id),
        tenant_code text NOT NULL,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        actor_name text NOT NULL DEFAULT '',
        action text NOT NULL,
        detail text NOT NULL DEFAULT '',
        opinion text NOT NULL DEFAULT ''
    )""")
    op.execute(f"CREATE INDEX history_case ON {S}.history (case_id, id)")
    op.execute(f"""
    CREATE TABLE {S}.deadline_changes (
        id bigserial PRIMARY KEY,
        case_id uuid NOT NULL REFERENCES {S}.cases(id),
        tenant_code text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        cause text NOT NULL,
        previous_promised_due date, promised_due date,
        previous_statutory_due date, statutory_due date,
        previous_delivery_due date, delivery_due date,
        provisional boolean NOT NULL DEFAULT false
    )""")
    op.execute(f"CREATE INDEX deadline_changes_case ON {S}.deadline_changes (case_id, id)")
    op.execute(f"""
    CREATE TABLE {S}.desks (
        tenant_code text NOT NULL,
        username text NOT NULL,
        desk text NOT NULL,
        display_name text NOT NULL DEFAULT '',
        assigned_by text NOT NULL,
        assigned_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_code, username, desk)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.fee_settlements (
        tenant_code text NOT NULL,
        case_number text NOT NULL,
        paid_fen bigint NOT NULL DEFAULT 0,
        waived_fen bigint NOT NULL DEFAULT 0,
        waived_in_full boolean NOT NULL DEFAULT false,
        settled_at timestamptz NOT NULL,
        event_id uuid NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_code, case_number)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.counters (
        tenant_code text NOT NULL,
        kind text NOT NULL,
        year integer NOT NULL,
        value bigint NOT NULL,
        PRIMARY KEY (tenant_code, kind, year)
    )""")

    for table in ("cases", "steps", "ledger", "inspections", "decisions", "seals", "certificates", "history",
                  "deadline_changes", "desks", "fee_settlements", "counters"):
        for stmt in tenant_rls_statements(f"{S}.{table}"):
            op.execute(stmt)
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {S}.ledger_seq_seq, {S}.history_id_seq,"
               f" {S}.deadline_changes_id_seq TO sanji_app")
    # reference data (public): the app reads it; operators (owner) maintain it
    op.execute(f"GRANT SELECT ON {S}.categories, {S}.category_rules TO sanji_app")
    for stmt in messaging_tables_statements(S, rls=False):
        op.execute(stmt)
    for stmt in calendar_table_statements(S, rls=False):
        op.execute(stmt)

    bind = op.get_bind()
    for code, name, sort in CATEGORIES:
        bind.execute(text(f"INSERT INTO {S}.categories (code, name, sort) VALUES (:c, :n, :s)"),
                     {"c": code, "n": name, "s": sort})
    rules = [("department_contains", p, cat, 10) for cat, patterns in DEPARTMENT_RULES.items() for p in patterns]
    rules += [("item_type", t, cat, 20) for t, cat in TYPE_RULES]
    rules.append(("default", "", "social_affairs", 90))
    for kind, pattern, cat, prio in rules:
        bind.execute(text(f"INSERT INTO {S}.category_rules (region, kind, pattern, category, priority)"
                          " VALUES ('', :k, :p, :c, :prio)"), {"k": kind, "p": pattern, "c": cat, "prio": prio})
    # The national working-day calendar as the chinese-calendar package knows it; later years are
    # published by a tenant_admin (PublishCalendarYear), which re-projects the open cases.
    for year in DEFAULT_SEED_YEARS:
        cy = seed_year_from_package(year)
        bind.execute(text(f"INSERT INTO {S}.calendar_years (region, year, data, source, published_at, published_by)"
                          " VALUES ('', :y, CAST(:d AS jsonb), :s, :at, :by) ON CONFLICT DO NOTHING"),
                     {"y": year, "d": json.dumps(cy.to_dict(), ensure_ascii=False), "s": cy.source,
                      "at": cy.published_at, "by": cy.published_by})
