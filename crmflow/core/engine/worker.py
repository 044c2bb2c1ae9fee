"""The worker loop: queued events, due timers and the outbox, with graceful shutdown."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import repository as repo
from .inbox import drain
from .outbox import run_outbox
from .prune import prune
from .ticker import fire_due

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["PARENT_ENV", "Round", "Worker", "die_with_parent", "worker_id"]

#: Set by `crmflow worker --concurrency N` for its children: the parent's pid.
PARENT_ENV = "CRMFLOW_WORKER_PARENT"
_PR_SET_PDEATHSIG = 1

log = logging.getLogger("crmflow.worker")


def worker_id() -> str:
    """A name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Round:
    """What one pass over the queues did."""

    events: int = 0
    timers: int = 0
    outbox: int = 0
    pruned: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.events or self.timers or self.outbox)

    def add(self, other: Round) -> None:
        self.events += other.events
        self.timers += other.timers
        self.outbox += other.outbox
        self.pruned += other.pruned


def die_with_parent(parent: int) -> None:
    """In a child worker before it runs: get SIGTERM when ``parent`` dies (Linux).

    Used as ``preexec_fn`` of the children; elsewhere :meth:`Worker.run` notices
    a changed parent pid at its next round.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


class Worker:
    """Drains the inbox, fires due timers and runs the outbox, batch by batch.

    Every batch is its own transaction (inbox, timers) or lease (outbox), so a
    stop between batches loses nothing, and a worker killed mid-batch either
    rolls back (its locks die with its connection) or lets its leases expire.
    ``run_once(now)`` is one pass, driven by a test clock; ``run()`` loops until
    SIGTERM/SIGINT or :meth:`stop`, finishing the batch in hand first.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        batch: int = 100,
        lease: timedelta = timedelta(minutes=5),
        idle: float = 0.5,
        prune_after: timedelta | None = None,
        prune_every: timedelta = timedelta(hours=1),
        prune_archive: Path | None = None,
        name: str | None = None,
    ) -> None:
        self.engine = engine
        self.batch = batch
        self.lease = lease
        self.idle = idle
        self.prune_after = prune_after
        self.prune_every = prune_every
        self.prune_archive = prune_archive
        self._pruned_at: datetime | None = None
        engine.worker_id = name or worker_id()
        engine.inline_outbox = False  # this loop runs the outbox; callers never wait for it
        self._stop = threading.Event()

    @property
    def name(self) -> str:
        return self.engine.worker_id

    def stop(self) -> None:
        """Ask the loop to stop after the batch in hand."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_once(self, now: datetime | None = None) -> Round:
        """One batch of each kind of work due at ``now`` (default: the engine's clock)."""
        engine = self.engine
        when = repo.utc(now) if now else engine.now()
        done = Round()
        done.events = drain(engine, when, limit=self.batch, lease=self.lease).total
        if self._stop.is_set():
            return done
        done.timers = fire_due(engine, when, self.batch)[0]
        if self._stop.is_set():
            return done
        done.outbox = run_outbox(engine, when, self.batch, lease=self.lease, rounds=1)
        self._run_scheduled(when)
        if self._prune_due(when):
            self._pruned_at = when
            assert self.prune_after is not None
            done.pruned = prune(
                engine, self.prune_after, now=when, archive=self.prune_archive
            ).instances
        return done

    def _run_scheduled(self, when: datetime) -> None:
        """Plugins' own jobs (KPI snapshots, …); a failing one must not stop the others."""
        hook = self.engine.hook("run_scheduled")
        for impl in hook.get_hookimpls():
            if self._stop.is_set():
                return
            try:
                impl.function(engine=self.engine, now=when)
            except Exception:
                log.exception("worker %s: scheduled job of plugin %s failed", self.name,
                              impl.plugin_name)

    def _prune_due(self, when: datetime) -> bool:
        if self.prune_after is None or self._stop.is_set():
            return False
        return self._pruned_at is None or when - self._pruned_at >= self.prune_every

    def run_until_idle(self, now: datetime | None = None, max_rounds: int = 10_000) -> Round:
        """Repeat :meth:`run_once` until a pass finds nothing to do."""
        total = Round()
        for _ in range(max_rounds):
            done = self.run_once(now)
            total.add(done)
            if not done.busy or self._stop.is_set():
                break
        return total

    def run(
        self, *, once: bool = False, on_round: Callable[[Round], None] | None = None
    ) -> Round:
        """Loop until stopped (or one pass until idle with ``once``); returns the totals."""
        previous = self._install_signals()
        total = Round()
        log.info("worker %s started", self.name)
        parent = int(os.environ.get(PARENT_ENV) or 0)
        try:
            while not self._stop.is_set():
                if parent and os.getppid() != parent:
                    log.warning("worker %s: parent %s is gone; stopping", self.name, parent)
                    break
                try:
                    done = self.run_once()
                except Exception:  # a broken round must not end the worker; retry after a pause
                    log.exception("worker %s: round failed", self.name)
                    done = Round()
                    self._stop.wait(self.idle)
                total.add(done)
                if on_round is not None:
                    on_round(done)
                if once and not done.busy:
                    break
                if not done.busy:
                    self._stop.wait(self.idle)
        finally:
            self._restore_signals(previous)
            log.info(
                "worker %s stopped: %s events, %s timers, %s outbox",
                self.name, total.events, total.timers, total.outbox,
            )  # fmt: skip
        return total

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        log.info("worker %s: %s, finishing the batch in hand", self.name, name)
        self._stop.set()

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous: dict[int, Any] = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, self._on_signal)
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
