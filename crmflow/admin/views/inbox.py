"""The home page: the person's inbox, alerts for their role, and search."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from crmflow.core.people.worklist import inbox, open_alerts, search

from ..security import current_person
from .common import engine

__all__ = ["bp"]

bp = Blueprint("inbox", __name__)

#: Roles that see stock alerts on their home page.
ALERT_ROLES = {"planner", "purchasing", "supervisor", "manager"}


@bp.get("/")
def home() -> Any:
    person = current_person()
    items = inbox(engine(), person)
    alerts = open_alerts(engine(), limit=10) if person.roles & ALERT_ROLES else []
    return render_template("inbox/home.html", items=items, alerts=alerts, person=person)


@bp.get("/search")
def find() -> Any:
    text = request.args.get("q", "")
    found = search(engine(), text)
    return render_template("inbox/search.html", q=text, found=found)
