"""Small typed helpers over SQLAlchemy results that every core module may use."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["inserted_id"]


def inserted_id(result: sa.CursorResult[Any]) -> Any:
    """The primary key of the one row an ``INSERT … VALUES`` added."""
    key = result.inserted_primary_key
    if key is None:  # only an INSERT of several rows or a non-INSERT has none
        raise TypeError("the statement inserted no single row with a primary key")
    return key[0]
