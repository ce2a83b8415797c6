"""The lists people open all day, at 16 users, on a year of a large county (issue 22 item 4): the window's
list (intake ListApplications, and the page's second call, CountApplications: what waits on the window, counted
over its whole list), a desk's queue (approval ListQueue), the public progress lookup (intake
LookupProgress) and the cashier's notices awaiting payment (fees ListCases NOTICED), and beside them the case
list a head or supervisor opens (approval ListCases, every status), each through the real
gRPC service with its median and p99 beside the same-run echo — and each list's query plan, EXPLAIN
(ANALYZE, BUFFERS) of the very statements the service's repository runs (captured as it runs them, then
explained in a unit of work bound the same way: the application role, the tenant, RLS).

It runs on the database `make volume` filled (SANJI_VOLUME_DATABASE, default sanji_volume), with a
platform of its own (the identity provider, catalogue, intake, approval and fees); without that database
it says so and measures nothing. Beside each list's times, the CPU each process spent per call (load-independent:
at 16 users on a machine of few cores, a median is mostly the calls queued behind each other's CPU).

SANJI_BENCH_PROFILE=<dir>: py-spy (`pip install py-spy`) samples the serving process while each list is driven,
writes its stacks to <dir> (collapsed, the samples holding the GIL: Python's own CPU) and prints the functions
it spent most of those samples in (own and inclusive).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import grpc
from rich.console import Console
from sanji.approval.v1 import approval_pb2 as apb
from sanji.approval.v1 import approval_pb2_grpc
from sanji.fees.v1 import fees_pb2 as fpb
from sanji.fees.v1 import fees_pb2_grpc
from sanji.intake.v1 import intake_pb2 as ipb
from sanji.intake.v1 import intake_pb2_grpc
from sqlalchemy import TextClause, create_engine, text

from conftest import free_port
from gateway.pages_kit import CONSOLE_PAGE
from gateway.pages_window import WAITING
from infra.demo.load import load_demo_users
from infra.oidc.client import login
from shared.grpc.client import bearer
from tests.bench.bench_grpc import IN_FLIGHT, drive, echo_baseline
from tests.bench.common import CpuMeter, Figure, percentile
from tests.bench.volume import COUNTY, DEFAULT_DATABASE

CALLS = int(os.environ.get("SANJI_BENCH_LIST_CALLS", "800"))
PAGE = CONSOLE_PAGE           # the rows a console list shows at a time: the page people open is the one timed
console = Console()


def _exists(database: str) -> bool:
    eng = create_engine("postgresql+psycopg://sanji_owner:sanji_owner@127.0.0.1:5432/postgres")
    try:
        with eng.connect() as c:
            return c.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}).first() is not None
    finally:
        eng.dispose()


def _volume(owner_url: str) -> tuple[int, list[tuple[str, str]]]:
    """(cases in approval, a sample of (case number, applicant ID) pairs for the lookup)."""
    eng = create_engine(owner_url)
    try:
        with eng.begin() as c:
            c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": COUNTY})
            cases = c.execute(text("SELECT count(*) FROM approval.cases")).scalar_one()
            pairs = c.execute(text("SELECT case_number, applicant_id_number FROM intake.applications"
                                   " TABLESAMPLE SYSTEM (1) REPEATABLE (22) LIMIT 2000")).all()
        return cases, [(a, b) for a, b in pairs]
    finally:
        eng.dispose()


def plans(database_url: str, lookup: tuple[str, str]) -> dict[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement each list's repository method runs, in a unit of work
    bound as the service binds it."""
    from services.approval.repository import ApprovalRepository, queue_statement
    from services.intake.repository import IntakeRepository, count_statement
    from services.intake.translate import STATUS_FROM_PB
    from shared.db import Database

    out: dict[str, list[str]] = {}
    lists = {
        "window list (intake.list_for)": ("intake", COUNTY,
                                          lambda u: IntakeRepository(u).list_for(COUNTY, subtree=False, status=None,
                                                                                 limit=PAGE, offset=0)),
        # the statuses the window's page counts (gateway/pages_window.py WAITING), in one statement
        "window's waiting counts (intake.count_statement)": ("intake", COUNTY, lambda u: u.rows_planned(
            *count_statement(COUNTY, subtree=False, statuses=[STATUS_FROM_PB[v] for v in WAITING]))),
        # the one statement the handler reads in one round trip (Database.read_planned), as a unit of work plans it
        "desk queue (approval.queue_statement)": ("approval", COUNTY,
                                                  lambda u: u.rows_planned(*queue_statement(
                                                      COUNTY, "county.reviewer", "", ["review"], None, PAGE, 0))),
        "progress lookup (intake.lookup)": ("intake", None,
                                            lambda u: IntakeRepository(u).lookup(lookup[0], id_number=lookup[1])),
        # the handler's one statement: the page's cases with the capped count, their lines, their notices
        "cashier's notices (fees.list_cases)": ("fees", COUNTY, _cashier),
        # the page's ids with the capped count; each listed case is then loaded as GetCase loads it
        "case list (approval.list_cases)": ("approval", COUNTY,
                                            lambda u: ApprovalRepository(u).list_cases(COUNTY, "", None, PAGE, 0)),
    }
    for name, (schema, tenant, call) in lists.items():
        db = Database.connect(database_url, schema=schema, pool_size=1)
        try:
            with db.unit_of_work(tenant=tenant) as uow:
                seen: list[tuple[str, object]] = []
                send = uow._send                    # the one way a unit of work's statements leave: watch it

                def spy(statements, *, commit=False, send=send, seen=seen, uow=uow):
                    if uow._scope_statement is None:    # else the statements come again, after the scope's settings
                        seen.extend((st.text if isinstance(st, TextClause) else st, p) for st, p in statements)
                    return send(statements, commit=commit)
                planned = uow.rows_planned            # and the lists' own, planned for their values

                def spy_planned(statement, params, planned=planned, seen=seen):
                    seen.append((statement.text if isinstance(statement, TextClause) else statement, params))
                    return planned(statement, params)
                uow._send, uow.rows_planned = spy, spy_planned
                call(uow)
                uow._send, uow.rows_planned = send, planned
                lines: list[str] = []
                for statement, params in seen:
                    if "set_config(" in statement:
                        continue                        # the RLS scope's settings: they stay set for the EXPLAIN
                    lines.append(statement)
                    lines += [r[0] for r in uow.rows("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)]
                out[name] = lines
        finally:
            db.dispose()
    return out


def _cashier(uow) -> None:
    from services.fees.repository import FeesRepository

    FeesRepository(uow).list_cases(COUNTY, "noticed", PAGE, 0, basic=True)


class Profile:
    """py-spy sampling one process while a list is driven (SANJI_BENCH_PROFILE=<dir>), or nothing."""

    def __init__(self, out_dir: str, name: str, pid: int):
        self.out_dir, self.name, self.pid = out_dir, name, pid
        self.proc: subprocess.Popen | None = None
        self.raw = Path(out_dir) / f"{name}.txt" if out_dir else None

    def __enter__(self) -> Profile:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if self.raw is not None and Path(spy).exists():
            self.raw.parent.mkdir(parents=True, exist_ok=True)
            self.proc = subprocess.Popen([spy, "record", "--pid", str(self.pid), "--format", "raw",
                                          "--rate", os.environ.get("SANJI_BENCH_PROFILE_RATE", "200"),
                                          "--gil", "--output", str(self.raw), "--nonblocking"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(2)                     # py-spy writes its file on SIGINT
        self.proc.wait(60)
        if self.raw is not None and self.raw.exists():
            console.rule(f"profile: {self.name} ({self.raw})")
            console.print("\n".join(summarise(self.raw.read_text())), markup=False, highlight=False)


def summarise(raw: str, top: int = 25) -> list[str]:
    """py-spy's collapsed stacks (`frame;frame;… count`) → the functions with the most samples: own, inclusive
    (the idle threads of the server's pool, waiting on their queue, left out)."""
    own, incl, total = Counter(), Counter(), 0
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = stack.split(";")
        if any(f.startswith(("wait (threading", "_worker (concurrent", "select (selectors")) for f in frames[-2:]):
            continue                                   # a thread waiting for work, not working
        count = int(n)
        total += count
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    if not total:
        return ["no samples"]
    out = [f"{total} busy samples; own:"]
    out += [f"  {c / total:6.1%}  {f}" for f, c in own.most_common(top)]
    out.append("inclusive:")
    out += [f"  {c / total:6.1%}  {f}" for f, c in incl.most_common(top)]
    return out


def run() -> list[Figure]:
    from infra import migrate
    from infra.local.platform import Platform, Ports

    database = os.environ.get("SANJI_VOLUME_DATABASE", DEFAULT_DATABASE)
    if not _exists(database):
        console.print(f"[yellow]lists: no database {database}; fill it first with `make volume`[/yellow]")
        return []
    owner_url = f"postgresql+psycopg://sanji_owner:sanji_owner@127.0.0.1:5432/{database}"
    database_url = f"postgresql+psycopg://sanji_app:sanji_app@127.0.0.1:5432/{database}"
    # the schema the code measured expects (a fill made before a list's index came lacks it: intake 0008 made the
    # window list's count index-only, and without it the same statement reads ~1,000 table pages a page)
    migrate.migrate_all(owner_url)
    cases, pairs = _volume(owner_url)
    platform = Platform(run_dir=Path(tempfile.mkdtemp(prefix="sanji-lists-")), ports=Ports.free(),
                        env={"SANJI_DATABASE_URL": database_url, "SANJI_DATABASE_OWNER_URL": owner_url,
                             "SANJI_AMQP_URL": f"amqp://guest:guest@127.0.0.1:5672/{database}",
                             "SANJI_LOG_LEVEL": "WARNING"})
    rng = random.Random(22)
    try:
        platform.start_oidc()
        for name in ("catalogue", "intake", "approval", "fees"):
            platform.start_service(name)
        users = {u["username"]: u for u in load_demo_users()}
        md = {n: bearer(login(platform.oidc_url, n, users[n]["password"]))
              for n in ("county.clerk", "county.reviewer", "county.cashier")}
        base_rate, base_lat = echo_baseline(free_port(), CALLS * 2)
        with grpc.insecure_channel(platform.target("intake")) as ich, \
                grpc.insecure_channel(platform.target("approval")) as ach, \
                grpc.insecure_channel(platform.target("fees")) as fch:
            intake = intake_pb2_grpc.IntakeServiceStub(ich)
            approval = approval_pb2_grpc.ApprovalServiceStub(ach)
            fees = fees_pb2_grpc.FeesServiceStub(fch)

            def lookup():
                number, id_number = rng.choice(pairs)
                return intake.LookupProgress(ipb.LookupProgressRequest(case_number=number, id_number=id_number),
                                             timeout=60)
            lists = {     # name: (the serving process, the call)
                "window list (intake ListApplications)": ("intake", lambda: intake.ListApplications(
                    ipb.ListApplicationsRequest(limit=PAGE), metadata=md["county.clerk"], timeout=60)),
                # the page's second call: what the window waits on, counted over its whole list
                "window's waiting counts (intake CountApplications)": ("intake", lambda: intake.CountApplications(
                    ipb.CountApplicationsRequest(statuses=WAITING), metadata=md["county.clerk"], timeout=60)),
                # as the console's queue asks for it (gateway/pages_office.py queue): the kinds the caller's roles
                # may take, a reviewer's being review
                "desk queue (approval ListQueue review)": ("approval", lambda: approval.ListQueue(
                    apb.ListQueueRequest(limit=PAGE), metadata=md["county.reviewer"], timeout=60)),
                "public progress lookup (intake LookupProgress)": ("intake", lookup),
                # the basic view, as the console's fee window asks for it (gateway/pages_office.py cashier)
                "cashier's notices (fees ListCases NOTICED)": ("fees", lambda: fees.ListCases(
                    fpb.ListCasesRequest(status=fpb.CASE_STATUS_NOTICED, limit=PAGE, view=fpb.CASE_FEES_VIEW_BASIC),
                    metadata=md["county.cashier"], timeout=60)),
                # not one of the four: the REST case list (every status) a head or supervisor opens
                "case list (approval ListCases)": ("approval", lambda: approval.ListCases(
                    apb.ListCasesRequest(limit=PAGE), metadata=md["county.reviewer"], timeout=60)),
            }
            out: list[Figure] = []
            note = f"{cases:,} cases in the database; {PAGE} rows a page; {IN_FLIGHT} users"
            profile_dir = os.environ.get("SANJI_BENCH_PROFILE", "")
            for name, (process, call) in lists.items():
                # warmed at 16 users, as it is measured, so every pooled connection the run uses is open and has
                # planned the list (a connection sends a list's text whole, planned per call, its first 5 times, then
                # keeps its plan: Database.read_planned); one user at a time warmed one or two connections, and the
                # measured run paid the others' first plans (a service that has served all morning has paid them)
                drive(call, IN_FLIGHT * 10)
                short = name.split(" (")[0].replace(" ", "_").replace("'", "")
                with CpuMeter({n: p.pid for n, p in platform.procs.items()}, database=database) as cpu, \
                        Profile(profile_dir, short, platform.procs[process].pid):
                    rate, lat = drive(call, CALLS)
                out += [
                    Figure(f"{name} ({IN_FLIGHT} users)", rate, "calls/s", "bare grpcio echo", base_rate, note=note),
                    Figure(f"{name} median", percentile(lat, 50), "ms", "echo median", percentile(base_lat, 50),
                           higher_is_better=False, note="aim ≤ 20 ms"),
                    Figure(f"{name} p99", percentile(lat, 99), "ms", "echo p99", percentile(base_lat, 99),
                           higher_is_better=False, note="aim ≤ 10× the echo's p99"),
                    *cpu.figures(name.split(" (")[0], len(lat), "call", rate),
                ]
    finally:
        platform.stop()
    for name, lines in plans(database_url, pairs[0]).items():
        console.rule(f"plan: {name}")
        console.print("\n".join(lines), markup=False, highlight=False)
    return out
