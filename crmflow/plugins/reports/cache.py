"""A per-engine cache of expensive dashboard figures, invalidated by the events that change them."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import Any

__all__ = ["FigureCache", "cache_of", "invalidate"]

log = logging.getLogger(__name__)

#: Seconds after which a figure is refreshed (behind the scenes) even when no event of
#: this process touched it: other processes (a worker, a second app) change the
#: database without telling us.
MAX_AGE = 60.0


def _in_thread(job: Callable[[], None]) -> None:
    threading.Thread(target=job, name="sop-figure-refresh", daemon=True).start()


class FigureCache:
    """Computed figures keyed by ``(name, params)``, each tagged with what it depends on.

    ``invalidate(tags)`` drops every entry carrying one of the tags (``sku:A1``,
    ``capacity``, ``kpi``…); ``invalidate(None)`` drops all: the next read
    computes afresh. An entry older than ``max_age`` seconds is still served
    while one refresh runs in the background (``spawn``), so no page view
    waits for a figure that merely aged (a KPI report over a million lines
    takes a minute).
    """

    def __init__(self, max_age: float = MAX_AGE, clock: Callable[[], float] = time.monotonic,
                 spawn: Callable[[Callable[[], None]], None] = _in_thread) -> None:  # fmt: skip
        self.max_age = max_age
        self.clock = clock
        self.spawn = spawn
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, frozenset[str], Any]] = {}
        self._refreshing: set[Hashable] = set()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, tags: Iterable[str], compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``; computed now when absent, refreshed behind when old."""
        tags = frozenset(tags)
        now = self.clock()
        stale = False
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self.hits += 1
                stale = now - entry[0] >= self.max_age and key not in self._refreshing
                if stale:
                    self._refreshing.add(key)
            else:
                self.misses += 1
        if entry is not None:
            if stale:
                self.spawn(lambda: self._refresh(key, tags, compute))
            return entry[2]
        value = compute()
        with self._lock:
            self._entries[key] = (now, tags, value)
        return value

    def _refresh(self, key: Hashable, tags: frozenset[str], compute: Callable[[], Any]) -> None:
        started = self.clock()
        try:
            value = compute()
        except Exception:  # the stale figure stays; the next read tries again
            log.exception("refreshing %r failed", key)
            with self._lock:
                self._refreshing.discard(key)
            return
        with self._lock:
            self._refreshing.discard(key)
            if key in self._entries:  # not invalidated meanwhile
                self._entries[key] = (started, tags, value)

    def invalidate(self, tags: Iterable[str] | None = None, *, soft: bool = False) -> int:
        """Drop entries tagged with any of ``tags`` (all entries for None); how many.

        ``soft`` only ages them: they are served once more while a background
        refresh recomputes them.
        """
        if soft:
            wanted = set(tags or ())
            with self._lock:
                aged = [k for k, (_, t, _) in self._entries.items() if tags is None or t & wanted]
                for k in aged:
                    _, t, value = self._entries[k]
                    self._entries[k] = (float("-inf"), t, value)
                return len(aged)
        with self._lock:
            if tags is None:
                dropped = len(self._entries)
                self._entries.clear()
                return dropped
            wanted = set(tags)
            stale = [k for k, (_, t, _) in self._entries.items() if t & wanted]
            for k in stale:
                del self._entries[k]
            return len(stale)

    def __len__(self) -> int:
        return len(self._entries)


_caches: weakref.WeakKeyDictionary[Any, FigureCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_of(engine: Any) -> FigureCache:
    """The cache of ``engine`` (one per Engine object, created on first use, gone with it)."""
    with _caches_lock:
        found = _caches.get(engine)
        if found is None:
            found = _caches[engine] = FigureCache()
        return found


#: Which figures an event touches, by the event's first word.
EVENT_TAGS: dict[str, tuple[str, ...]] = {
    "order": ("demand", "orders", "kpi", "worklist"),
    "delivery": ("orders", "kpi"),
    "demand": ("demand", "orders", "worklist"),
    "inventory": ("stock", "kpi"),
    "production": ("capacity", "plan"),
    "plan": ("capacity", "plan"),
    "capacity": ("capacity",),
    "purchase": ("stock",),
    "forecast": ("forecast", "kpi"),
    "kpi": ("kpi",),
}
#: Topics whose figures are refreshed behind the scenes rather than dropped: the KPI
#: report of a past period rarely changes with one event and takes long to compute.
SOFT = frozenset({"kpi"})
#: Topics whose figures are cached per SKU (``sku:X``, and ``per-sku`` for all of them).
PER_SKU = frozenset({"stock", "orders", "plan", "forecast"})


def invalidate(engine: Any, event: str | None, payload: dict[str, Any] | None = None) -> int:
    """Drop what ``event`` may have changed; a SKU in the payload narrows the per-SKU figures.

    Aggregates (tagged by topic) are dropped and rebuilt from the per-SKU
    figures, of which only the named SKU's are recomputed. Unknown events
    (connectors, imports of other kinds) drop everything: a stale figure is
    worse than a recomputed one.
    """
    cache = cache_of(engine)
    head = (event or "").split(".", 1)[0]
    tags = EVENT_TAGS.get(head)
    if tags is None:
        return cache.invalidate(None)
    wanted = set(tags) - SOFT
    if SOFT & set(tags):
        cache.invalidate(SOFT & set(tags), soft=True)
    if wanted & PER_SKU:
        sku = (payload or {}).get("sku")
        wanted.add(f"sku:{sku}" if isinstance(sku, str) and sku else "per-sku")
    return cache.invalidate(wanted)
