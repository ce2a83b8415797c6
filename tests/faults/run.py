"""Faults with counts (issue 20, the suite): a run of applications through the real processes while the
broker and the database are cut and every service process is killed, then every effect counted in the
databases — lost 0, applied twice 0 — printed as a table.

The platform here is the one `make run` starts (infra.local.platform: each service a process of its own, its
supervisor restarting a child that dies), on a database and vhost of its own, with PostgreSQL and RabbitMQ
reached through loopback TCP proxies (tests/faults/tcp_proxy.py) so a fault takes them away from the services
without stopping the machine's servers. The work: window clerks of the demo county submit and accept
applications over intake's gRPC API (each with an idempotency key; a call that fails is tried again, an
acceptance answered "already accepted" is read back); each acceptance goes to approval as
`application_accepted` and opens a case (`case_opened`). Meanwhile a chaos thread, at random moments, cuts the
broker's proxy, cuts the database's proxy, or SIGKILLs one of catalogue, intake, approval and the gateway.

`python -m tests.faults.run --applications 34000` is the large run (`make faults`); the test suite runs a small
one (tests/faults/test_faults.py). Each prints what it tried and what it found, and stops by itself.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from sanji.intake.v1 import intake_pb2 as pb
from sanji.intake.v1 import intake_pb2_grpc

from infra.oidc.client import login
from shared import idnumbers
from shared.db import Database
from shared.grpc.client import bearer
from shared.messaging.topology import queue_name
from tests.faults.tcp_proxy import TcpProxy

log = logging.getLogger("sanji.faults")

COUNTY = "620602"
CLERK = "county.clerk"
KILLABLE = ("catalogue", "intake", "approval", "gateway")
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL,
             grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.CANCELLED, grpc.StatusCode.ABORTED}


@dataclass
class Chaos:
    """What was done to the platform during the run."""

    broker_cuts: int = 0
    database_cuts: int = 0
    kills: Counter = field(default_factory=Counter)
    client_retries: int = 0

    def line(self) -> str:
        kills = ", ".join(f"{n} {name}" for name, n in sorted(self.kills.items())) or "none"
        return (f"faults: {self.broker_cuts} broker cuts, {self.database_cuts} database cuts, SIGKILLs: {kills};"
                f" {self.client_retries} client calls tried again")


def resident_id(n: int) -> str:
    body = f"620602{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    return body + idnumbers.resident_id_check_char(body)


class Window:
    """A county window clerk's calls to intake, tried again until they hold (the key makes a retry safe)."""

    def __init__(self, platform, chaos: Chaos, password: str):
        self.platform, self.chaos, self.password = platform, chaos, password
        self._token = ""
        self._token_at = 0.0
        self._lock = threading.Lock()
        self.channel = grpc.insecure_channel(platform.target("intake"))
        self.stub = intake_pb2_grpc.IntakeServiceStub(self.channel)

    def token(self, fresh: bool = False) -> str:
        with self._lock:
            if fresh or not self._token or time.monotonic() - self._token_at > 120:
                self._token = login(self.platform.oidc_url, CLERK, self.password)
                self._token_at = time.monotonic()
            return self._token

    def call(self, method: str, request, *, ok: Callable[[grpc.RpcError], object | None] = lambda e: None):
        deadline = time.monotonic() + 600
        for attempt in itertools.count():
            try:
                return getattr(self.stub, method)(request, metadata=bearer(self.token(fresh=attempt > 0 and
                                                                                      attempt % 5 == 0)), timeout=20)
            except grpc.RpcError as exc:
                answer = ok(exc)
                if answer is not None:
                    return answer
                if exc.code() not in RETRYABLE or time.monotonic() > deadline:
                    raise
                self.chaos.client_retries += 1
                time.sleep(min(2.0, 0.05 * 2 ** min(attempt, 6)))      # back off while the service is away

    def apply(self, run: str, n: int, item_id: str, scenario: str, materials: list[str]) -> str:
        """Submit and accept one application; its case number."""
        app = self.call("SubmitApplication", pb.SubmitApplicationRequest(
            idempotency_key=f"faults-{run}-{n}", item_id=item_id, scenario_code=scenario, channel=pb.CHANNEL_WINDOW,
            applicant=pb.Applicant(name="故障演练", id_number=resident_id(n), phone="13909350000",
                                   address="凉州区东大街 1 号"),
            materials=[pb.MaterialSubmission(code=c, supplied=True) for c in materials]))

        def accepted_already(exc: grpc.RpcError):
            # the key makes a retry safe; an answer lost before the key was known to the service is read back
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                return None
            current = self.call("GetApplication", pb.GetApplicationRequest(application_id=app.id))
            return current if current.case_number else None
        accepted = self.call("AcceptApplication", pb.AcceptApplicationRequest(
            application_id=app.id, idempotency_key=f"faults-{run}-{n}-accept"), ok=accepted_already)
        return accepted.case_number


