"""`make volume`: a year of a large county in a bench database of its own (issue 22 item 4).

1,000,000 cases (CASES=…) with their history, notices and fees, so that `make bench ONLY=lists` measures
the lists people open all day against the volume a county holds after a year, not against an empty table.

How: first a few dozen template cases go through the real processes (the lifecycle bench's path: the
window, the back office, the fee window, the province's signed callback), in the four states a county's
year holds — delivered (most), waiting in a reviewer's queue, waiting for payment on an issued notice, and
completed with the result waiting at the window to be handed out (what the window's 待出件 counts).
Not held: applications still awaiting the window's decision or a correction (they have no case number yet, by
which every row here is cloned); at any moment they are the day's few.
Then each template is cloned in bulk SQL as the owner, bound to the county as the services bind it (every
row keeps the tenant columns its template has, so RLS sees them as the county's): every uuid is mapped
(md5 of the uuid and the clone's number, so foreign keys stay joined), every case/notice/payment number
gets the clone's number in its last eight characters, every date and time moves back by the clone's age
(up to a year for the delivered, a few days for the waiting), and every JSON document gets its case number
rewritten. Clones are numbered and written oldest first, as a year's rows reach a county's tables: written in
random order (until 2026-12-07), a table's rows lay in no relation to their time (received_at's correlation
0.004, now 0.9998), and the window list's capped count touched 463 buffers for its 1,001 entries (now 49; its
time hardly moved, 0.64 → 0.62 ms: the read policy evaluated on each entry is most of it).
Tables cloned: intake (applications, notices, deadlines), approval (cases, steps, history, ledger, decisions,
certificates, deadline changes, fee settlements), fees (cases, lines, notices, payments). Not cloned: the
outboxes and inboxes (a year's events have long been relayed) and the read models of supervision, complaints
and docking (no list here reads them). Then each cloned table is vacuumed and analyzed, as autovacuum leaves a
table after a bulk load.

Seeded: the same --seed gives the same mix of states, templates and ages (hashtext of seed and clone).

    python -m tests.bench.volume --cases 1000000 [--seed 22] [--database sanji_volume]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

COUNTY = "620602"
DEFAULT_DATABASE = "sanji_volume"
# templates per state, and each state's share of the year's cases. A default: a county decides most of
# its year's cases; what waits at any moment is the last few weeks' (承诺时限 of 5–15 working days)
# A result ready and not yet collected (待出件) waits at the window for days: ~1% of a year is the last ten days'
# results of a county that hands most of them out by post or through the village points (a default)
TEMPLATES = {"delivered": 24, "open": 8, "notice": 8, "pickup": 8}
SHARES = {"delivered": 0.94, "open": 0.03, "notice": 0.02, "pickup": 0.01}
MAX_AGE_DAYS = {"delivered": 365, "open": 15, "notice": 10, "pickup": 10}
BATCH = 50_000

# tables in insert order (foreign keys), each with how its rows reach their template's case number
CLONED = [
    ("intake.applications", "JOIN vol_map m ON m.tmpl = x.case_number"),
    ("intake.notices", "JOIN intake.applications a ON a.id = x.application_id"
                       " JOIN vol_map m ON m.tmpl = a.case_number"),
    ("intake.deadlines", "JOIN intake.applications a ON a.id = x.application_id"
                         " JOIN vol_map m ON m.tmpl = a.case_number"),
    ("approval.cases", "JOIN vol_map m ON m.tmpl = x.case_number"),
    *[(f"approval.{t}", "JOIN approval.cases c ON c.id = x.case_id JOIN vol_map m ON m.tmpl = c.case_number")
      for t in ("steps", "history", "ledger", "decisions", "certificates", "deadline_changes", "inspections")],
    ("approval.fee_settlements", "JOIN vol_map m ON m.tmpl = x.case_number"),
    ("fees.cases", "JOIN vol_map m ON m.tmpl = x.case_number"),
    ("fees.lines", "JOIN vol_map m ON m.tmpl = x.case_number"),
    ("fees.notices", "JOIN vol_map m ON m.tmpl = x.case_number"),
    ("fees.payments", "JOIN fees.notices n ON n.notice_number = x.matched_notice"
                      " JOIN vol_map m ON m.tmpl = n.case_number"),
]
# text columns that number a thing uniquely: the clone's number replaces their last eight characters
NUMBERED = {"case_number", "notice_number", "matched_notice", "payment_id", "idempotency_key", "number",
            "document_number", "verification_code"}
UUID_TEXT = {"application_id"}                   # a uuid kept as text (approval.cases): mapped like a uuid


def numbered(expr: str) -> str:
    return f"(left({expr}, greatest(length({expr}) - 8, 0)) || 'V' || lpad(m.g::text, 7, '0'))"


def _select_list(conn, table: str) -> tuple[list[str], list[str]]:
    schema, name = table.split(".")
    cols = conn.execute(text(
        "SELECT column_name, udt_name, coalesce(column_default, '') FROM information_schema.columns"
        " WHERE table_schema = :s AND table_name = :t ORDER BY ordinal_position"), {"s": schema, "t": name}).all()
    names, exprs = [], []
    for col, udt, default in cols:
        if default.startswith("nextval("):
            continue                                   # a serial: the clone takes the next one
        x = f'x."{col}"'
        if udt == "uuid":
            e = f"md5({x}::text || ':' || m.g)::uuid"
        elif col in UUID_TEXT:
            e = f"md5({x} || ':' || m.g)::uuid::text"
        elif col in NUMBERED:
            e = numbered(x)
        elif udt == "timestamptz":
            e = f"{x} - m.age * interval '1 day'"
        elif udt == "date":
            e = f"{x} - m.age"
        elif udt == "jsonb":
            e = f"replace({x}::text, m.tmpl, {numbered('m.tmpl')})::jsonb"
        else:
            e = x
        names.append(f'"{col}"')
        exprs.append(e)
    return names, exprs


def templates(database: str, vhost: str) -> dict[str, list[str]]:
    """The template cases, through the real processes on a fresh database: {state: [case numbers]}."""
    from infra import migrate
    from infra.demo.load import DIVISIONS, load_approval_setup, load_catalogue, load_demo_users
    from infra.local import bootstrap
    from infra.local.platform import Platform, Ports
    from services.catalogue.admin import import_units
    from services.fees.demo import load_demo_fees
    from shared.config import PlatformSettings
    from tests.bench.bench_lifecycle import Lifecycle

    bootstrap.main(["--database", database, "--vhost", vhost, "--recreate"])
    settings = PlatformSettings(
        database_url=f"postgresql+psycopg://sanji_app:sanji_app@127.0.0.1:5432/{database}",
        database_owner_url=f"postgresql+psycopg://sanji_owner:sanji_owner@127.0.0.1:5432/{database}",
        amqp_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}")
    migrate.migrate_all(settings.database_owner_url)
    import_units(settings.database_owner_url, DIVISIONS.read_text(encoding="utf-8"))
    load_demo_fees(settings.database_owner_url)
    platform = Platform(run_dir=Path(tempfile.mkdtemp(prefix="sanji-volume-")), ports=Ports.free(),
                        env={"SANJI_DATABASE_URL": settings.database_url, "SANJI_AMQP_URL": settings.amqp_url,
                             "SANJI_DATABASE_OWNER_URL": settings.database_owner_url, "SANJI_LOG_LEVEL": "WARNING"})
    out: dict[str, list[str]] = {}
    try:
        platform.start_oidc()
        for name in ("catalogue", "intake", "approval", "fees"):
            platform.start_service(name)
        users = load_demo_users()
        load_catalogue(platform.catalogue_target, platform.oidc_url, users)
        load_approval_setup(platform.target("approval"), platform.oidc_url, users)
        life = Lifecycle(platform, intake_target=platform.target("intake"),
                         approval_target=platform.target("approval"))
        try:
            for state, count in TEMPLATES.items():
                life.cases.clear()
                for _ in range(count):
                    life.one(until="" if state == "delivered" else state)
                out[state] = list(life.cases)
                print(f"templates {state}: {len(out[state])}", flush=True)
        finally:
            life.close()
    finally:
        platform.stop()
    return out


def clone(owner_url: str, tmpl: dict[str, list[str]], cases: int, seed: int) -> dict[str, int]:
    from sqlalchemy import create_engine

    eng = create_engine(owner_url)
    with eng.connect() as conn:                          # one session: its temp tables, its commits per batch
        conn.execute(text("SELECT set_config('app.tenant', :t, false)"), {"t": COUNTY})
        conn.execute(text("CREATE TEMP TABLE vol_tmpl (state text, i int, tmpl text)"))
        for state, numbers in tmpl.items():
            for i, n in enumerate(numbers):
                conn.execute(text("INSERT INTO vol_tmpl VALUES (:s, :i, :n)"), {"s": state, "i": i, "n": n})
        # each clone: a state by the shares, a template of that state, an age within the state's span
        bounds, acc = [], 0.0
        for state, share in SHARES.items():
            acc += share
            bounds.append((state, round(acc * 10_000)))
        case_expr = " ".join(f"WHEN r.p < {b} THEN '{s}'" for s, b in bounds)
        age_expr = " ".join(f"WHEN '{s}' THEN abs(hashtext(:seed || ':a:' || g)) % {d}"
                            for s, d in MAX_AGE_DAYS.items())
        counts = " ".join(f"WHEN '{s}' THEN {len(n)}" for s, n in tmpl.items())
        # then numbered oldest first (g), as a county's year is appended day by day: the clones are written in
        # that order, so a row's place in its table follows its time as in a real year's tables, and case numbers
        # rise with time as the real ones do
        conn.execute(text(f"""
            CREATE TEMP TABLE vol_map AS
            SELECT row_number() OVER (ORDER BY c.age DESC, c.draw) AS g, c.state, c.tmpl, c.age FROM (
            SELECT g AS draw, st.state, t.tmpl, (CASE st.state {age_expr} END) AS age
              FROM generate_series(1, :n) g
              CROSS JOIN LATERAL (SELECT abs(hashtext(:seed || ':s:' || g)) % 10000 AS p) r
              CROSS JOIN LATERAL (SELECT CASE {case_expr} ELSE 'delivered' END AS state) st
              JOIN vol_tmpl t ON t.state = st.state
               AND t.i = abs(hashtext(:seed || ':t:' || g)) % (CASE st.state {counts} END)) c"""),
                     {"n": cases, "seed": str(seed)})
        conn.execute(text("CREATE INDEX ON vol_map (tmpl, g)"))
        conn.execute(text("ANALYZE vol_map"))
        conn.commit()
        conn.execute(text("SELECT set_config('app.tenant', :t, false)"), {"t": COUNTY})
        made: dict[str, int] = {}
        for table, path in CLONED:
            names, exprs = _select_list(conn, table)
            t0, n = time.perf_counter(), 0
            for lo in range(1, cases + 1, BATCH):
                n += conn.execute(text(
                    f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(exprs)} FROM {table} x {path}"
                    " WHERE m.g BETWEEN :lo AND :hi ORDER BY m.g"), {"lo": lo, "hi": lo + BATCH - 1}).rowcount
                conn.commit()
                conn.execute(text("SELECT set_config('app.tenant', :t, false)"), {"t": COUNTY})
            made[table] = n
            print(f"{table}: {n:,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
        states = dict(conn.execute(text("SELECT state, count(*) FROM vol_map GROUP BY state")).all())
        print("cases by state:", states, flush=True)
    # what autovacuum does to a table after a bulk load (a server may run without it, as this machine's does):
    # the statistics, and the visibility map, without which every index-only scan of the lists (the capped
    # counts) fetches each row's heap page too
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table, _ in CLONED:
            t0 = time.perf_counter()
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))
            print(f"{table}: vacuumed and analyzed in {time.perf_counter() - t0:.1f} s", flush=True)
    eng.dispose()
    return made


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="fill a bench database with a year of a large county")
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--database", default=os.environ.get("SANJI_VOLUME_DATABASE", DEFAULT_DATABASE))
    args = ap.parse_args(argv)
    os.environ.setdefault("SANJI_MODE", "development")
    t0 = time.perf_counter()
    tmpl = templates(args.database, args.database)
    owner_url = f"postgresql+psycopg://sanji_owner:sanji_owner@127.0.0.1:5432/{args.database}"
    clone(owner_url, tmpl, args.cases, args.seed)
    print(f"{args.database}: {args.cases:,} cases (seed {args.seed}) in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
