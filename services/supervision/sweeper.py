"""The background worker that runs the supervision sweep every N seconds (cards that time alone raises or turns
red, orders not answered in time, the daily chain heads). Started and stopped by the runner, like the relay. The
sweep itself is `SupervisionHandlers.sweep(today)`, driven by the `next_check_on` index."""

from __future__ import annotations

import logging

from services.supervision.handlers import SupervisionHandlers, SweepResult
from shared.periodic import PeriodicWorker

log = logging.getLogger("sanji.supervision.sweep")


class ThresholdSweeper(PeriodicWorker):
    name = "supervision-sweep"
    log = log

    def __init__(self, handlers: SupervisionHandlers, interval_seconds: float = 2.0):
        super().__init__(interval_seconds)
        self.handlers = handlers

    def run_once(self) -> SweepResult:
        result = self.handlers.sweep(self.handlers.clock.today())
        if result.raised or result.closed or result.escalated or result.failed:
            log.info("sweep: %d cases, %d cards raised, %d closed, %d orders escalated, %d failed", result.cases,
                     result.raised, result.closed, result.escalated, len(result.failed))
        return result