def county_item(platform, password: str) -> tuple[str, str, list[str]]:
    """An item the county window handles, a scenario of it and all its materials."""
    headers = {"authorization": f"Bearer {login(platform.oidc_url, CLERK, password)}"}
    items = httpx.get(f"{platform.gateway_url}/api/v1/catalogue/items", params={"limit": 200}, headers=headers,
                      timeout=30).json()["items"]
    for it in items:
        el = it["elements"]
        if it["listing"] == "LISTING_KIND_OWN" and el["case_kind"] == "2":
            sc = el["scenarios"][0]
            return it["id"], sc["code"], [m["code"] for m in sc["materials"]]
    raise AssertionError("the demo catalogue has a promised county item")


def chaos_loop(platform, proxies: dict[str, TcpProxy], chaos: Chaos, stop: threading.Event, rng: random.Random,
               round_done: threading.Event, kill: bool = True, pause: float = 0.8) -> None:
    """First one of each fault (broker cut, database cut, a SIGKILL of each killable process), then faults
    chosen at random, at random moments, until `stop`; `round_done` is set after the first round."""
    first = ["broker", "database", *(f"kill:{name}" for name in KILLABLE)] if kill else ["broker", "database"]
    rng.shuffle(first)
    while not stop.wait(rng.uniform(pause / 4, pause * 2)):    # `pause`: the mean time between faults
        if first:
            what = first.pop()
        else:
            round_done.set()
            what = rng.choice(["broker", "database", "kill", "kill"] if kill else ["broker", "database"])
        if what in proxies:
            proxy = proxies[what]
            proxy.cut()
            setattr(chaos, f"{what}_cuts", getattr(chaos, f"{what}_cuts") + 1)
            stop.wait(rng.uniform(0.3, 3.0))
            proxy.restore()
            continue
        name = what.partition(":")[2] or rng.choice(KILLABLE)
        proc = platform.procs.get(name)
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            chaos.kills[name] += 1
    round_done.set()


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)
    return value


@dataclass
class Counts:
    rows: list[tuple[str, int, int, int, int]]         # (what, expected, found, lost, twice)

    @property
    def lost(self) -> int:
        return sum(r[3] for r in self.rows)

    @property
    def twice(self) -> int:
        return sum(r[4] for r in self.rows)

    def table(self) -> str:
        lines = [f"{'counted in the databases':<44}{'expected':>10}{'found':>10}{'lost':>8}{'twice':>8}"]
        lines += [f"{w:<44}{e:>10}{f:>10}{lost:>8}{t:>8}" for w, e, f, lost, t in self.rows]
        lines.append(f"{'total':<44}{sum(r[1] for r in self.rows):>10}{sum(r[2] for r in self.rows):>10}"
                     f"{self.lost:>8}{self.twice:>8}")
        return "\n".join(lines)


def count(database_url: str, run: str, case_numbers: list[str]) -> Counts:
    """Every effect of the run, read from intake's and approval's tables (bound to the county, the relay's
    view for the outboxes)."""
    n = len(case_numbers)
    intake = Database.connect(database_url, schema="intake", pool_size=1)
    approval = Database.connect(database_url, schema="approval", pool_size=1)
    try:
        with intake.unit_of_work(tenant=COUNTY) as uow:
            uow.scalar("SELECT set_config('app.relay', 'on', true)")
            apps = uow.rows("SELECT id::text, case_number FROM intake.applications WHERE idempotency_key LIKE :k",
                            {"k": f"faults-{run}-%"})
            ids = [a[0] for a in apps]
            events = dict(uow.rows(
                "SELECT routing_key, count(*) FROM intake.outbox WHERE routing_key IN"
                " ('application_submitted', 'application_accepted') AND correlation_id = ANY(:c) GROUP BY 1",
                {"c": ids + case_numbers}))
            distinct = dict(uow.rows(
                "SELECT routing_key, count(DISTINCT correlation_id) FROM intake.outbox WHERE routing_key IN"
                " ('application_submitted', 'application_accepted') AND correlation_id = ANY(:c) GROUP BY 1",
                {"c": ids + case_numbers}))
            accepted_events = [r[0] for r in uow.rows(
                "SELECT id FROM intake.outbox WHERE routing_key = 'application_accepted' AND correlation_id = ANY(:c)",
                {"c": case_numbers})]
            intake_unsent = uow.scalar("SELECT count(*) FROM intake.outbox WHERE sent_at IS NULL")
        with approval.unit_of_work(tenant=COUNTY) as uow:
            uow.scalar("SELECT set_config('app.relay', 'on', true)")
            cases, case_kinds = uow.rows(
                "SELECT count(*), count(DISTINCT case_number) FROM approval.cases WHERE case_number = ANY(:c)",
                {"c": case_numbers})[0]
            opened, opened_kinds = uow.rows(
                "SELECT count(*), count(DISTINCT correlation_id) FROM approval.outbox WHERE routing_key = 'case_opened'"
                " AND correlation_id = ANY(:c)", {"c": case_numbers})[0]
            inbox = uow.scalar("SELECT count(DISTINCT event_id) FROM approval.inbox WHERE consumer = :q"
                               " AND event_id = ANY(:ids)",
                               {"q": queue_name("intake", "application_accepted", "approval", "open_case"),
                                "ids": accepted_events})
            approval_unsent = uow.scalar("SELECT count(*) FROM approval.outbox WHERE sent_at IS NULL")
    finally:
        intake.dispose()
        approval.dispose()
    accepted = sum(1 for a in apps if a[1])
    rows = [
        ("intake: applications (one per key)", n, len(apps), n - len(set(ids)), len(apps) - len(set(ids))),
        ("intake: accepted, with a case number", n, accepted, n - accepted, 0),
    ]
    for key in ("application_submitted", "application_accepted"):
        found, kinds = int(events.get(key, 0)), int(distinct.get(key, 0))
        rows.append((f"intake events: {key}", n, found, n - kinds, found - kinds))
    rows += [
        ("approval: cases opened (application_accepted)", n, int(cases), n - int(case_kinds),
         int(cases) - int(case_kinds)),
        ("approval events: case_opened", n, int(opened), n - int(opened_kinds), int(opened) - int(opened_kinds)),
        ("approval inbox: application_accepted taken", len(accepted_events), int(inbox),
         len(accepted_events) - int(inbox), 0),
        ("outboxes: events left unsent", 0, int(intake_unsent) + int(approval_unsent),
         int(intake_unsent) + int(approval_unsent), 0),
    ]
    return Counts(rows)


