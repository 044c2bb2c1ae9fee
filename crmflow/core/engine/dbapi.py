"""Raw DB-API plumbing shared by the fire paths: driver errors and the general-path fallback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

__all__ = [
    "Fallback",
    "NO_CONNECTION",
    "dbapi_errors",
]


@contextmanager
def dbapi_errors(dialect: sa.Dialect) -> Iterator[None]:
    """Raise driver errors as SQLAlchemy's (IntegrityError …), as Core statements would."""
    base = dialect.loaded_dbapi.Error
    try:
        yield
    except base as exc:
        raise sa.exc.DBAPIError.instance(None, None, exc, base, dialect=dialect) from exc


class Fallback(Exception):
    """The direct path met work that needs a SQLAlchemy Connection (see fire_direct)."""


class NoConnection:
    """Stands in for the Connection on the direct path: using it means "take the general path".

    The catalog reads a workflow version from the database only when this
    process has not compiled it yet; that (rare) event is redone by fire_in.
    """

    def execute(self, *_args: Any, **_kwargs: Any) -> Any:
        raise Fallback()


NO_CONNECTION: Any = NoConnection()
