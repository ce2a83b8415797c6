"""Supervision at scale (issue 17): 1,000,000 open cases generated in bulk SQL, then

- threshold → card: one case's threshold passes; the time until its card exists (the sweep finds it through the
  `next_check_on` index, evaluates it, writes the card) beside a bare indexed SELECT of that row;
- the day-boundary sweep: the cases whose threshold falls on one day (a thousandth of them), beside a bare indexed
  SELECT of the same rows;
- memory: the process's peak RSS after the sweeps, and the read model's size in PostgreSQL;
- ingest: events through the consumer's handler (read model + audit chain + evaluation, one transaction each) per
  second, beside a bare INSERT of the same number of rows, one transaction each.

In-process handlers on the bench database (the figures are PostgreSQL's and the handler's, not the broker's).
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import time
import uuid

from sqlalchemy import create_engine, text

from tests.bench.common import Figure

CASES = 1_000_000
TENANTS = [f"620602{n:03d}" for n in range(1, 11)]          # ten townships, 100,000 open cases each
DAYS = 1000                                                  # thresholds spread over this many days
DAY0 = dt.date(2027, 1, 4)


def _bulk(owner_url: str) -> None:
    engine = create_engine(owner_url)
    per = CASES // len(TENANTS)
    with engine.begin() as c:
        # the cases the platform's own supervision recorded during the earlier benches of the same `make bench` (the
        # lifecycle's, 620602's) are taken off the sweep: the figures are of these ten townships' read model
        c.execute(text("SELECT set_config('app.tenant', '62', true), set_config('app.subtree', 'on', true)"))
        others = c.execute(text("SELECT DISTINCT tenant_code FROM supervision.cases WHERE next_check_on IS NOT NULL"
                                " AND tenant_code <> ALL(:ours)"), {"ours": TENANTS}).scalars().all()
        c.execute(text("SELECT set_config('app.subtree', '', true)"))
        for tenant in others:
            c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
            c.execute(text("UPDATE supervision.cases SET next_check_on = NULL WHERE tenant_code = :t"), {"t": tenant})
        for i, tenant in enumerate(TENANTS):
            c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
            c.execute(text(
                "INSERT INTO supervision.cases (tenant_code, application_id, case_number, stage, item_name, department,"
                " accepted_on, promised_limit, statutory_limit, promised_due, statutory_due, next_check_on)"
                " SELECT :t, 'bench-' || :i || '-' || g, :t || '-' || g, 'open', '建筑工程施工许可', '住建局',"
                " DATE '2026-09-01', 10, 20, :day0 + (g % :days), :day0 + (g % :days) + 30,"
                " :day0 + (g % :days) + 1 FROM generate_series(1, :n) g"),
                {"t": tenant, "i": i, "n": per, "day0": DAY0, "days": DAYS})
        c.execute(text("ANALYZE supervision.cases"))
    engine.dispose()


def run(settings) -> list[Figure]:
    from sanji.intake.v1 import events_pb2 as intake_ev

    from services.supervision.handlers import SupervisionHandlers
    from services.supervision.repository import THRESHOLD_SWEEP
    from services.supervision.translate import EventsOut, fact_of
    from shared import hashchain
    from shared.calendar_store import CalendarCache, CalendarStore
    from shared.clock import Clock
    from shared.db import Database
    from shared.messaging import Envelope
    from shared.protojson import message_to_json

    t0 = time.perf_counter()
    _bulk(settings.database_owner_url)
    bulk_s = time.perf_counter() - t0
    db = Database.connect(settings.database_url, schema="supervision", pool_size=4)
    # years not yet published count Monday to Friday (provisional), as the platform does
    cache = CalendarCache(CalendarStore(db.engine, "supervision"))
    clock = Clock(DAY0)
    signer = hashchain.HeadSigner(hashchain.DEV_CHAIN_PRIVATE_KEY, hashchain.DEV_CHAIN_PUBLIC_KEY)
    h = SupervisionHandlers(db, clock, cache, EventsOut(), signer)
    figs: list[Figure] = []
    try:
        # threshold → card: one case's threshold is today; every other threshold is tomorrow or later
        tenant, app = TENANTS[0], "bench-0-7"
        engine = create_engine(settings.database_owner_url)
        with engine.begin() as c:
            c.execute(text("SELECT set_config('app.tenant', :t, true)"), {"t": tenant})
            c.execute(text("UPDATE supervision.cases SET next_check_on = :d, promised_due = :d - 1"
                           " WHERE tenant_code = :t AND application_id = :a"), {"d": DAY0, "t": tenant, "a": app})
        t0 = time.perf_counter()
        result = h.sweep(DAY0)
        one = time.perf_counter() - t0
        assert result.cases == 1 and result.raised >= 1, result
        with db.unit_of_work() as uow:
            uow.widen(THRESHOLD_SWEEP, on="on")
            t0 = time.perf_counter()
            uow.rows("SELECT tenant_code, application_id FROM supervision.cases WHERE next_check_on <= :d", {"d": DAY0})
            bare_one = time.perf_counter() - t0
        figs.append(Figure("supervision: threshold → card (1 of 1,000,000 open cases)", one * 1000, "ms",
                           "bare indexed SELECT of that row", bare_one * 1000, higher_is_better=False))

        # the day boundary: every case whose threshold falls on the next day
        day = DAY0 + dt.timedelta(days=1)
        t0 = time.perf_counter()
        result = h.sweep(day)
        sweep_s = time.perf_counter() - t0
        with db.unit_of_work() as uow:
            uow.widen(THRESHOLD_SWEEP, on="on")
            t0 = time.perf_counter()
            rows = uow.rows("SELECT tenant_code, application_id, promised_due FROM supervision.cases"
                            " WHERE next_check_on <= :d", {"d": day + dt.timedelta(days=1)})
            bare = time.perf_counter() - t0
        figs.append(Figure(f"supervision: day-boundary sweep ({result.cases:,} cases crossing, "
                           f"{result.raised:,} cards)", sweep_s, "s", f"bare indexed SELECT of {len(rows):,} rows",
                           bare, higher_is_better=False))
        figs.append(Figure("supervision: peak RSS of the process after the sweeps",
                           resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MB"))
        with engine.connect() as c:
            size = c.execute(text("SELECT pg_total_relation_size('supervision.cases')")).scalar_one()
        figs.append(Figure("supervision: read model of 1,000,000 cases in PostgreSQL", size / 2**20, "MB",
                           "bulk SQL load (s)", bulk_s))

        # ingest: events through the handler, one transaction each, against bare single-row inserts
        n = 1000
        bodies = []
        for i in range(n):
            m = intake_ev.ApplicationAccepted(application_id=str(uuid.uuid4()), tenant=TENANTS[1],
                                              case_number=f"ING{i:08d}", accepted_at="2027-01-04T10:00:00+08:00",
                                              promised_limit_days=10, statutory_limit_days=20, item_name="施工许可")
            bodies.append(m)
        t0 = time.perf_counter()
        for m in bodies:
            env = Envelope(event_id=str(uuid.uuid4()), event_type="application_accepted", tenant=TENANTS[1],
                           correlation_id=m.case_number, event_version=1, traceparent=None, tracestate=None,
                           timestamp=int(time.time()), source="intake", body=json.loads(message_to_json(m)))
            with db.unit_of_work(tenant=TENANTS[1]) as uow:
                h.record(fact_of("intake", "application_accepted", m), env, uow)
                uow.commit()
        ingest = n / (time.perf_counter() - t0)
        with engine.begin() as c:
            c.execute(text("CREATE TABLE IF NOT EXISTS public.bench_supervision_rows (id text PRIMARY KEY, body text)"))
        t0 = time.perf_counter()
        for _ in range(n):
            with engine.begin() as c:
                c.execute(text("INSERT INTO public.bench_supervision_rows VALUES (:i, :b)"),
                          {"i": str(uuid.uuid4()), "b": "{}"})
        bare_ingest = n / (time.perf_counter() - t0)
        with engine.begin() as c:
            c.execute(text("DROP TABLE public.bench_supervision_rows"))
        engine.dispose()
        figs.append(Figure("supervision: events ingested (read model + chain + rules)", ingest, "events/s",
                           "bare INSERT, one transaction each", bare_ingest))
    finally:
        db.dispose()
    return figs
