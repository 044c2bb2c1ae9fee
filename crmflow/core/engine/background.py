"""A scheduler and outbox loop in a thread, for `crmflow run` (one process)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Engine

__all__ = ["BackgroundWorker"]

log = logging.getLogger("crmflow.worker")


class BackgroundWorker:
    """Ticks timers and drains the outbox every ``interval`` seconds until stopped."""

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="crmflow-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.engine.tick()
                self.engine.run_outbox()
            except Exception:  # keep serving; the next round retries
                log.exception("background worker round failed")
            self._stop.wait(self.interval)
