"""First steps: note what a signed-in person looked at or decided, for their checklist.

One ``after_request`` hook maps a successful page to an activity of
:mod:`crmflow.core.onboarding` (the order timeline, a customer 360, a projection,
a capable-to-promise preview, the inbox, the KPI page, the dashboard, the rollout
page, a workflow diagram, a studio draft checked, an approval decided from a phone
or a desk), so no view has to remember to do it.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask_login import current_user

from crmflow.core import onboarding

from .extension import engine_ext

__all__ = ["init_activity"]

log = logging.getLogger("crmflow.web")

#: page endpoint -> the activity it proves
PAGES = {
    "orders.show": "order_viewed",
    "customers.show": "customer_viewed",
    "inventory.show": "projection_viewed",
    "inbox.home": "inbox_viewed",
    "kpi.page": "kpi_viewed",
    "sop_dashboard.page": "dashboard_viewed",
    "sop_dashboard.index": "dashboard_viewed",
    "rollout.index": "rollout_viewed",
    "studio.diagram": "diagram_viewed",
}
#: POST endpoint -> the activity it proves (approvals decided are told by their trigger)
ACTIONS = {
    "studio.check": "draft_validated",
}
_DECISIONS = ("approve", "reject")


def _device() -> str:
    agent = request.headers.get("User-Agent", "")
    return "phone" if any(w in agent for w in ("Mobile", "Android", "iPhone")) else "desk"


def _activity() -> str | None:
    if request.method == "GET":
        if request.endpoint == "orders.show" and request.args.get("new"):
            return "ctp_checked"  # the demand-change preview shows the CTP date
        return PAGES.get(request.endpoint or "")
    if request.endpoint == "instances.fire" and request.form.get("trigger") in _DECISIONS:
        return "approval_decided"
    return ACTIONS.get(request.endpoint or "")


def _subject() -> str:
    """What the activity was about: the page's path, or the name of a checked draft."""
    if request.endpoint == "studio.check":
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            return str(body.get("name") or "draft.yaml")[:200]
    return request.path[:200]


def _note(response: Response) -> Response:
    if response.status_code >= 400 or not getattr(current_user, "is_authenticated", False):
        return response
    activity = _activity()
    if activity is None:
        return response
    engine = engine_ext.get()
    try:
        onboarding.note(engine.db, str(current_user.get_id()), activity,
                        subject=_subject(), device=_device(), now=engine.now())
    except Exception:  # a checklist tick must never break the page
        log.exception("could not note %s for the first-steps checklist", activity)
    return response


def init_activity(app: Flask) -> None:
    app.after_request(_note)
