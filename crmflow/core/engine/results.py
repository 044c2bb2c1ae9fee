"""What the engine returns: fire results, instances, transition records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["EmitResult", "FireResult", "HistoryEntry", "Instance", "TimerEntry", "TransitionRecord"]


@dataclass(frozen=True)
class FireResult:
    """The outcome of one fired trigger.

    ``reason`` starts with the refusal's kind (``trigger``, ``guard``, ``role``,
    ``finished``) followed by what to fix; ``code`` is that kind alone.
    """

    taken: bool
    state: str
    reason: str | None = None
    code: str | None = None
    instance_id: int | None = None
    duplicate: bool = False
    history_id: int | None = None


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    trigger: str
    from_state: str | None
    to_state: str
    at: datetime
    actor: str | None
    payload: dict[str, Any] | None = None
    key: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "from": self.from_state,
            "to": self.to_state,
            "at": self.at.isoformat(),
            "actor": self.actor,
        }


@dataclass(frozen=True)
class TimerEntry:
    trigger: str
    due: datetime
    name: str
    kind: str

    def as_json(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "due": self.due.isoformat(), "kind": self.kind}


@dataclass
class Instance:
    id: int
    workflow: str
    version: int
    state: str
    data: dict[str, Any]
    rev: int
    finished: bool
    created_at: datetime
    updated_at: datetime
    entered_at: datetime
    key: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    timers: list[TimerEntry] = field(default_factory=list)
    #: votes cast in approval states: {"by", "for", "decision", "at", "comment", "state"}
    approvals: list[dict[str, Any]] = field(default_factory=list)
    started_by: str | None = None
    #: a parallel state's regions, region -> its state ({} outside a parallel state)
    regions: dict[str, str] = field(default_factory=dict)
    #: sub-workflows: the instances this one's `call:` states started, and who started it
    children: list[dict[str, Any]] = field(default_factory=list)
    parent: int | None = None

    def as_json(self, *, history: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": self.id,
            "workflow": self.workflow,
            "version": self.version,
            "state": self.state,
            "regions": dict(self.regions),
            "data": self.data,
        }
        if history:
            result["history"] = [h.as_json() for h in self.history]
        result["timers"] = [t.as_json() for t in self.timers]
        result["approvals"] = list(self.approvals)
        result["started_by"] = self.started_by
        result["children"] = list(self.children)
        result["parent"] = self.parent
        result["finished"] = self.finished
        result["created_at"] = self.created_at.isoformat()
        result["updated_at"] = self.updated_at.isoformat()
        return result


@dataclass(frozen=True)
class TransitionRecord:
    """A taken transition, handed to ``on_transition`` hooks after the commit."""

    instance_id: int
    workflow: str
    version: int
    trigger: str
    from_state: str | None
    to_state: str
    actor: str | None
    at: datetime
    payload: dict[str, Any] | None
    history_id: int


@dataclass
class EmitResult:
    """Instances an event started and instances it moved."""

    event: str
    started: list[int] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)
    duplicate: bool = False

    @property
    def ids(self) -> list[int]:
        return [*self.started, *self.moved]
