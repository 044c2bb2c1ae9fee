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


def emit_all(engine: Engine, events: Iterable[Event], *, actor: str) -> None:
    """Emit events in order; emitting after the commit means a reader sees the records."""
    for event in events:
        engine.emit(event.name, event.payload, key=event.key, actor=actor)
