"""`make bench`: every figure beside a baseline measured in the same run, and the ratio.

Runs against its own database (sanji_bench) and vhost; starts the services it measures as real
processes on loopback and stops them at the end.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.bench.common import Figure

console = Console()


def show(figs: list[Figure]) -> None:
    table = Table(title="sanji benchmarks (same-run baselines)")
    for col in ("figure", "value", "baseline", "baseline value", "ratio"):
        table.add_column(col, justify="right" if col != "figure" and col != "baseline" else "left")
    for f in figs:
        ratio = f.ratio
        table.add_row(f.name, f"{f.value:,.2f} {f.unit}", f.baseline_name,
                      "" if f.baseline_value is None else f"{f.baseline_value:,.2f}",
                      "" if ratio is None else f"{ratio:.2f}×")
    console.print(table)


def main(only: list[str]) -> int:
    """Run every benchmark, or only those named (catalogue, messaging, calendar, …)."""
    import os

    os.environ.setdefault("SANJI_MODE", "development")     # loopback only, the repository's development keys
    from infra import migrate
    from infra.local import bootstrap
    from infra.local.platform import Platform, Ports
    from services.catalogue.admin import import_units
    from shared.config import PlatformSettings
    from tests.bench import (
        bench_approval,
        bench_calendar,
        bench_catalogue,
        bench_complaints,
        bench_docking,
        bench_fees,
        bench_intake,
        bench_lifecycle,
        bench_lists,
        bench_messaging,
        bench_supervision,
    )

    if only == ["lists"]:                  # on make volume's database, with a platform of its own: nothing else
        show(bench_lists.run())
        return 0
    # SANJI_BENCH_DATABASE / SANJI_BENCH_VHOST: a bench of one's own (two benches never share a database)
    db = os.environ.get("SANJI_BENCH_DATABASE", "sanji_bench")
    vhost = os.environ.get("SANJI_BENCH_VHOST", db)
    bootstrap.main(["--database", db, "--vhost", vhost, "--recreate"])
    settings = PlatformSettings(
        database_url=f"postgresql+psycopg://sanji_app:sanji_app@127.0.0.1:5432/{db}",
        database_owner_url=f"postgresql+psycopg://sanji_owner:sanji_owner@127.0.0.1:5432/{db}",
        amqp_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}")
    migrate.migrate_all(settings.database_owner_url)
    from infra.demo.load import DIVISIONS

    import_units(settings.database_owner_url, DIVISIONS.read_text(encoding="utf-8"))
    figs: list[Figure] = []
    run_dir = Path(tempfile.mkdtemp(prefix="sanji-bench-"))
    platform = Platform(run_dir=run_dir, ports=Ports.free(),
                        env={"SANJI_DATABASE_URL": settings.database_url, "SANJI_AMQP_URL": settings.amqp_url,
                             "SANJI_DATABASE_OWNER_URL": settings.database_owner_url, "SANJI_LOG_LEVEL": "WARNING"})
    try:
        platform.start_oidc()
        platform.start_services()
        # the lifecycle before the benches that leave the platform work for minutes (approval's calendar bench:
        # 120,000 due_date_reprojected events for supervision), so that its CPU per lifecycle is its own
        for name, run in [("catalogue", lambda: bench_catalogue.run(platform)),
                          ("lifecycle", lambda: bench_lifecycle.run(platform)),
                          ("intake", lambda: bench_intake.run(platform)),
                          ("approval", lambda: bench_approval.run(platform)),
                          ("fees", lambda: bench_fees.run(platform)),
                          ("complaints", lambda: bench_complaints.run(platform)),
                          ("messaging", lambda: bench_messaging.run(settings)),
                          ("calendar", bench_calendar.run),
                          ("docking", lambda: bench_docking.run(platform, settings)),
                          ("supervision", lambda: bench_supervision.run(settings)),
                          ("lists", bench_lists.run)]:                  # on `make volume`'s database
            if only and name not in only:
                continue
            with console.status(f"{name} …"):
                new = run()
            show(new)
            figs += new
    finally:
        platform.stop()
    show(figs)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main(sys.argv[1:]))
