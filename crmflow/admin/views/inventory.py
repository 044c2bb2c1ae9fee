"""Per SKU: projected stock, its shortage date, and the open alerts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from crmflow.core.domain.inventory import projected_inventory
from crmflow.core.people.worklist import open_alerts
from crmflow.errors import InputError

from .common import engine, render_error

__all__ = ["bp"]

bp = Blueprint("inventory", __name__)


@bp.get("/inventory/<sku>")
def show(sku: str) -> Any:
    if len(sku) > 100 or "\x00" in sku:
        return render_error(404, f"unknown sku {sku!r}")
    try:
        projection = projected_inventory(engine(), sku)
    except InputError as exc:
        return render_error(404, str(exc))
    return render_template("inventory/show.html", p=projection, sku=sku,
                           alerts=open_alerts(engine(), sku=sku))  # fmt: skip


@bp.get("/inventory")
def alerts() -> Any:
    return render_template("inventory/alerts.html", alerts=open_alerts(engine(), limit=100))
