"""Instances: the list, one instance with its trigger buttons, firing as the signed-in person."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from crmflow.core.people.authz import available_triggers, fire_as, state_title
from crmflow.errors import CrmflowError

from ..security import current_person
from .common import engine, instance_id

__all__ = ["bp"]

bp = Blueprint("instances", __name__)


@bp.get("/instances")
def listing() -> Any:
    eng = engine()
    workflow = request.args.get("workflow") or None
    known = set(eng.catalog.ids())
    if workflow not in known:
        workflow = None
    found = eng.list(workflow=workflow, limit=200)
    return render_template("instances/list.html", instances=found,
                           workflows=sorted(known), selected=workflow)  # fmt: skip


def _page(iid: int, message: str | None = None, error: str | None = None, status: int = 200
          ) -> Any:  # fmt: skip
    eng = engine()
    person = current_person()
    inst = eng.get(iid)
    definition = eng.catalog.newest(inst.workflow).definition
    return render_template(
        "instances/show.html", inst=inst, definition=definition,
        title=state_title(eng, inst.workflow, inst.state, person.language),
        triggers=available_triggers(eng, person, inst), message=message, error=error,
        form_key=uuid.uuid4().hex,
    ), status  # fmt: skip


@bp.get("/instances/<raw_id>")
def show(raw_id: str) -> Any:
    return _page(instance_id(raw_id))


@bp.post("/instances/<raw_id>")
def fire(raw_id: str) -> Any:
    iid = instance_id(raw_id)
    trigger = (request.form.get("trigger") or "").strip()
    if not trigger:
        return _page(iid, error=_("Choose an action."), status=422)
    data: dict[str, Any] = {}
    comment = (request.form.get("comment") or "").strip()
    if comment:
        data["comment"] = comment[:2000]
    key = (request.form.get("key") or "").strip()[:200] or None
    try:
        result = fire_as(engine(), current_person(), iid, trigger[:200], data or None, key=key)
    except CrmflowError as exc:
        return _page(iid, error=str(exc), status=409)
    if not result.taken:
        return _page(iid, error=result.reason, status=409)
    return _page(iid, message=_("Done: %(trigger)s. Now in %(state)s.", trigger=trigger,
                                state=result.state))  # fmt: skip
