"""The background worker that runs the intake sweep (deemed acceptance, 容缺 expiry) every N seconds.

Started and stopped by the runner (a worker of `ServiceParts`), like the outbox relay. The sweep itself is
`IntakeHandlers.sweep(today)`: driven by the due-date index, each case in its own transaction.
"""

from __future__ import annotations

import logging

from services.intake.handlers import IntakeHandlers, SweepResult
from shared.periodic import PeriodicWorker

log = logging.getLogger("sanji.intake.sweep")


class DeadlineSweeper(PeriodicWorker):
    name = "intake-sweep"
    log = log

    def __init__(self, handlers: IntakeHandlers, interval_seconds: float = 30.0):
        super().__init__(interval_seconds)
        self.handlers = handlers

    def run_once(self) -> SweepResult:
        result = self.handlers.sweep(self.handlers.clock.today())
        if result.deemed or result.terminated or result.failed:
            log.info("sweep: %d deemed accepted, %d terminated, %d failed", len(result.deemed),
                     len(result.terminated), len(result.failed))
        return result
