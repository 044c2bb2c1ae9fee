"""The request's idempotency: the Python API's replies, keyed by the signed-in person."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmflow.core.people.replies import remembered as _remembered

from .extension import engine_ext

__all__ = ["remembered"]


def remembered(
    username: str, key: str | None, request: str, run: Callable[[], tuple[int, Any]]
) -> tuple[int, Any]:
    """See :func:`crmflow.core.people.replies.remembered`."""
    return _remembered(engine_ext.get(), username, key, request, run)
