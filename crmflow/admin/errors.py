"""Errors answer 4xx: JSON under /api, a page elsewhere; an unexpected failure is logged."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template, request

from crmflow.core.people.authz import ForbiddenError
from crmflow.errors import CrmflowError, InputError, NotFoundError

from .security import json_error

__all__ = ["init_errors"]

log = logging.getLogger("crmflow.web")


def _status(exc: CrmflowError) -> tuple[int, str]:
    if isinstance(exc, ForbiddenError):
        return 403, "role"
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, InputError):
        return 422, "invalid"
    return 409, getattr(exc, "reason", "refused")


def _crmflow_error(exc: CrmflowError) -> Any:
    status, code = _status(exc)
    if request.path.startswith("/api"):
        return json_error(status, code, str(exc), getattr(exc, "field", None))
    return render_template("error.html", status=status, message=str(exc)), status


def init_errors(app: Flask) -> None:
    app.register_error_handler(CrmflowError, _crmflow_error)
