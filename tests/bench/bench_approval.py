"""The approval service as a real process: cases opened from `application_accepted`, then review and
decision through gRPC with 16 calls in flight, beside the bare grpcio echo measured in the same run; and
the re-projection of 100,000 open cases after a calendar correction, beside a bare PostgreSQL UPDATE of
the same rows, with its peak memory (a child process, so the figure is the re-projection's own).

Per case: open (the consumer handles intake's event) → claim the review → complete it → claim the
decision → decide (approved; no fees, so the case completes in the same transaction).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
import uuid

import grpc
import pika
from sanji.approval.v1 import approval_pb2 as pb
from sanji.approval.v1 import approval_pb2_grpc
from sanji.intake.v1 import events_pb2 as intake_ev
from sqlalchemy import text

from conftest import free_port
from infra.demo.load import load_demo_users
from infra.oidc.client import login
from shared.clock import CHINA_TZ
from shared.db import Database, message_to_json, owner_connection
from shared.grpc.client import bearer
from shared.messaging import to_amqp
from tests.bench.bench_grpc import IN_FLIGHT, drive, echo_baseline
from tests.bench.common import Figure, percentile

N_CASES = 10_000    # the figure: open → review → decide → complete for 10,000 cases
N_REPROJECT = 100_000
TENANT = "620602"
REPROJECT_TENANT = "620621"       # 民勤县: a county of its own, so the 100,000 cases touch nothing else
DESK = "market_access"


def _tokens(platform) -> dict[str, tuple]:
    users = {u["username"]: u for u in load_demo_users()}
    return {name: bearer(login(platform.oidc_url, name, users[name]["password"]))
            for name in ("county.admin", "county.reviewer", "county.reviewer2", "county.decider", "county.decider2")}


def _accepted(n: int, run: str, day: dt.date) -> intake_ev.ApplicationAccepted:
    return intake_ev.ApplicationAccepted(
        application_id=str(uuid.uuid4()), tenant=TENANT, case_number=f"{TENANT}-B{run}-{n:06d}",
        item_id=str(uuid.uuid4()), item_version=1, case_kind="2",
        accepted_at=dt.datetime.combine(day, dt.time(10), CHINA_TZ).isoformat(),
        applicant_name="武威市凉州区利民食品店", item_name="食品经营许可", item_type="01",
        department="凉州区市场监督管理局", promised_limit_days=10, statutory_limit_days=20,
        materials=[intake_ev.AcceptedMaterial(code="M1", name="食品经营许可申请书", supplied=True, core=True)])


def _open_cases(platform, db: Database, run: str, n: int) -> tuple[float, list[str]]:
    """Publish n application_accepted events as intake's relay would; wait until n cases are open."""
    conn = pika.BlockingConnection(pika.URLParameters(platform.env["SANJI_AMQP_URL"]))
    ch = conn.channel()
    ch.exchange_declare("intake.events", exchange_type="topic", durable=True)
    ch.confirm_delivery()
    day = dt.date.today()
    t0 = time.perf_counter()
    for i in range(n):
        msg = _accepted(i, run, day)
        row = {"id": str(uuid.uuid4()), "exchange": "intake.events", "routing_key": "application_accepted",
               "tenant": TENANT, "correlation_id": msg.case_number, "event_version": 1, "body": message_to_json(msg),
               "headers": {}, "created_at": dt.datetime.now(dt.UTC)}
        exchange, routing_key, props, body = to_amqp(row)
        ch.basic_publish(exchange, routing_key, body, props)
    conn.close()
    like = f"{TENANT}-B{run}-%"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with db.unit_of_work(tenant=TENANT) as uow:
            opened = uow.session.execute(text("SELECT count(*) FROM approval.cases WHERE case_number LIKE :l"),
                                         {"l": like}).scalar_one()
        if opened >= n:
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - t0
    with db.unit_of_work(tenant=TENANT) as uow:
        rows = uow.session.execute(text("SELECT id FROM approval.cases WHERE case_number LIKE :l ORDER BY case_number"),
                                   {"l": like}).all()
    return n / elapsed, [str(r[0]) for r in rows]


def _steps(db: Database, case_ids: list[str]) -> tuple[list[str], list[str]]:
    with db.unit_of_work(tenant=TENANT) as uow:
        rows = uow.session.execute(text("SELECT case_id, id, kind FROM approval.steps"
                                        " WHERE case_id = ANY(CAST(:ids AS uuid[]))"), {"ids": case_ids}).all()
    by = {(str(r[0]), r[2]): str(r[1]) for r in rows}
    return [by[(c, "review")] for c in case_ids], [by[(c, "decision")] for c in case_ids]


def _phase(fn, items: list, md_of) -> tuple[float, list[float]]:
    """Run fn(item, md) once per item over IN_FLIGHT threads; calls/s and latencies (ms)."""
    it = iter(items)
    lock = threading.Lock()

    def call():
        with lock:
            item = next(it)
        return fn(item, md_of(item))
    return drive(call, len(items) - len(items) % IN_FLIGHT)


