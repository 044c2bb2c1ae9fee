"""Raw DB-API plumbing shared by the fire paths: driver errors and the general-path fallback."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa

__all__ = [
    "Fallback",
    "NO_CONNECTION",
    "dbapi_errors",
]


class dbapi_errors:  # noqa: N801 - used as a context manager, like contextlib's
    """Raise driver errors as SQLAlchemy's (IntegrityError …), as Core statements would.

    A class rather than a generator context manager: every event enters one,
    and this costs a third of contextlib's set-up.
    """

    __slots__ = ("dialect",)

    def __init__(self, dialect: sa.Dialect) -> None:
        self.dialect = dialect

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, _tb: Any) -> Literal[False]:
        base = self.dialect.loaded_dbapi.Error
        if exc is None or not isinstance(exc, base):
            return False
        raise sa.exc.DBAPIError.instance(None, None, exc, base, dialect=self.dialect) from exc


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
