"""The delivery worker: a thread that runs the handlers' delivery pass every interval (reports to the
province, per case in order, retried with backoff), forgets nonces older than the freshness window, and once a
day reconciles yesterday with the province and signs the message log's finished days. Started and stopped with
the process (shared.runner)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from gateway.docking.domain import CHINA
from gateway.docking.handlers import DockingHandlers

log = logging.getLogger("sanji.docking.delivery")
# the daily reconciliation runs after this hour (China time): a default, late enough that the province's
# receipt log for the day before is complete, early enough to re-send before the working day
DAILY_AT_HOUR = 2


class DeliveryWorker:
    def __init__(self, handlers: DockingHandlers, interval: float = 0.5, housekeeping_every: float = 60.0,
                 daily_at_hour: int = DAILY_AT_HOUR):
        self.h = handlers
        self.daily_at_hour = daily_at_hour
        self._daily_done: dt.date | None = None
        self.interval = interval
        self.housekeeping_every = housekeeping_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="docking-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _maybe_daily(self) -> None:
        """Once a day, after `daily_at_hour` China time: yesterday's reconciliation and the log's daily heads."""
        now = dt.datetime.now(CHINA)
        if now.hour < self.daily_at_hour or self._daily_done == now.date():
            return
        self._daily_done = now.date()
        found = self.h.daily()
        if any(found.values()):
            log.warning("daily reconciliation with the province: mismatches %s (listed, re-sent, kept)", found)

    def _run(self) -> None:
        last_housekeeping = 0.0
        while not self._stop.is_set():
            try:
                done = self.h.deliver_due()
                if time.monotonic() - last_housekeeping > self.housekeeping_every:
                    self.h.housekeeping()
                    self._maybe_daily()
                    last_housekeeping = time.monotonic()
            except Exception:  # noqa: BLE001 — the worker must outlive a database or network hiccup
                log.exception("delivery pass failed")
                done = None
            if done is not None and done.delivered and not done.failed:
                continue            # more may be due behind what was just delivered (the next in each case)
            self._stop.wait(self.interval)
