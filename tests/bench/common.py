"""What every benchmark reports: a figure beside a baseline measured in the same run, and the ratio.

These machines are shared and noisy, so an absolute number means little on its own; the ratio to
a bare baseline (grpcio echo, pika publish, PostgreSQL insert) measured seconds earlier is the
figure to compare across runs. Benchmarks never assert timings.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Figure:
    name: str
    value: float
    unit: str                      # e.g. "calls/s", "ms", "s"
    baseline_name: str = ""
    baseline_value: float | None = None
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value


def percentile(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def analyze(owner_url: str, *schemas: str) -> None:
    """ANALYZE the schemas' tables: the statistics a running platform has. Autovacuum analyzes a table
    only once a tenth of it has changed, so right after a warm-up on a fresh bench database the planner
    would still see empty tables, and the plans a connection caches then (an index scan of a whole
    tenant where the primary key finds one row) would be what the figure measures."""
    from sqlalchemy import text

    from shared.db import owner_connection

    with owner_connection(owner_url) as conn:
        for schema in schemas:
            tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema})
            for (table,) in tables.all():
                conn.execute(text(f'ANALYZE {schema}."{table}"'))


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


class CpuMeter:
    """CPU time (user + system) spent by the platform's processes, PostgreSQL, RabbitMQ and this bench
    process over a measured span, from /proc (Linux): where a throughput figure's time goes, and the
    ceiling that cost sets on this machine's cores."""

    def __init__(self, named: dict[str, int], *, database: str = ""):
        """`database`: PostgreSQL's CPU is split into this database's backends and the rest (other databases'
        backends, the background writers, autovacuum) — on a machine shared with other work the rest is
        mostly theirs; on a quiet one it is the write-ahead log and checkpoints of this run."""
        self.named = {**named, "bench client": os.getpid()}
        self.database = database
        self._backends: set[int] = set()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._start: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def _snapshot(self) -> dict[str, float]:
        out: dict[str, float] = {}
        wanted = {pid: name for name, pid in self.named.items()}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.find("(") + 1:stat.rfind(")")]
            fields = stat[stat.rfind(")") + 2:].split()
            name = wanted.get(int(entry)) or {"postgres": "postgres", "beam.smp": "rabbitmq"}.get(comm)
            if name == "postgres" and self.database:
                name = ("postgres (this database)" if int(entry) in self._backends
                        else "postgres (rest: other databases, background)")
            if name:
                out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / self._tick
        return out

    def _database_backends(self) -> set[int]:
        import psycopg

        with psycopg.connect("host=127.0.0.1 dbname=postgres user=sanji_owner password=sanji_owner") as c:
            return {r[0] for r in c.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,))}

    def __enter__(self) -> CpuMeter:
        if self.database:
            self._backends = self._database_backends()
        self._start = self._snapshot()
        return self

    def __exit__(self, *exc) -> None:
        if self.database:                      # the pools' connections made during the run too
            self._backends |= self._database_backends()     # a backend new since the start counts from zero
        end = self._snapshot()
        self.spent = {k: v - self._start.get(k, 0.0) for k, v in end.items() if v - self._start.get(k, 0.0) > 0}

    def figures(self, what: str, units: int, unit: str, measured_rate: float) -> list[Figure]:
        """CPU per unit of work by process, in all, and the throughput that cost allows on every core."""
        total = sum(self.spent.values())
        if not units or not total:
            return []
        cores = os.cpu_count() or 1
        per = total / units * 1000
        out = [Figure(f"{what}: machine CPU per {unit}", per, f"ms CPU / {unit}")]
        out += [Figure(f"{what}: CPU per {unit} in {name}", s / units * 1000, f"ms CPU / {unit}")
                for name, s in sorted(self.spent.items(), key=lambda kv: -kv[1]) if s / total >= 0.02]
        out.append(Figure(f"{what}: ceiling at that cost on {cores} cores", cores * 1000 / per, f"{unit}s/s",
                          "measured", measured_rate))
        return out


class StatementStats:
    """pg_stat_statements for one database over a measured span, when the server has it loaded
    (`shared_preload_libraries`): the statements by total execution time and by calls per unit of work.
    Reached as the superuser the bootstrap uses (creating the extension needs one); a server without the
    library says "not loaded" and nothing else depends on it."""

    def __init__(self, database: str):
        self.database = database
        self.loaded = False
        self.why = ""

    def _psql(self, sql: str) -> str:
        from infra.local import bootstrap

        if not bootstrap._PSQL:
            bootstrap._PSQL = bootstrap._psql_cmd()
        try:
            return bootstrap.psql(sql, self.database)
        except SystemExit as exc:                  # psql failed: its message, not an exit of the bench
            raise RuntimeError(str(exc)) from None

    def reset(self) -> StatementStats:
        """Start the span: the extension in the database, and this database's counters at zero."""
        try:
            self._psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            self._psql("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database"
                       " WHERE datname = current_database()), 0)")
            self.loaded = True
        except RuntimeError as exc:
            text = str(exc)
            self.why = ("not loaded (shared_preload_libraries lacks pg_stat_statements)"
                        if "shared_preload_libraries" in text else "not available: " + text.strip().splitlines()[-1])
        return self

    def top(self, units: int, n: int = 15) -> list[str]:
        """The span's top statements by total time and by calls, per unit of work; lines to print."""
        if not self.loaded:
            return [f"pg_stat_statements: {self.why or 'not loaded'}"]
        import json

        rows = json.loads(self._psql(
            "SELECT coalesce(json_agg(s), '[]') FROM (SELECT calls, total_exec_time AS exec_ms,"
            " total_plan_time AS plan_ms, rows, shared_blks_hit + shared_blks_read AS blocks, query"
            " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND query NOT LIKE '%pg_stat_statements%') s") or "[]")
        if not rows or not units:
            return ["pg_stat_statements: nothing recorded"]
        calls = sum(r["calls"] for r in rows)
        total = sum(r["exec_ms"] + r["plan_ms"] for r in rows)
        out = [f"pg_stat_statements over {units} units: {calls / units:.1f} statements and"
               f" {total / units:.2f} ms execution + planning per unit ({len(rows)} distinct statements)"]

        def line(r: dict) -> str:
            query = " ".join(r["query"].split())
            return (f"  {(r['exec_ms'] + r['plan_ms']) / units:7.3f} ms {r['calls'] / units:6.2f} calls"
                    f" {r['rows'] / max(r['calls'], 1):7.1f} rows/call {r['blocks'] / max(r['calls'], 1):7.1f}"
                    f" blocks/call  {query[:150]}")

        out.append("by total time (per unit: ms, calls; per call: rows, buffer blocks):")
        out += [line(r) for r in sorted(rows, key=lambda r: -(r["exec_ms"] + r["plan_ms"]))[:n]]
        out.append("by calls:")
        out += [line(r) for r in sorted(rows, key=lambda r: -r["calls"])[:n]]
        return out
