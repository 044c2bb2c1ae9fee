"""Domain events: built while writing, emitted through the engine after the commit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["Event", "emit_all"]


@dataclass(frozen=True)
class Event:
    """A domain event to emit: name, JSON-ready payload and idempotency key."""

    name: str
    payload: dict[str, Any]
    key: str | None = None


_BATCH = 500


def emit_all(engine: Engine, events: Iterable[Event], *, actor: str) -> None:
    """Emit events in order, now, outside any transaction.

    Only for events no record stands behind (demo scripts, tests): a writer of
    records uses :func:`crmflow.core.domain.writer.domain_write`, which commits the
    events with the records so that a crash cannot lose them.
    """
    batch: list[tuple[str, dict[str, Any], str | None]] = []
    for event in events:
        batch.append((event.name, event.payload, event.key))
        if len(batch) >= _BATCH:
            engine.emit_many(batch, actor=actor)
            batch = []
    if batch:
        engine.emit_many(batch, actor=actor)
