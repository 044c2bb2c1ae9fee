"""The interactive API page: vendored Swagger UI over the generated /api/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

__all__ = ["bp"]

bp = Blueprint("api_docs", __name__)

#: Swagger UI sets style attributes from its scripts; scripts stay 'self' only.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@bp.get("/docs/api")
def page() -> Any:
    return render_template("api_docs.html"), 200, {"Content-Security-Policy": _CSP}
