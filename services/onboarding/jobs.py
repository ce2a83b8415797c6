"""The job worker: runs the queued onboarding jobs (shared.periodic: one indexed query a round when none waits).
Several replicas may run it: a job is claimed by one UPDATE, so each runs once; a job left running by a process
that died is taken again after 15 minutes (onboarding is idempotent: a second run changes nothing it did)."""

from __future__ import annotations

import logging

from services.onboarding.handlers import OnboardingHandlers
from shared.periodic import PeriodicWorker


class JobWorker(PeriodicWorker):
    name = "onboarding-jobs"
    log = logging.getLogger("sanji.onboarding.jobs")

    def __init__(self, handlers: OnboardingHandlers, interval_seconds: float):
        super().__init__(interval_seconds)
        self.handlers = handlers

    def run_once(self) -> int:
        return self.handlers.run_waiting()
