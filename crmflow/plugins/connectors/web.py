"""The connectors admin page: each connector's health and failures; JSON as the CLI prints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template

from .status import connectors_status, failures

__all__ = ["bp"]

bp = Blueprint("connectors", __name__, template_folder="templates")


def _engine() -> Any:
    return current_app.extensions["crmflow"]


@bp.get("/")
def page() -> str:
    engine = _engine()
    rows = connectors_status(engine)
    failed = {row["name"]: failures(engine, row["name"]) for row in rows}
    return render_template("connectors/connectors.html", factory=engine.factory, rows=rows,
                           failed=failed)  # fmt: skip


@bp.get("/status.json")
def status_json() -> Any:
    """What `crmflow connectors --json` prints (without the failures)."""
    return jsonify(connectors_status(_engine()))
