"""The background worker that runs the intake sweep (deemed acceptance, 容缺 expiry) every N seconds.

Started and stopped by the runner (a worker of `ServiceParts`), like the outbox relay. The sweep itself is
`IntakeHandlers.sweep(today)`: driven by the due-date index, each case in its own transaction.
"""

from __future__ import annotations

import logging
import threading

from services.intake.handlers import IntakeHandlers, SweepResult

log = logging.getLogger("sanji.intake.sweep")


class DeadlineSweeper:
    def __init__(self, handlers: IntakeHandlers, interval_seconds: float = 30.0):
        self.handlers = handlers
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> SweepResult:
        result = self.handlers.sweep(self.handlers.clock.today())
        if result.deemed or result.terminated or result.failed:
            log.info("sweep: %d deemed accepted, %d terminated, %d failed", len(result.deemed),
                     len(result.terminated), len(result.failed))
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 — the database may be briefly away; try again next round
                log.exception("intake sweep failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="intake-sweep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
