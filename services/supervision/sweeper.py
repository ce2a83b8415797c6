"""The background worker that runs the supervision sweep every N seconds (cards that time alone raises or turns
red, orders not answered in time, the daily chain heads). Started and stopped by the runner, like the relay. The
sweep itself is `SupervisionHandlers.sweep(today)`, driven by the `next_check_on` index."""

from __future__ import annotations

import logging
import threading

from services.supervision.handlers import SupervisionHandlers, SweepResult

log = logging.getLogger("sanji.supervision.sweep")


class ThresholdSweeper:
    def __init__(self, handlers: SupervisionHandlers, interval_seconds: float = 2.0):
        self.handlers = handlers
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> SweepResult:
        result = self.handlers.sweep(self.handlers.clock.today())
        if result.raised or result.closed or result.escalated or result.failed:
            log.info("sweep: %d cases, %d cards raised, %d closed, %d orders escalated, %d failed", result.cases,
                     result.raised, result.closed, result.escalated, len(result.failed))
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 — the database may be briefly away; try again next round
                log.exception("supervision sweep failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="supervision-sweep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
