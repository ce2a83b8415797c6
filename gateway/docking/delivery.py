"""The delivery worker: a thread that runs the handlers' delivery pass every interval (reports to the
province, per case in order, retried with backoff), signs the message log's finished days, and forgets
nonces older than the freshness window. Started and stopped with the process (shared.runner)."""

from __future__ import annotations

import logging
import threading
import time

from gateway.docking.handlers import DockingHandlers

log = logging.getLogger("sanji.docking.delivery")


class DeliveryWorker:
    def __init__(self, handlers: DockingHandlers, interval: float = 0.5, housekeeping_every: float = 60.0):
        self.h = handlers
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

    def _run(self) -> None:
        last_housekeeping = 0.0
        while not self._stop.is_set():
            try:
                done = self.h.deliver_due()
                if time.monotonic() - last_housekeeping > self.housekeeping_every:
                    self.h.housekeeping()
                    last_housekeeping = time.monotonic()
            except Exception:  # noqa: BLE001 — the worker must outlive a database or network hiccup
                log.exception("delivery pass failed")
                done = None
            if done is not None and done.delivered and not done.failed:
                continue            # more may be due behind what was just delivered (the next in each case)
            self._stop.wait(self.interval)
