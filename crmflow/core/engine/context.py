"""What an action sees when it runs: the ActionContext."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["ActionContext"]


@dataclass
class ActionContext:
    """Passed to every action as its first argument."""

    engine: Engine
    instance_id: int | None
    workflow: str | None
    state: str | None
    data: dict[str, Any]
    actor: str | None
    idempotency_key: str
    now: datetime
    settings: dict[str, Any] = field(default_factory=dict)
    connection: sa.Connection | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("crmflow.actions"))
    #: who started the instance, and when (aware UTC); None outside an instance
    started_by: str | None = None
    started_at: datetime | None = None
