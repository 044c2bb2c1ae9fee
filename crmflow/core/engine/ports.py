"""The engine as the modules below it see it: a Protocol, so none of them imports runtime."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from crmflow.core.factory import FactoryConfig

from .catalog import Catalog
from .results import EmitResult, FireResult, Instance, TransitionRecord

if TYPE_CHECKING:  # pragma: no cover
    from .hookcalls import HookCalls

__all__ = ["EngineLike"]


class EngineLike(Protocol):
    """What fire paths, timers, events, inbox, outbox and workers use of an Engine."""

    db: sa.Engine
    factory: FactoryConfig
    registry: Any  # crmflow.core.registry.Registry (its hooks import this Protocol)
    catalog: Catalog
    settings: dict[str, Any]
    clock: Callable[[], datetime]
    inline_outbox: bool
    worker_id: str
    rollout: Any  # crmflow.core.rollout.RolloutPolicy: which plugins act for whom
    hooks: HookCalls

    def now(self) -> datetime: ...

    def today(self, now: datetime | None = None) -> Any: ...

    def plugin_settings(self, name: str) -> dict[str, Any]: ...

    def roles_of(self, actor: str | None) -> frozenset[str]: ...

    def is_person(self, name: str) -> bool: ...

    def expression_context(
        self, data: dict[str, Any], event: dict[str, Any] | None, state: str | None,
        now: datetime, *, actor: str | None = None, started_by: str | None = None,
    ) -> dict[str, Any]: ...  # fmt: skip

    def hook(self, name: str) -> Any: ...

    def after_commit(self, records: list[TransitionRecord], queued: bool) -> None: ...

    def start_new(
        self, workflow: str, data: dict[str, Any] | None = None, actor: str | None = None,
        key: str | None = None, *, open_key: str | None = None, now: datetime | None = None,
    ) -> tuple[int, bool]: ...  # fmt: skip

    def start_child(
        self, conn: sa.Connection, workflow: str, data: dict[str, Any], actor: str | None,
        now: datetime,
    ) -> tuple[int, list[TransitionRecord], bool]: ...  # fmt: skip

    def start(
        self, workflow: str, data: dict[str, Any] | None = None, actor: str | None = None,
        key: str | None = None, *, open_key: str | None = None, now: datetime | None = None,
    ) -> int: ...  # fmt: skip

    def fire(
        self, iid: int, trigger: str, data: dict[str, Any] | None = None,
        key: str | None = None, actor: str | None = None, *, now: datetime | None = None,
    ) -> FireResult: ...  # fmt: skip

    def emit(
        self, event: str, payload: dict[str, Any] | None = None, *, key: str | None = None,
        actor: str = "system",
    ) -> EmitResult: ...  # fmt: skip

    def get(self, iid: int) -> Instance: ...

    def list(
        self, workflow: str | None = None, state: str | None = None, *,
        finished: bool | None = None, limit: int | None = None,
    ) -> list[Instance]: ...  # fmt: skip

    def tick(self, now: datetime | None = None) -> int: ...

    def close(self) -> None: ...