def _cases_figures(platform, db: Database) -> list[Figure]:
    md = _tokens(platform)
    target = platform.target("approval")
    with grpc.insecure_channel(target) as channel:
        stub = approval_pb2_grpc.ApprovalServiceStub(channel)
        for user in ("county.reviewer", "county.reviewer2", "county.decider", "county.decider2"):
            stub.ListDesks(pb.ListDesksRequest(), metadata=md[user], timeout=10)   # seen as the unit's staff
            stub.AssignDesks(pb.AssignDesksRequest(username=user, desks=[DESK]), metadata=md["county.admin"],
                             timeout=10)
        try:
            stub.RegisterSeal(pb.RegisterSealRequest(name="凉州区行政审批局行政审批专用章", code="6206020000001"),
                              metadata=md["county.admin"], timeout=10)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
        run = uuid.uuid4().hex[:6]
        open_rate, case_ids = _open_cases(platform, db, run, N_CASES)
        n = len(case_ids) - len(case_ids) % IN_FLIGHT
        case_ids = case_ids[:n]
        reviews, decisions = _steps(db, case_ids)
        # two reviewers and two deciders, so the same person never reviews and decides one case
        reviewer = {s: md["county.reviewer" if i % 2 else "county.reviewer2"] for i, s in enumerate(reviews)}
        decider = {c: md["county.decider" if i % 2 else "county.decider2"] for i, c in enumerate(case_ids)}
        dsteps = dict(zip(case_ids, decisions, strict=True))
        claim = stub.ClaimTask
        phases = [
            ("claim review", lambda s, m: claim(pb.ClaimTaskRequest(step_id=s), metadata=m, timeout=30), reviews,
             reviewer.__getitem__),
            ("complete review", lambda s, m: stub.CompleteReview(pb.CompleteReviewRequest(
                step_id=s, opinion="材料齐全，符合法定条件"), metadata=m, timeout=30), reviews, reviewer.__getitem__),
            ("claim decision", lambda c, m: claim(pb.ClaimTaskRequest(step_id=dsteps[c]), metadata=m, timeout=30),
             case_ids, decider.__getitem__),
            ("decide (approve → complete)", lambda c, m: stub.Decide(pb.DecideRequest(
                case_id=c, outcome="approve", opinion="准予许可"), metadata=m, timeout=30), case_ids,
             decider.__getitem__),
        ]
        base_rate, base_lat = echo_baseline(free_port(), 4000)
        out = [Figure("approval: cases opened from application_accepted (consumer)", open_rate, "cases/s",
                      note=f"{N_CASES:,} events published, then waited for")]
        t_all, calls = 0.0, 0
        for name, fn, items, md_of in phases:
            t0 = time.perf_counter()
            rate, lat = _phase(fn, items, md_of)
            t_all += time.perf_counter() - t0
            calls += len(lat)
            out.append(Figure(f"approval {name} ({IN_FLIGHT} in flight)", rate, "calls/s", "bare grpcio echo",
                              base_rate))
            out.append(Figure(f"approval {name} p99", percentile(lat, 99), "ms", "echo p99",
                              percentile(base_lat, 99), higher_is_better=False))
        out.append(Figure(f"approval case actions, all four kinds ({n:,} cases)", calls / t_all, "actions/s",
                          "bare grpcio echo", base_rate, note="aim ≥ 200 actions/s"))
        with db.unit_of_work(tenant=TENANT) as uow:
            done = uow.session.execute(text("SELECT count(*) FROM approval.cases WHERE id = ANY(CAST(:ids AS uuid[]))"
                                            " AND status = 'completed'"), {"ids": case_ids}).scalar_one()
        if done != n:
            raise RuntimeError(f"only {done} of {n} cases completed")
    return out


# -- re-projection --------------------------------------------------------------------------------------

