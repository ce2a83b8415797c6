"""The whole case lifecycle through the real processes, 16 in flight, from submission to delivery
(issue 22 item 1), beside the bare grpcio echo measured in the same run.

One lifecycle is one case of 居民身份证换领 (a fixed fee, FEE-JMSFZ-GBF, ¥20) as the people and systems
around it drive it:

  submit + accept   the window clerk (intake, which asks the catalogue)
  open              ⇢ application_accepted → approval opens the case (the bench waits for case_opened)
  review            the reviewer opens the case, claims the review step and completes it (approval)
  decide            the decider claims the decision step and approves (→ awaiting fees)
  assess            ⇢ case_decided → fees assesses the fee from the item's fee reference (waits for fees_assessed)
  notice            the cashier issues the payment notice (缴款书; fees)
  pay               the province's SM2-signed payment callback (fees: verified, receipt countersigned, settled)
  complete          ⇢ fees_settled → approval completes the case (case_completed) → intake marks the result ready
  hand out          the window records the pick-up (intake; retried while intake has not yet heard of it)
  deliver           ⇢ result_picked_up → approval records the delivery (case_delivered)

Steps marked ⇢ are the platform's own hops (outbox → relay → RabbitMQ → consumer); the bench learns of them
from the events themselves, on a queue of its own bound to approval.events and fees.events, so waiting
costs the services nothing. A lifecycle's active time is its wall time from submission to delivery: the
bench has no human pauses, so every millisecond of it is the platform working (or queueing) for the case;
only the province's signing of the callback is left out (its work, not ours).

Printed: lifecycles/s; p50/p99 of a lifecycle's active time; each step's p99 beside the echo's p99; the
machine CPU per lifecycle split by process (every service, PostgreSQL, RabbitMQ and this client; the
province simulator is the province's machine and is not counted) and the ceiling that cost allows on
this machine's cores. At the end the run is counted in the databases: every case delivered once,
one fee settled per case, no event applied twice.

With REPLICAS=N (env), intake and approval each run as N processes on their own ports; the clients reach
them through one `ipv4:` target list with round_robin, and the consumers compete on the same queues.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections import defaultdict

import grpc
import pika
from sanji.approval.v1 import approval_pb2 as apb
from sanji.approval.v1 import approval_pb2_grpc
from sanji.catalogue.v1 import catalogue_pb2 as cpb
from sanji.catalogue.v1 import catalogue_pb2_grpc
from sanji.fees.v1 import fees_pb2 as fpb
from sanji.fees.v1 import fees_pb2_grpc
from sanji.intake.v1 import intake_pb2 as ipb
from sanji.intake.v1 import intake_pb2_grpc
from sqlalchemy import create_engine, text

from conftest import free_port
from infra.demo.load import load_approval_setup, load_catalogue, load_demo_users
from infra.oidc.client import login
from services.fees import signing
from services.fees.demo import TREASURY_ACCOUNTS, load_demo_fees
from services.fees.payments import canonical_form
from shared.db import relay_transaction
from shared.grpc.client import bearer
from shared.idnumbers import resident_id_check_char
from tests.bench.bench_grpc import IN_FLIGHT, echo_baseline
from tests.bench.common import CpuMeter, Figure, StatementStats, analyze, percentile

COUNTY = "620602"
ITEM = "居民身份证换领"
LIFECYCLES = int(os.environ.get("SANJI_BENCH_LIFECYCLES", "480"))
WARMUP = IN_FLIGHT * 2
# then more at IN_FLIGHT, before measuring: the lifecycles of the warm-up one by one use a connection or two per
# service, the measured run up to IN_FLIGHT (pools of 20, first in first out, so every connection takes a share), and
# a connection new to a statement plans it on each of its first ten uses (psycopg prepares it at the fifth;
# PostgreSQL weighs a generic plan after five custom ones) and fills its backend's catalogue caches. Cold, a
# 160-lifecycle run counted 75 plans and 21.6 ms of planning per lifecycle; after 160 lifecycles at IN_FLIGHT 50 plans
# and 10.8 ms, after 800 the plans left were the statements PostgreSQL plans on every call. That is the cost of opening
# the pools, paid once per connection (pool_recycle: 5 minutes), not the cost of a case
WARMUP_LOADED = int(os.environ.get("SANJI_BENCH_LIFECYCLE_WARMUP", str(IN_FLIGHT * 30)))
STEPS = ("submit+accept", "open", "review", "decide", "assess", "notice", "pay", "complete+hand out", "deliver")
HOPS = {"open", "assess", "complete+hand out", "deliver"}   # the platform's own hops (events)
WAIT_TIMEOUT = 120.0
# (exchange, routing key): what the bench hears of the platform's own hops
LISTEN = (("approval.events", "case_opened"), ("approval.events", "case_completed"),
          ("approval.events", "case_delivered"), ("fees.events", "fees_assessed"))


class Events:
    """The events of the case hops, heard on a queue of the bench's own: (case number, type) → arrival."""

    def __init__(self, amqp_url: str):
        self._seen: dict[tuple[str, str], dict] = {}
        self._cond = threading.Condition()
        self._conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        ch = self._conn.channel()
        queue = ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
        for exchange, key in LISTEN:
            ch.exchange_declare(exchange, exchange_type="topic", durable=True)
            ch.queue_bind(queue, exchange, routing_key=key)
        ch.basic_consume(queue, self._on, auto_ack=True)
        self._ch = ch
        self._thread = threading.Thread(target=self._consume, name="bench-events", daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        with contextlib.suppress(Exception):             # the connection is closed at the end of the run
            self._ch.start_consuming()

    def _on(self, ch, method, props, body) -> None:
        number = (props.headers or {}).get("correlation_id", "")
        with self._cond:
            self._seen[(number, method.routing_key)] = json.loads(body)
            self._cond.notify_all()

    def wait(self, number: str, kind: str, timeout: float = WAIT_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while (number, kind) not in self._seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{kind} of {number} not heard within {timeout:.0f} s")
                self._cond.wait(left)
            return self._seen.pop((number, kind))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.add_callback_threadsafe(self._ch.stop_consuming)
            self._thread.join(5)
            if not self._thread.is_alive():
                self._conn.close()


def _channel(target: str) -> grpc.Channel:
    # round_robin: an `ipv4:a,b` target list (replicas) gets its calls spread over every address
    return grpc.insecure_channel(target, options=[("grpc.lb_policy_name", "round_robin")])


class Lifecycle:
    def __init__(self, platform, *, intake_target: str, approval_target: str):
        users = {u["username"]: u for u in load_demo_users()}
        self.md = {name: bearer(login(platform.oidc_url, name, users[name]["password"]))
                   for name in ("county.clerk", "county.reviewer", "county.reviewer2", "county.decider",
                                "county.decider2", "county.cashier")}
        self.channels = [_channel(intake_target), _channel(approval_target), _channel(platform.target("fees"))]
        self.intake = intake_pb2_grpc.IntakeServiceStub(self.channels[0])
        self.approval = approval_pb2_grpc.ApprovalServiceStub(self.channels[1])
        self.fees = fees_pb2_grpc.FeesServiceStub(self.channels[2])
        with grpc.insecure_channel(platform.catalogue_target) as ch:
            items = catalogue_pb2_grpc.CatalogueServiceStub(ch).ListMyItems(
                cpb.ListMyItemsRequest(limit=200), metadata=self.md["county.clerk"], timeout=30).items
        self.item = next(i for i in items if i.elements.name == ITEM and i.listing == cpb.LISTING_KIND_OWN)
        self.scenario = self.item.elements.scenarios[0]
        self.account = next(a["account_number"] for a in TREASURY_ACCOUNTS if a["tenant_code"] == COUNTY)
        self.province = signing.Signer(signing.DEV_PROVINCE_PRIVATE_KEY, signing.DEV_PROVINCE_PUBLIC_KEY)
        self.events = Events(platform.env["SANJI_AMQP_URL"])
        self.run_id = uuid.uuid4().hex[:8]
        self.seq = itertools.count(1)
        self.lock = threading.Lock()
        self.cases: list[str] = []
        self.retries = 0

    def close(self) -> None:
        self.events.close()
        for ch in self.channels:
            ch.close()

    def one(self, until: str = "") -> tuple[float, dict[str, float]]:
        """One case from submission to delivery (or to the step `until`: open | notice | pickup, where a case waits
        for a person — `make volume` takes such cases as templates): (active seconds, {step: ms})."""
        n = next(self.seq)
        body = f"620602{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
        id_number = body + resident_id_check_char(body)
        i = n % 2                                 # two reviewers, two deciders: never one person for both steps
        reviewer = self.md["county.reviewer" if i else "county.reviewer2"]
        decider = self.md["county.decider2" if i else "county.decider"]
        clerk, cashier = self.md["county.clerk"], self.md["county.cashier"]
        ms: dict[str, float] = {}
        retries = 0
        t_start = mark = time.perf_counter()

        def lap(step: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            ms[step] = (now - mark) * 1000
            mark = now

        app = self.intake.SubmitApplication(ipb.SubmitApplicationRequest(
            idempotency_key=f"life-{self.run_id}-{n}", item_id=self.item.id, scenario_code=self.scenario.code,
            channel=ipb.CHANNEL_WINDOW, applicant=ipb.Applicant(name="测试申请人", id_number=id_number),
            materials=[ipb.MaterialSubmission(code=m.code, supplied=True) for m in self.scenario.materials]),
            metadata=clerk, timeout=60)
        number = self.intake.AcceptApplication(ipb.AcceptApplicationRequest(application_id=app.id),
                                               metadata=clerk, timeout=60).case_number
        lap("submit+accept")
        opened = self.events.wait(number, "case_opened")
        lap("open")
        if until == "open":
            return self._done(number, 0, t_start, ms)
        case = self.approval.GetCase(apb.GetCaseRequest(case_id=opened["case_id"]), metadata=reviewer, timeout=60)
        review = next(s.id for s in case.steps if s.kind == "review")
        decision = next(s.id for s in case.steps if s.kind == "decision")
        self.approval.ClaimTask(apb.ClaimTaskRequest(step_id=review), metadata=reviewer, timeout=60)
        self.approval.CompleteReview(apb.CompleteReviewRequest(step_id=review, opinion="材料齐全，符合换领条件",
                                                               conclusion="agree"), metadata=reviewer, timeout=60)
        lap("review")
        self.approval.ClaimTask(apb.ClaimTaskRequest(step_id=decision), metadata=decider, timeout=60)
        self.approval.Decide(apb.DecideRequest(case_id=case.id, outcome="approve", opinion="准予换领"),
                             metadata=decider, timeout=60)
        lap("decide")
        self.events.wait(number, "fees_assessed")
        lap("assess")
        fees = self.fees.IssueNotice(fpb.IssueNoticeRequest(case_number=number), metadata=cashier, timeout=60)
        notice = fees.notice
        lap("notice")
        if until == "notice":
            return self._done(number, 0, t_start, ms)
        fields = {"payment_id": f"LIFE{self.run_id}{n:07d}".upper(), "notice_number": notice.notice_number,
                  "amount_fen": str(fees.total_fen), "paid_at": dt.datetime.now(dt.UTC).isoformat(),
                  "payee_account": self.account, "payer_name": "测试申请人", "channel": "unionpay"}
        callback = fpb.PaymentCallback(fields=fields, signature=self.province.sign(canonical_form(fields)))
        signed = time.perf_counter()
        paid = self.fees.RecordPaymentCallback(callback, timeout=60)
        if not paid.settled:
            raise RuntimeError(f"{number}: payment callback {paid.outcome} {paid.message}")
        province_ms = (signed - mark) * 1000               # the province's signing: not the platform's time
        mark = signed
        lap("pay")
        self.events.wait(number, "case_completed")
        # the window sees the result ready on its screen (a read, no lock) before it hands it out: the reads before
        # that are intake catching up with the completion; the pick-up itself is then one call, as at a window
        retries = self._until_completed(app.id, clerk)
        if until == "pickup":                    # the result waits at the window for its hand-out (待出件)
            return self._done(number, retries, t_start + province_ms / 1000, ms)
        self.intake.RecordPickup(ipb.RecordPickupRequest(
            application_id=app.id, picked_up_by="测试申请人", id_number=id_number, channel="window", what="居民身份证"),
            metadata=clerk, timeout=60)
        lap("complete+hand out")
        self.events.wait(number, "case_delivered")
        lap("deliver")
        return self._done(number, retries, t_start + province_ms / 1000, ms)

    def _until_completed(self, application_id: str, clerk) -> int:
        """Reads the application until intake has heard of its completion; the reads it took before that."""
        deadline, pause, reads = time.monotonic() + WAIT_TIMEOUT, 0.01, 0
        while True:
            app = self.intake.GetApplication(ipb.GetApplicationRequest(application_id=application_id),
                                             metadata=clerk, timeout=60)
            if app.status == ipb.APPLICATION_STATUS_COMPLETED:
                return reads
            if time.monotonic() > deadline:
                raise RuntimeError(f"{application_id}: intake never heard of the completion ({app.status})")
            reads += 1
            time.sleep(pause)
            pause = min(pause * 1.5, 0.05)

    def _done(self, number: str, retries: int, t_start: float, ms: dict[str, float]) -> tuple[float, dict[str, float]]:
        with self.lock:
            self.cases.append(number)
            self.retries += retries
        return time.perf_counter() - t_start, ms


def _drive(life: Lifecycle, total: int) -> tuple[float, list[float], dict[str, list[float]], list[Exception]]:
    per_thread = total // IN_FLIGHT
    actives: list[float] = []
    steps: dict[str, list[float]] = defaultdict(list)
    errors: list[Exception] = []
    lock = threading.Lock()
    start = threading.Barrier(IN_FLIGHT + 1)

    def worker() -> None:
        start.wait()
        for _ in range(per_thread):
            try:
                active, ms = life.one()
            except Exception as exc:                          # counted and shown: a lost lifecycle is a finding
                with lock:
                    errors.append(exc)
                continue
            with lock:
                actives.append(active * 1000)
                for k, v in ms.items():
                    steps[k].append(v)

    threads = [threading.Thread(target=worker) for _ in range(IN_FLIGHT)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, actives, steps, errors


class Profiles:
    """SANJI_BENCH_PROFILE=<dir>: py-spy records every service process over the measured span (raw collapsed
    stacks, <dir>/<process>.txt), sampling only the thread that holds the GIL (--gil: the process's Python CPU,
    not its threads waiting on PostgreSQL or the broker); top() is each one's largest shares of samples, by
    function (self) and by call path (inclusive)."""

    def __init__(self, out_dir: str, pids: dict[str, int]):
        import shutil
        import subprocess
        import sys
        from pathlib import Path

        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.procs = {name: subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--rate", "100", "--format", "raw", "--nonblocking", "--gil",
             "--output", str(self.dir / f"{name}.txt")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, pid in pids.items()}

    def stop(self) -> None:
        import signal

        for proc in self.procs.values():
            proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(60)
            except Exception:
                proc.kill()

    def top(self, n: int = 12) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name in self.procs:
            path = self.dir / f"{name}.txt"
            if not path.exists():
                continue
            own: dict[str, int] = defaultdict(int)
            inclusive: dict[str, int] = defaultdict(int)
            total = 0
            for line in path.read_text(errors="replace").splitlines():
                stack, _, count = line.rpartition(" ")
                if not stack or not count.isdigit():
                    continue
                c = int(count)
                frames = stack.split(";")
                if "idle" in frames[-1] or frames[-1].startswith(("wait (threading", "select (selectors")):
                    continue
                total += c
                own[frames[-1]] += c
                for f in set(frames):
                    inclusive[f] += c
            if not total:
                continue
            lines = [f"{total} samples holding the GIL (100/s)", "self:"]
            lines += [f"  {v / total:6.1%}  {k}" for k, v in sorted(own.items(), key=lambda kv: -kv[1])[:n]]
            lines.append("inclusive (below the server's own frames):")
            lines += [f"  {v / total:6.1%}  {k}" for k, v in sorted(inclusive.items(), key=lambda kv: -kv[1])
                      if v < total * 0.97][:n]
            out[name] = lines
        return out


OUTBOXES = ("catalogue", "intake", "approval", "fees", "complaints", "supervision", "docking")
SETTLE_TIMEOUT = 300.0


def _left_to_do(amqp_url: str, owner_url: str) -> int:
    """What the platform still has to do: messages in the bench's vhost (ready or being handled; parked dead
    letters excepted), outbox rows not yet relayed, reports due to the province and not yet delivered."""
    vhost = amqp_url.rsplit("/", 1)[-1]
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    out = subprocess.run([ctl, "-q", "list_queues", "-p", vhost, "name", "messages", "--no-table-headers"],
                         capture_output=True, text=True, check=True).stdout
    queued = sum(int(n) for name, n in (line.split() for line in out.splitlines() if line.strip())
                 if not name.endswith(".dlq"))
    eng = create_engine(owner_url)
    try:
        with relay_transaction(eng) as c:
            unsent = sum(c.execute(text(f"SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL")).scalar_one()
                         for s in OUTBOXES)
        with eng.begin() as c:
            c.execute(text("SELECT set_config('app.tenant', '62', true), set_config('app.subtree', 'on', true)"))
            # a report waiting out a retry's backoff (sent while no province listened) is not work to do now
            undelivered = c.execute(text("SELECT count(*) FROM docking.outbound WHERE delivered_at IS NULL"
                                         " AND next_attempt_at <= now() + interval '10 seconds'")).scalar_one()
    finally:
        eng.dispose()
    return queued + unsent + undelivered


def _settle(platform) -> float:
    """Waits until the platform has finished the work the driven cases caused (the slowest consumer catching
    up, docking's reports sent after their settle time); the seconds it took. The CPU meter runs through it, so
    the CPU per lifecycle counts that work too, not only what was done while the cases were driven."""
    t0 = time.monotonic()
    while _left_to_do(platform.env["SANJI_AMQP_URL"], platform.env["SANJI_DATABASE_OWNER_URL"]):
        if time.monotonic() - t0 > SETTLE_TIMEOUT:
            print(f"lifecycle: the platform had not settled after {SETTLE_TIMEOUT:.0f} s; going on", flush=True)
            break
        time.sleep(0.5)
    return time.monotonic() - t0


def database_activity(owner_url: str) -> dict[str, tuple[int, ...]]:
    """PostgreSQL's own counters for the bench database: per table (seq scans, rows they read, index scans,
    rows inserted, updated) and the database's commits — where its share of a lifecycle's CPU goes."""
    eng = create_engine(owner_url)
    try:
        with eng.connect() as c:
            c.execute(text("SELECT pg_stat_force_next_flush()"))
            out = {f"{r[0]}.{r[1]}": tuple(int(x or 0) for x in r[2:]) for r in c.execute(text(
                "SELECT schemaname, relname, seq_scan, seq_tup_read, idx_scan, n_tup_ins, n_tup_upd"
                " FROM pg_stat_user_tables")).all()}
            out["(commits)"] = (int(c.execute(text("SELECT xact_commit FROM pg_stat_database"
                                                   " WHERE datname = current_database()")).scalar_one()),)
            return out
    finally:
        eng.dispose()


def activity_figures(before: dict, after: dict, units: int) -> list[Figure]:
    if not units:
        return []
    diff = {k: tuple(a - b for a, b in zip(v, before.get(k, (0,) * len(v)), strict=True)) for k, v in after.items()}
    out = [Figure("lifecycle: PostgreSQL commits per lifecycle", diff.pop("(commits)")[0] / units, "commits")]
    statements = {k: v for k, v in diff.items() if any(v)}
    for table, (seq, seq_rows, idx, ins, upd) in sorted(statements.items(), key=lambda kv: -kv[1][1])[:6]:
        if seq_rows:
            out.append(Figure(f"lifecycle: rows read by sequential scans of {table} per lifecycle", seq_rows / units,
                              "rows", note=f"{seq / units:.1f} seq scans, {idx / units:.1f} index scans,"
                                           f" {ins / units:.1f} inserts, {upd / units:.1f} updates per lifecycle"))
    return out


def count_in_databases(owner_url: str, numbers: list[str]) -> dict[str, int]:
    """What the databases hold for these cases: each should be exactly len(numbers)."""
    eng = create_engine(owner_url)
    try:
        with relay_transaction(eng) as c:                  # the outboxes across writers, the tables as the county
            c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": COUNTY})
            q = lambda sql: c.execute(text(sql), {"n": numbers}).scalar_one()  # noqa: E731
            return {
                "intake applications picked up": q("SELECT count(*) FROM intake.applications"
                                                   " WHERE case_number = ANY(:n) AND status = 'picked_up'"),
                "approval cases delivered": q("SELECT count(*) FROM approval.cases"
                                              " WHERE case_number = ANY(:n) AND status = 'delivered'"),
                "approval cases (rows)": q("SELECT count(*) FROM approval.cases WHERE case_number = ANY(:n)"),
                "fees cases settled": q("SELECT count(*) FROM fees.cases WHERE case_number = ANY(:n)"
                                        " AND status = 'settled'"),
                "payments recorded": q("SELECT count(*) FROM fees.payments p JOIN fees.notices n"
                                       " ON n.notice_number = p.matched_notice WHERE n.case_number = ANY(:n)"),
                "case_opened events": q("SELECT count(*) FROM approval.outbox WHERE routing_key = 'case_opened'"
                                        " AND correlation_id = ANY(:n)"),
                "case_delivered events": q("SELECT count(*) FROM approval.outbox"
                                           " WHERE routing_key = 'case_delivered' AND correlation_id = ANY(:n)"),
                "fees_settled events": q("SELECT count(*) FROM fees.outbox WHERE routing_key = 'fees_settled'"
                                         " AND correlation_id = ANY(:n)"),
                "result_picked_up events": q("SELECT count(*) FROM intake.outbox"
                                             " WHERE routing_key = 'result_picked_up' AND correlation_id = ANY(:n)"),
            }
    finally:
        eng.dispose()


def prepare(platform) -> bool:
    """The demo county's catalogue, fee catalogue, desks and seal; the province simulator for docking's reports."""
    users = load_demo_users()
    load_catalogue(platform.catalogue_target, platform.oidc_url, users)       # idempotent
    load_demo_fees(platform.env["SANJI_DATABASE_OWNER_URL"])
    load_approval_setup(platform.target("approval"), platform.oidc_url, users)
    if "province" in platform.procs:
        return False
    platform.start_province()
    return True


def run(platform, *, replicas: int = 1, lifecycles: int = LIFECYCLES) -> list[Figure]:
    replicas = max(1, int(os.environ.get("REPLICAS", replicas)))
    started_province = prepare(platform)
    if replicas > 1:
        for name in ("intake", "approval"):
            platform.start_replicas(name, replicas)
    intake_target, approval_target = platform.target("intake"), platform.target("approval")
    life = Lifecycle(platform, intake_target=intake_target, approval_target=approval_target)
    tag = f" [{replicas}× intake, {replicas}× approval]" if replicas > 1 else ""
    try:
        for _ in range(WARMUP):
            life.one()
        if WARMUP_LOADED:
            failed = _drive(life, WARMUP_LOADED - WARMUP_LOADED % IN_FLIGHT)[3]
            if failed:
                raise RuntimeError(f"{len(failed)} lifecycles of the warm-up failed: {failed[0]!r}")
        analyze(platform.env["SANJI_DATABASE_OWNER_URL"], "catalogue", "intake", "approval", "fees", "complaints",
                "docking", "supervision")
        # what earlier benches of the same `make bench` left (their events still consumed, docking's reports still
        # sent) is done before the echo and the meter start: the CPU counted is this run's
        before = _settle(platform)
        if before > 1:
            print(f"lifecycle: waited {before:.1f} s for the work earlier benches left before measuring", flush=True)
        base_rate, base_lat = echo_baseline(free_port(), 4000)
        life.cases.clear()
        life.retries = 0
        counted = {name: proc.pid for name, proc in platform.procs.items() if name != "province"}
        total = lifecycles - lifecycles % IN_FLIGHT
        profiles = (Profiles(os.environ["SANJI_BENCH_PROFILE"], {n: p for n, p in counted.items()
                                                                 if n not in ("oidc",)})
                    if os.environ.get("SANJI_BENCH_PROFILE") else None)
        database = platform.env["SANJI_DATABASE_URL"].rsplit("/", 1)[-1]
        activity = database_activity(platform.env["SANJI_DATABASE_OWNER_URL"])
        statements = StatementStats(database).reset()
        try:
            with CpuMeter(counted, database=database) as cpu:
                elapsed, actives, steps, errors = _drive(life, total)
                settle = _settle(platform)
            print(f"lifecycle: the platform finished the run's remaining work {settle:.1f} s after the last delivery"
                  " (the slowest consumers, docking's reports); its CPU is counted", flush=True)
        finally:
            if profiles:
                profiles.stop()
        numbers = list(life.cases)
        retries = life.retries
        time.sleep(2)                                      # the consumers' last transactions, then their counters
        activity = activity_figures(activity, database_activity(platform.env["SANJI_DATABASE_OWNER_URL"]),
                                    len(numbers))
        statement_lines = statements.top(len(numbers))
    finally:
        life.close()
        if started_province:
            platform.stop_one("province")                # the docking bench runs a simulator of its own there
    if profiles:
        from rich.console import Console

        for name, lines in profiles.top().items():
            Console().rule(f"py-spy: {name}")
            Console().print("\n".join(lines), markup=False, highlight=False)
    from rich.console import Console

    Console().rule("PostgreSQL statements per lifecycle")
    print("\n".join(statement_lines), flush=True)          # unwrapped: the statements are long
    rate = len(actives) / elapsed
    echo_p99 = percentile(base_lat, 99)
    counts = count_in_databases(platform.env["SANJI_DATABASE_OWNER_URL"], numbers)
    note = (f"{ITEM}：收件受理→审查→决定→自动核定收费→缴款书→签名支付回调→办结→出件→送达；"
            f"{len(numbers)} of {total} lifecycles, {len(errors)} failed")
    print(f"lifecycle: {retries / max(len(numbers), 1):.2f} reads of the application per lifecycle before intake"
          " showed the result ready (the window's screen)", flush=True)
    out = [
        Figure(f"lifecycle: cases submitted → delivered ({IN_FLIGHT} in flight){tag}", rate, "lifecycles/s",
               "bare grpcio echo calls/s", base_rate, note=note),
        Figure(f"lifecycle: active time p50{tag}", percentile(actives, 50), "ms", "echo p50",
               percentile(base_lat, 50), higher_is_better=False),
        Figure(f"lifecycle: active time p99{tag}", percentile(actives, 99), "ms", "echo p99", echo_p99,
               higher_is_better=False),
    ]
    for step in STEPS:
        hop = " (event hop)" if step in HOPS else ""
        out.append(Figure(f"lifecycle step {step}{hop} p99", percentile(steps.get(step, []), 99), "ms", "echo p99",
                          echo_p99, higher_is_better=False))
    out += cpu.figures(f"lifecycle{tag}", len(actives), "lifecycle", rate)
    out += activity
    for what, value in counts.items():
        out.append(Figure(f"lifecycle counted in the databases: {what}", value, "rows", "lifecycles completed",
                          len(numbers), note="each must equal the lifecycles completed: nothing lost or doubled"))
    if errors:
        out.append(Figure("lifecycle: failed lifecycles", len(errors), "lifecycles",
                          note="; ".join(sorted({f"{type(e).__name__}: {e}"[:160] for e in errors})[:3])))
    lost = {k: v for k, v in counts.items() if v != len(numbers)}
    if lost or errors:
        from tests.bench.__main__ import show
        show(out)
        raise RuntimeError(f"lifecycle counts differ from {len(numbers)}: {lost}; {len(errors)} lifecycles failed")
    return out
