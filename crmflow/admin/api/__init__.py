"""The JSON API under /api, declared with flask-smorest; /api/openapi.json is generated."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from ..security import json_error

__all__ = ["CrmApi", "init_api"]

_CODES = {400: "malformed", 401: "unauthorized", 403: "role", 404: "not_found",
          405: "method", 409: "conflict", 413: "too_large", 415: "media_type",
          422: "invalid", 429: "throttled"}  # fmt: skip


def _first_field(errors: Any, prefix: str = "") -> tuple[str | None, str]:
    """The first field webargs blames and its first message."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key in ("json", "query", "form", "headers", "view_args", "_schema"):
                return _first_field(value, prefix)
            field, message = _first_field(value, f"{prefix}{key}.")
            return field or f"{prefix}{key}", message
    if isinstance(errors, list) and errors:
        if isinstance(errors[0], str):
            return None, errors[0]
        return _first_field(errors[0], prefix)
    return None, str(errors)


class CrmApi(Api):
    """flask-smorest's Api whose errors follow web.md: ``{"error": {code, message, field}}``."""

    def handle_http_exception(self, error: HTTPException) -> Any:  # type: ignore[override]
        status = error.code or 500
        if not (request.path == "/api" or request.path.startswith("/api/")):
            if status == 500:
                status = 400
            return render_template("error.html", status=status,
                                   message=error.description), status  # fmt: skip
        data = getattr(error, "data", None) or {}
        field = None
        message = error.description or error.name
        if data.get("messages"):
            field, message = _first_field(data["messages"])
            if status == 422 and field:
                message = f"{field}: {message}"
        if status >= 500:
            status = 400
        return json_error(status, _CODES.get(status, "error"), str(message), field)


def init_api(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "crmflow")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
        }},
        "security": [{"bearer": []}],
        "info": {"description": "The crmflow JSON API (docs/web.md). Send "
                                "`Authorization: Bearer TOKEN` (`crmflow token create`)."},
    })  # fmt: skip
    api = CrmApi(app)  # one per app: flask-smorest keeps its spec on the Api object
    app.extensions["crmflow.api"] = api
    from .routes import blp

    api.register_blueprint(blp)