def _seed_open_cases(owner_url: str, n: int) -> None:
    """n open cases of REPROJECT_TENANT (accepted over half a year, 5–30 promised days), a tenth with a
    resumed suspension and a twentieth extended — written in bulk as the owner, bound to the tenant."""
    with owner_connection(owner_url) as conn:
        conn.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": REPROJECT_TENANT})
        conn.execute(text("DELETE FROM approval.ledger WHERE tenant_code = :t"), {"t": REPROJECT_TENANT})
        conn.execute(text("DELETE FROM approval.deadline_changes WHERE tenant_code = :t"), {"t": REPROJECT_TENANT})
        conn.execute(text("DELETE FROM approval.cases WHERE tenant_code = :t"), {"t": REPROJECT_TENANT})
        conn.execute(text("""
            INSERT INTO approval.cases (id, tenant_code, case_number, application_id, item_id, item_version, item_name,
                category, accepted_at, accepted_on, promised_days, statutory_days, status, opened_at)
            SELECT gen_random_uuid(), :t, :t || '-R' || lpad(g::text, 7, '0'), 'bench-' || g, 'item-bench', 1,
                   '建筑工程施工许可', 'investment', d::timestamptz, d, 5 + g % 26, 20, 'review', now()
              FROM generate_series(1, :n) g, LATERAL (SELECT date '2026-06-01' + (g % 180) AS d) x"""),
                     {"t": REPROJECT_TENANT, "n": n})
        conn.execute(text("""
            WITH s AS (
                INSERT INTO approval.ledger (id, case_id, tenant_code, kind, procedure, reason, days, on_date, at,
                    by_user)
                SELECT gen_random_uuid(), id, tenant_code, 'suspend', 'expert_review', '专家评审', 5,
                       accepted_on + 3, now(), 'bench'
                  FROM approval.cases WHERE tenant_code = :t AND right(case_number, 1) = '0'
                RETURNING id, case_id, on_date)
            INSERT INTO approval.ledger (id, case_id, tenant_code, kind, procedure, on_date, at, by_user, ref)
            SELECT gen_random_uuid(), case_id, :t, 'resume', 'expert_review', on_date + 7, now(), 'bench', id
              FROM s"""),
                     {"t": REPROJECT_TENANT})
        conn.execute(text("""
            INSERT INTO approval.ledger (id, case_id, tenant_code, kind, reason, days, on_date, at, by_user)
            SELECT gen_random_uuid(), id, tenant_code, 'extend', '情况复杂', 10, accepted_on + 5, now(), 'bench'
              FROM approval.cases WHERE tenant_code = :t AND right(case_number, 2) IN ('05', '55')"""),
                     {"t": REPROJECT_TENANT})


def reproject_child(database_url: str, region: str, cause: str) -> None:
    """In a child process: one re-projection; prints seconds, rows and peak RSS as JSON."""
    import resource

    from services.approval.administration import AdministrationHandlers
    from services.approval.translate import EventsOut
    from shared.clock import Clock

    def rss_kb(field: str) -> int:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

    db = Database.connect(database_url, schema="approval", pool_size=2)
    handlers = AdministrationHandlers(db, Clock(), EventsOut())
    handlers.list_categories()
    before = rss_kb("VmRSS")
    t0 = time.perf_counter()
    report = handlers.reproject(region, cause)
    seconds = time.perf_counter() - t0
    peak = max(rss_kb("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    db.dispose()
    print(json.dumps({"seconds": seconds, "examined": report.examined, "changed": report.changed,
                      "rss_before_kb": before, "rss_peak_kb": peak}))


def _run_child(platform, cause: str) -> dict:
    code = ("import sys; from tests.bench.bench_approval import reproject_child; "
            "reproject_child(sys.argv[1], sys.argv[2], sys.argv[3])")
    out = subprocess.run([sys.executable, "-c", code, platform.env["SANJI_DATABASE_URL"], REPROJECT_TENANT, cause],
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _reprojection_figures(platform) -> list[Figure]:
    from shared.calendar import seed_year_from_package
    from shared.calendar_store import CalendarStore
    from shared.db import make_engine

    owner_url = platform.env["SANJI_DATABASE_OWNER_URL"]
    _seed_open_cases(owner_url, N_REPROJECT)
    first = _run_child(platform, "初次计算")                     # the cache columns as a deployment has them
    # a correction of 2026 for the county: two extra days off in October (e.g. a local arrangement)
    engine = make_engine(platform.env["SANJI_DATABASE_URL"], pool_size=1)
    y2026 = seed_year_from_package(2026)
    corrected = type(y2026)(2026, holidays={**y2026.holidays, dt.date(2026, 10, 12): "地方节日",
                                            dt.date(2026, 10, 13): "地方节日"}, makeup_workdays=y2026.makeup_workdays)
    CalendarStore(engine, "approval").publish(corrected, REPROJECT_TENANT, by="bench")
    engine.dispose()
    second = _run_child(platform, "2026 年日历更正")
    with owner_connection(owner_url) as conn:                 # baseline: a bare UPDATE of the same rows
        conn.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": REPROJECT_TENANT})
        t0 = time.perf_counter()
        conn.execute(text("UPDATE approval.cases SET projected_at = now() WHERE tenant_code = :t"),
                     {"t": REPROJECT_TENANT})
        bare = time.perf_counter() - t0
    mb = 1 / 1024
    return [
        Figure(f"approval re-project {N_REPROJECT:,} open cases after a calendar correction", second["seconds"], "s",
               f"bare UPDATE of {N_REPROJECT:,} rows", bare, higher_is_better=False,
               note=f"{second['changed']:,} due dates moved; aim < 30 s; first projection {first['seconds']:.1f} s"),
        Figure("approval re-projection peak memory (child process RSS)", second["rss_peak_kb"] * mb, "MB",
               "RSS before re-projecting", second["rss_before_kb"] * mb, higher_is_better=False),
    ]


def run(platform) -> list[Figure]:
    db = Database.connect(platform.env["SANJI_DATABASE_URL"], schema="approval", pool_size=2)
    try:
        figures = _cases_figures(platform, db)
    finally:
        db.dispose()
    return figures + _reprojection_figures(platform)