def run_with_faults(platform, proxies: dict[str, TcpProxy], database_url: str, *, applications: int,
                    workers: int = 6, seed: int | None = None, kill: bool = True, password: str,
                    pause: float = 0.8) -> Counts:
    seed = seed if seed is not None else time.time_ns() % 10**6
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    chaos = Chaos()
    item_id, scenario, materials = county_item(platform, password)
    window = Window(platform, chaos, password)
    stop = threading.Event()
    round_done = threading.Event()
    chaos_thread = threading.Thread(target=chaos_loop, args=(platform, proxies, chaos, stop, rng, round_done, kill,
                                                             pause),
                                    name="faults-chaos", daemon=True)
    started = time.monotonic()
    print(f"faults run {run} (seed {seed}): at least {applications} applications by {workers} window clerks, "
          f"3 events each (application_submitted, application_accepted, case_opened), going on until every "
          f"kind of fault has happened once")
    numbers = itertools.count()
    case_numbers: list[str] = []

    def clerk() -> None:
        # the work goes on until it has its size and every kind of fault has happened during it
        while (n := next(numbers)) < applications or not round_done.is_set():
            case_numbers.append(window.apply(run, n, item_id, scenario, materials))
    chaos_thread.start()
    try:
        with ThreadPoolExecutor(workers) as pool:
            for done in [pool.submit(clerk) for _ in range(workers)]:
                done.result()
    finally:
        stop.set()
        chaos_thread.join()
        for proxy in proxies.values():
            proxy.restore()
        window.channel.close()
    print(chaos.line())
    print(f"{len(case_numbers)} applications ({len(case_numbers) * 3} events); restarts by the supervisor: "
          f"{dict(platform.restarts)}; the work took {time.monotonic() - started:.0f}s")

    def settled() -> Counts | None:
        counts = count(database_url, run, case_numbers)
        return counts if counts.lost == 0 else None
    try:
        counts = wait_until(settled, timeout=120 + applications * 0.05, what="every effect in the databases")
    except AssertionError:
        counts = count(database_url, run, case_numbers)
    print(counts.table())
    return counts


def main(argv: list[str] | None = None) -> int:
    """`make faults`: the large run on a platform of its own."""
    from tests.faults.platform import fault_platform, stop_on_sigterm

    parser = argparse.ArgumentParser(prog="python -m tests.faults.run")
    parser.add_argument("--applications", type=int, default=34000, help="3 events each (default ≥ 100,000)")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--pause", type=float, default=6.0,
                        help="mean seconds between faults (a restarted process needs a few to serve again)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    stop_on_sigterm()
    with fault_platform(Path(os.environ.get("SANJI_FAULTS_DIR", ".run/faults"))) as (platform, proxies, url, pw):
        counts = run_with_faults(platform, proxies, url, applications=args.applications, workers=args.workers,
                                 seed=args.seed, password=pw, pause=args.pause)
    print(json.dumps({"lost": counts.lost, "applied_twice": counts.twice}))
    return 0 if counts.lost == 0 and counts.twice == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
