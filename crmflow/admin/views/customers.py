"""The customer 360 page: purchase cycle, next expected order, preferences, value, volatility."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from crmflow.core.domain.customers import customer_360
from crmflow.errors import NotFoundError

from .common import engine, render_error

__all__ = ["bp"]

bp = Blueprint("customers", __name__)


@bp.get("/customers/<customer_id>")
def show(customer_id: str) -> Any:
    if len(customer_id) > 100 or "\x00" in customer_id:
        return render_error(404, f"no customer {customer_id!r}")
    try:
        c360 = customer_360(engine(), customer_id)
    except NotFoundError as exc:
        return render_error(404, str(exc))
    return render_template("customers/show.html", c=c360)
