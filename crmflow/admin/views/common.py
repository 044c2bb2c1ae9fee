"""Small helpers the page views share: bounded ids, the engine, errors as pages."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template

from ..extension import engine_ext

__all__ = ["MAX_ID", "engine", "instance_id", "render_error"]

MAX_ID = 2**63 - 1


def engine() -> Any:
    return engine_ext.get()


def instance_id(raw: str) -> int:
    """A path id as an int, or 404 for anything that cannot be a row id."""
    if not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= MAX_ID:
        abort(404)
    return int(raw)


def render_error(status: int, message: str) -> Any:
    return render_template("error.html", status=status, message=message), status
