"""A background worker that runs one function every N seconds until stopped: the shape of the services' sweeps
(intake's deadline sweep, supervision's threshold sweep). Started and stopped by the runner like the outbox relay
(`ServiceParts.workers`: start() / stop()). A round that fails is logged and the next round tries again — the
database may be briefly away; the work is index-driven and idempotent, so nothing is lost by a skipped round."""

from __future__ import annotations

import logging
import threading


class PeriodicWorker:
    """Subclasses give `name`, `log` and `run_once()`."""

    name = "periodic"
    log = logging.getLogger("sanji.periodic")

    def __init__(self, interval_seconds: float):
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self):  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 — logged with its traceback; the next round tries again
                self.log.exception("%s failed", self.name)
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
