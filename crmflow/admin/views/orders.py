"""An order: its timeline and lines, and recording a demand change with its impact first."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from crmflow.core.domain.orders import LINE_FIELDS
from crmflow.core.domain.timeline import order_timeline
from crmflow.core.people.worklist import preview_change, record_change
from crmflow.errors import CrmflowError, InputError, NotFoundError

from ..idempotency import remembered
from ..security import current_person
from .common import engine, render_error

__all__ = ["bp"]

bp = Blueprint("orders", __name__)

REASONS = ("customer_request", "forecast_update", "supply_issue", "price_change", "other")


def _timeline(order_id: str) -> dict[str, Any]:
    if len(order_id) > 100 or "\x00" in order_id:
        raise NotFoundError(f"no order {order_id!r}")
    return order_timeline(engine(), order_id)


def _render(order_id: str, *, preview: Any = None, result: Any = None, error: str | None = None,
            status: int = 200) -> Any:  # fmt: skip
    try:
        timeline = _timeline(order_id)
    except NotFoundError as exc:
        return render_error(404, str(exc))
    form = {k: (request.values.get(k) or "") for k in ("sku", "field", "new", "reason")}
    open_lines = [line for line in timeline["lines"] if line["status"] not in
                  ("delivered", "cancelled")]  # fmt: skip
    return render_template(
        "orders/show.html", order=timeline, open_lines=open_lines, fields=LINE_FIELDS,
        reasons=REASONS, form=form, preview=preview, result=result, error=error,
        form_key=uuid.uuid4().hex if error is None and result else (
            request.values.get("key") or uuid.uuid4().hex),
    ), status  # fmt: skip


@bp.get("/orders/<order_id>")
def show(order_id: str) -> Any:
    if request.args.get("sku") and request.args.get("new"):
        try:
            preview = preview_change(engine(), current_person(), order_id,
                                     request.args["sku"], request.args.get("field", "quantity"),
                                     request.args["new"])  # fmt: skip
        except CrmflowError as exc:
            return _render(order_id, error=str(exc), status=_status(exc))
        return _render(order_id, preview=preview)
    return _render(order_id)


def _status(exc: CrmflowError) -> int:
    from crmflow.core.people.authz import ForbiddenError

    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, InputError):
        return 422
    return 409


@bp.post("/orders/<order_id>/changes")
def change(order_id: str) -> Any:
    person = current_person()
    form = request.form
    key = (form.get("key") or "").strip()[:200]

    def record() -> tuple[int, dict[str, Any]]:
        try:
            done = record_change(engine(), person, order_id, form.get("sku", ""),
                                 form.get("field", ""), form.get("new", ""),
                                 form.get("reason", ""))  # fmt: skip
        except CrmflowError as exc:
            return _status(exc), {"error": str(exc)}
        return 201, done

    signature = "|".join([order_id, *(form.get(k, "") for k in ("sku", "field", "new", "reason"))])
    status, body = remembered(person.username, key, "change:" + signature, record)
    if "error" in body:
        return _render(order_id, error=body["error"], status=status)
    message = _("Change recorded: %(state)s.", state=body.get("approval_state", ""))
    return _render(order_id, result={**body, "message": message}, status=200)
