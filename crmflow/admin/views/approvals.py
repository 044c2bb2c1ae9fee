"""Delegation: hand one's approvals to a deputy for a period."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from crmflow.core.people.authz import delegate_as
from crmflow.errors import CrmflowError

from ..security import current_person
from .common import engine

__all__ = ["bp"]

bp = Blueprint("approvals", __name__)


@bp.route("/delegation", methods=["GET", "POST"])
def delegation() -> Any:
    person = current_person()
    eng = engine()
    people = sorted(eng.factory.people)
    message = error = None
    status = 200
    if request.method == "POST":
        try:
            delegate_as(eng, person, request.form.get("delegate", ""),
                        request.form.get("start", ""), request.form.get("end", ""))  # fmt: skip
            message = _("Your approvals go to %(who)s from %(start)s to %(end)s.",
                        who=request.form.get("delegate"), start=request.form.get("start"),
                        end=request.form.get("end"))  # fmt: skip
        except CrmflowError as exc:
            error, status = str(exc), 403 if "role:" in str(exc) else 422
    return render_template("approvals/delegation.html", people=people, message=message,
                           error=error), status  # fmt: skip
