"""Reports delivered to the province by the real docking process, beside a same-run baseline.

A backlog of REPORTS reports (REPORTS_PER_CASE per case) is written to the docking outbox in one transaction,
as a province outage of an hour leaves it; the docking process (started by the bench's platform, pointed at
the simulator) delivers it: each report signed with SM2, posted to the simulator, which verifies it and
answers with its SM2-signed receipt, which the docking process verifies before it marks the report delivered
and logs it in the county's SM3 chain. Figures: reports delivered per second, and the time to drain the
backlog. Baseline in the same run: the bare HTTP round trip to the simulator (GET /healthz, one at a time,
same client library), the floor of any delivery.

REPORTS: a default chosen here for "one hour" — a busy county hall takes ~400 cases a day, each reported 5–8
times (accepted, decided, fees settled, completed, handed out …), i.e. ~300 reports in a working hour; the
bench drains three times that.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

import httpx

from gateway.docking.settings import DEV_DOCKING_PUBLIC_KEY
from infra.province.simulator import ProvinceSimulator
from shared.db import Database, sql
from tests.bench.common import Figure

REPORTS = 1_000
REPORTS_PER_CASE = 5
COUNTY = "620602"


def _baseline(url: str, n: int = 500) -> float:
    with httpx.Client(trust_env=False) as client:
        client.get(f"{url}/healthz")
        t0 = time.perf_counter()
        for _ in range(n):
            client.get(f"{url}/healthz")
        return n / (time.perf_counter() - t0)


def _backlog(db: Database, n: int) -> None:
    stamp = uuid.uuid4().hex[:8]
    rows = []
    for i in range(n):
        case = f"{COUNTY}000000BENCH{stamp}{i // REPORTS_PER_CASE:05d}"
        body = {"event": "case_decided", "progress_code": "8", "case_number": case, "unit": COUNTY,
                "detail": {"case_number": case, "tenant": COUNTY}}
        rows.append({"m": uuid.uuid4(), "t": COUNTY, "k": case, "ty": "case_decided", "b": json.dumps(body)})
    with db.unit_of_work(tenant=COUNTY) as uow:
        for r in rows:
            # queued an hour ago, as an outage leaves them: past the sender's settle time (a report just queued
            # waits it out, SANJI_DOCKING_SETTLE_SECONDS, for an earlier event of its case still being retried)
            uow.execute(sql("INSERT INTO docking.outbound (message_id, tenant_code, case_key, type, body, created_at,"
                            " event_at) VALUES (:m, :t, :k, :ty, CAST(:b AS jsonb), now() - interval '1 hour',"
                            " now() - interval '1 hour')"), r)
        uow.commit()


def _pending(db: Database) -> int:
    with db.unit_of_work(tenant=COUNTY) as uow:
        return uow.value(sql("SELECT count(*) FROM docking.outbound WHERE delivered_at IS NULL"))


def run(platform, settings) -> list[Figure]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)       # not a line per request on the terminal
    sim = ProvinceSimulator(county_public_key=DEV_DOCKING_PUBLIC_KEY, port=platform.ports.province).start()
    db = Database.connect(settings.database_url, schema="docking", pool_size=2)
    try:
        baseline = _baseline(sim.url)
        _backlog(db, 50)                                  # warm-up: the process's connections and caches
        while _pending(db):
            time.sleep(0.05)
        before = len(sim.receipts())
        t0 = time.perf_counter()
        _backlog(db, REPORTS)
        while _pending(db):
            time.sleep(0.02)
        drained = time.perf_counter() - t0
        delivered = len(sim.receipts()) - before
        assert delivered == REPORTS, (delivered, REPORTS)
        rate = delivered / drained
        return [Figure("docking: reports delivered to the province", rate, "reports/s",
                       "bare HTTP round trip to the simulator", baseline),
                Figure(f"docking: drain a one-hour backlog ({REPORTS} reports)", drained, "s",
                       "the same reports at the bare round-trip rate", REPORTS / baseline, higher_is_better=False)]
    finally:
        db.dispose()
        sim.stop()
