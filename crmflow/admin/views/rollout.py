"""Staged rollout for managers: stages, changes with who and why, the pilot's figures."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crmflow.core import onboarding
from crmflow.core.rollout import ROLLOUT_ROLES, rollout_names
from crmflow.errors import CrmflowError, InputError

from ..pilot_charts import pilot_charts
from ..security import current_person
from .common import engine, render_error

__all__ = ["bp"]

bp = Blueprint("rollout", __name__)


def _pilot_figures(eng: Any, names: list[str], states: dict[str, Any]) -> dict[str, Any]:
    from crmflow.plugins.kpi.pilot import pilot_comparison

    figures: dict[str, Any] = {}
    for name in names:
        if states[name].mode != "pilot":
            continue
        try:
            figures[name] = pilot_comparison(eng, workflow=name)
        except CrmflowError as exc:
            figures[name] = {"error": str(exc)}
    return figures


@bp.get("/rollout")
def index(error: str | None = None, status: int = 200) -> Any:
    eng = engine()
    person = current_person()
    names = rollout_names(eng)
    states = eng.rollout.states(names)
    figures = _pilot_figures(eng, names, states)
    return render_template(
        "rollout/index.html", states=states, history=eng.rollout.history()[-50:][::-1],
        figures=figures,
        charts={n: pilot_charts(f, _) for n, f in figures.items() if "error" not in f},
        departments=[d.id for d in eng.factory.departments],
        can_change=bool(ROLLOUT_ROLES & person.roles), error=error,
        team=onboarding.team_progress(eng.db, onboarding.factory_people(eng)),
    ), status  # fmt: skip


@bp.post("/rollout")
def change() -> Any:
    eng = engine()
    person = current_person()
    name = (request.form.get("name") or "").strip()
    mode = (request.form.get("mode") or "").strip()
    departments = [d for d in request.form.getlist("departments") if d]
    since_raw = (request.form.get("since") or "").strip()
    reason = (request.form.get("reason") or "").strip()[:2000] or None
    try:
        if name not in rollout_names(eng):
            raise InputError(_("Choose a workflow or plugin."), field="name")
        since = date.fromisoformat(since_raw) if since_raw else None
        eng.rollout.set(name, mode, departments if mode == "pilot" else [], since=since,
                        by=person.username, reason=reason, now=eng.now(),
                        roles=person.roles)  # fmt: skip
    except ValueError:
        return index(error=_("The start date must look like 2026-12-01."), status=422)
    except CrmflowError as exc:
        if getattr(exc, "reason", "") == "role":
            return render_error(403, str(exc))
        return index(error=str(exc), status=422)
    return redirect(url_for("rollout.index"))
