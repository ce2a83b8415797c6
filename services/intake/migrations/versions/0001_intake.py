"""Intake schema: applications, the deadline index, notices and their templates, case-number
sequences, applicant profiles, the working-day calendar, outbox/inbox.

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

S = "intake"
STATUSES = "'received','correction','accepted','rejected','terminated','completed','picked_up'"
# The public progress lookup (no login) sees one row: the transaction names the case number and the
# applicant's ID suffix, and only a row matching both is visible.
LOOKUP_READ = ("case_number IS NOT NULL AND case_number = current_setting('app.lookup_case', true)"
               " AND applicant_id_suffix = current_setting('app.lookup_suffix', true)")
# The deadline sweep (machine work) finds which tenants have something due; it then acts per tenant.
SWEEP_READ = "current_setting('app.sweep', true) = 'on'"

_REMEDIES = ("如对本决定不服，可以自收到本通知书之日起六十日内依法申请行政复议，"
             "或者自收到本通知书之日起六个月内依法向人民法院提起行政诉讼。")
TEMPLATES = [
    ("acceptance", 1, "受理通知书",
     "$applicant_name：\n"
     "你（单位）于$received_date提出的“$item_name”申请，经审查，申请材料齐全、符合法定形式，根据"
     "《中华人民共和国行政许可法》第三十二条的规定，决定予以受理。\n"
     "办件编号：$case_number，受理日期：$accepted_date。本事项承诺办结时限为$promised_limit。"
     "$immediate_clause$waived_clause\n"
     "请妥善保管本通知书，凭办件编号查询办理进度、领取办理结果。"),
    ("correction", 1, "补正材料通知书",
     "$applicant_name：\n"
     "你（单位）于$received_date提出的“$item_name”申请，经审查，申请材料不齐全或者不符合法定形式。根据"
     "《中华人民共和国行政许可法》第三十二条第一款第（四）项的规定，现一次性告知你（单位）需要补正的全部内容"
     "（见下表，第 $round 次告知）。\n"
     "请按要求补正后提交。补正期间不计入受理期限；材料补正后，本机关将依法作出是否受理的决定。\n"
     "申请编号：$application_id。"),
    ("rejection", 1, "不予受理通知书",
     "$applicant_name：\n"
     "你（单位）于$received_date提出的“$item_name”申请，经审查，$reason。根据$legal_basis的规定，"
     "决定不予受理。\n" + _REMEDIES),
    ("termination", 1, "终止办理通知书",
     "$applicant_name：\n"
     "你（单位）申请的“$item_name”（办件编号：$case_number）已于$accepted_date容缺受理。$reason。"
     "本机关决定终止办理该申请。你（单位）可在备齐全部材料后重新提出申请。\n" + _REMEDIES),
    ("deemed_acceptance", 1, "受理通知书（视为受理）",
     "$applicant_name：\n"
     "你（单位）于$received_date提出的“$item_name”申请，本机关未在收到申请材料之日起五个工作日内"
     "（截至$decision_due）作出受理决定或者一次性告知需要补正的内容。根据《中华人民共和国行政许可法》"
     "第三十二条第一款第（四）项“逾期不告知的，自收到申请材料之日起即为受理”的规定，该申请自$received_date"
     "起视为受理。\n"
     "办件编号：$case_number。本事项承诺办结时限为$promised_limit，自受理之日起计算。"),
]


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE {S}.applications (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        origin_tenant text NOT NULL,
        idempotency_key text NOT NULL,
        item_id uuid NOT NULL,
        item_version integer NOT NULL,
        item_name text NOT NULL,
        scenario_code text NOT NULL,
        channel smallint NOT NULL CHECK (channel BETWEEN 1 AND 4),
        status text NOT NULL CHECK (status IN ({STATUSES})),
        applicant_id_number text NOT NULL,
        applicant_id_suffix text NOT NULL,
        case_number text UNIQUE,
        received_at timestamptz NOT NULL,
        received_on date NOT NULL,
        decision_due date,
        promise_due date,
        accepted_on date,
        proxy_tenant text,
        proxy_request_id text,
        doc jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_code, origin_tenant, idempotency_key)
    )""")
    # the due-time indexes of the sweep (deemed acceptance, 容缺 expiry)
    op.execute(f"CREATE INDEX applications_decision_due ON {S}.applications (tenant_code, decision_due)"
               " WHERE status = 'received'")
    op.execute(f"CREATE INDEX applications_promise_due ON {S}.applications (tenant_code, promise_due)"
               " WHERE status = 'accepted' AND promise_due IS NOT NULL")
    op.execute(f"CREATE INDEX applications_list ON {S}.applications (tenant_code text_pattern_ops, received_at DESC)")
    op.execute(f"""
    CREATE TABLE {S}.deadlines (
        application_id uuid NOT NULL REFERENCES {S}.applications(id),
        kind text NOT NULL CHECK (kind IN ('decision', 'promise')),
        tenant_code text NOT NULL,
        due_on date NOT NULL,
        PRIMARY KEY (application_id, kind)
    )""")
    op.execute(f"CREATE INDEX deadlines_due ON {S}.deadlines (due_on, tenant_code)")
    op.execute(f"""
    CREATE TABLE {S}.notices (
        id uuid PRIMARY KEY,
        tenant_code text NOT NULL,
        application_id uuid NOT NULL REFERENCES {S}.applications(id),
        kind text NOT NULL,
        template_version integer NOT NULL,
        title text NOT NULL,
        issued_at timestamptz NOT NULL,
        data jsonb NOT NULL
    )""")
    op.execute(f"CREATE INDEX notices_application ON {S}.notices (application_id, issued_at)")
    op.execute(f"""
    CREATE TABLE {S}.notice_templates (
        kind text NOT NULL,
        version integer NOT NULL CHECK (version >= 1),
        title text NOT NULL,
        body text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, version)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.case_sequences (
        tenant_code text NOT NULL,
        year integer NOT NULL,
        last integer NOT NULL CHECK (last >= 0),
        PRIMARY KEY (tenant_code, year)
    )""")
    op.execute(f"""
    CREATE TABLE {S}.applicant_profiles (
        tenant_code text NOT NULL,
        id_number text NOT NULL,
        data jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_code, id_number)
    )""")

    for stmt in tenant_rls_statements(f"{S}.applications", extra_read=LOOKUP_READ):
        op.execute(stmt)
    for stmt in tenant_rls_statements(f"{S}.deadlines", extra_read=SWEEP_READ):
        op.execute(stmt)
    for table in ("notices", "case_sequences", "applicant_profiles"):
        for stmt in tenant_rls_statements(f"{S}.{table}"):
            op.execute(stmt)
    op.execute(f"GRANT SELECT ON {S}.notice_templates TO sanji_app")
    for stmt in messaging_tables_statements(S, rls=False):
        op.execute(stmt)
    for stmt in calendar_table_statements(S, rls=False):
        op.execute(stmt)

    bind = op.get_bind()
    for kind, version, title, body in TEMPLATES:
        bind.execute(text(f"INSERT INTO {S}.notice_templates (kind, version, title, body) VALUES (:k, :v, :t, :b)"),
                     {"k": kind, "v": version, "t": title, "b": body})
    # The national working-day calendar as the chinese-calendar package knows it; later years are
    # published by an administrator (`python -m shared.calendar_store publish --schema intake …`).
    for year in DEFAULT_SEED_YEARS:
        cy = seed_year_from_package(year)
        bind.execute(text(f"INSERT INTO {S}.calendar_years (region, year, data, source, published_at, published_by)"
                          " VALUES ('', :y, CAST(:d AS jsonb), :s, :at, :by) ON CONFLICT DO NOTHING"),
                     {"y": year, "d": json.dumps(cy.to_dict(), ensure_ascii=False), "s": cy.source,
                      "at": cy.published_at, "by": cy.published_by})
