"""The routes of web.md's JSON API: thin calls of the Python API as the token's person."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from crmflow.core.domain.ctp import capable_to_promise  # noqa: F401 (documented beside)
from crmflow.core.domain.customers import customer_360
from crmflow.core.domain.inventory import projected_inventory
from crmflow.core.domain.timeline import order_timeline
from crmflow.core.people.authz import ForbiddenError, available_triggers, fire_as, start_as
from crmflow.core.people.worklist import inbox, preview_change, record_change
from crmflow.errors import CrmflowError, InputError, NotFoundError, RefusedError

from ..idempotency import remembered
from ..security import current_person, json_error
from ..views.common import MAX_ID, engine
from ..views.live import count
from . import schemas as s

__all__ = ["blp"]

blp = Blueprint("api", __name__, url_prefix="/api", description="crmflow JSON API")


def _errors(*codes: int) -> Callable[[Any], Any]:
    """Document the error answers a route gives (every route may answer 400 and 401)."""

    def wrap(fn: Any) -> Any:
        for code in sorted({400, 401, *codes}):
            fn = blp.alt_response(code, schema=s.ApiError, description="error")(fn)
        return fn

    return wrap


def _fail(exc: CrmflowError) -> Any:
    if isinstance(exc, ForbiddenError):
        return json_error(403, "role", str(exc))
    if isinstance(exc, NotFoundError):
        return json_error(404, "not_found", str(exc))
    if isinstance(exc, InputError):
        return json_error(422, "invalid", exc.message, exc.field)
    if isinstance(exc, RefusedError):
        return json_error(409, exc.reason or "refused", str(exc))
    return json_error(409, "refused", str(exc))


@blp.errorhandler(CrmflowError)
def _crmflow_error(exc: CrmflowError) -> Any:
    return _fail(exc)


def _iid(iid: int) -> int:
    if not 0 < iid <= MAX_ID:
        raise NotFoundError(f"no instance {iid}")
    return iid


def _text_id(value: str, what: str) -> str:
    if len(value) > 100 or "\x00" in value:
        raise NotFoundError(f"no {what} {value[:100]!r}")
    return value


def _idempotent(run: Callable[[], tuple[int, Any]], body: Any) -> Any:
    """Apply the Idempotency-Key header: the same request again returns the first answer."""
    key = request.headers.get("Idempotency-Key")
    signature = f"{request.method} {request.path} " + json.dumps(body, sort_keys=True, default=str)
    status, answer = remembered(current_person().username, key, signature, run)
    return answer, status


def _answer(fn: Callable[[], Any], status: int = 200) -> Callable[[], tuple[int, Any]]:
    def run() -> tuple[int, Any]:
        try:
            return status, fn()
        except CrmflowError as exc:
            response = _fail(exc)
            return response.status_code, response.get_json()

    return run


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, s.MeOut)
    @_errors()
    def get(self) -> Any:
        """The signed-in person: username, roles, departments, language."""
        return current_person().as_json()


@blp.route("/instances")
class Instances(MethodView):
    @blp.arguments(s.InstanceQuery, location="query")
    @blp.response(200, s.InstanceOut(many=True))
    @_errors(422)
    def get(self, args: dict[str, Any]) -> Any:
        """Instances, newest first, without history (``show`` objects)."""
        found = engine().list(workflow=args.get("workflow"), state=args.get("state"),
                              limit=args["limit"] + args["offset"])  # fmt: skip
        return [i.as_json(history=False) for i in found[args["offset"]:]]

    @blp.arguments(s.StartIn)
    @blp.response(201, s.StartOut)
    @_errors(403, 404, 409, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Start a workflow as the caller; 403 unless one of their roles is one it names."""
        eng, person = engine(), current_person()

        def start() -> dict[str, Any]:
            iid = start_as(eng, person, body["workflow"], body.get("data") or {})
            return {"id": iid, "state": eng.get(iid).state}

        return _idempotent(_answer(start, 201), body)


@blp.route("/instances/<int:iid>")
class OneInstance(MethodView):
    @blp.response(200, s.InstanceOut)
    @_errors(404)
    def get(self, iid: int) -> Any:
        """The ``show --json`` object plus the triggers the caller may fire now."""
        inst = engine().get(_iid(iid))
        return {**inst.as_json(), "triggers": available_triggers(engine(), current_person(), inst)}


@blp.route("/instances/<int:iid>/fire")
class Fire(MethodView):
    @blp.arguments(s.FireIn)
    @blp.response(200, s.FireOut)
    @_errors(403, 404, 409, 422)
    def post(self, body: dict[str, Any], iid: int) -> Any:
        """Fire a trigger as the caller: 200 taken, 409 refused, 403 role."""
        eng, person = engine(), current_person()
        _iid(iid)

        def fire() -> tuple[int, Any]:
            key = body.get("key") or request.headers.get("Idempotency-Key")
            try:
                result = fire_as(eng, person, iid, body["trigger"], body.get("data"), key=key)
            except CrmflowError as exc:
                response = _fail(exc)
                return response.status_code, response.get_json()
            if result.taken:
                count("fires")
                return 200, {"taken": True, "state": result.state}
            count("refusals")
            code = result.code or "refused"
            status = 403 if code == "role" else 409
            return status, {"error": {"code": code, "message": result.reason or code}}

        return _idempotent(fire, body)


@blp.route("/inbox")
class Inbox(MethodView):
    @blp.response(200, s.InboxItem(many=True))
    @_errors()
    def get(self) -> Any:
        """The caller's open work, soonest due first."""
        return inbox(engine(), current_person())


@blp.route("/events")
class Events(MethodView):
    @blp.arguments(s.EventIn)
    @blp.response(200, s.EventOut)
    @_errors(403, 409, 422)
    def post(self, body: dict[str, Any]) -> Any:
        """Deliver a domain event as the caller (the ``emit`` result)."""
        eng, person = engine(), current_person()

        def emit() -> dict[str, Any]:
            key = body.get("key") or request.headers.get("Idempotency-Key")
            result = eng.emit(body["event"], body["data"], key=key, actor=person.username)
            return {"started": result.started, "moved": result.moved}

        return _idempotent(_answer(emit), body)


@blp.route("/orders/<order_id>")
class OneOrder(MethodView):
    @blp.response(200)
    @_errors(404)
    def get(self, order_id: str) -> Any:
        """The order timeline of ``crmflow order``."""
        return order_timeline(engine(), _text_id(order_id, "order"))


@blp.route("/orders/<order_id>/changes")
class Changes(MethodView):
    @blp.arguments(s.ChangeIn)
    @blp.response(201, s.ChangeOut)
    @_errors(403, 404, 409, 422)
    def post(self, body: dict[str, Any], order_id: str) -> Any:
        """Record a demand change as the caller; it then follows its workflow."""
        eng, person = engine(), current_person()
        _text_id(order_id, "order")

        def change() -> dict[str, Any]:
            done = record_change(eng, person, order_id, body["sku"], body["field"],
                                 body["new"], body["reason"])  # fmt: skip
            return {"change_id": done["change_id"], "status": done["approval_state"],
                    "impact": done.get("impact") or {}}  # fmt: skip

        return _idempotent(_answer(change, 201), body)


@blp.route("/orders/<order_id>/impact")
class Impact(MethodView):
    @blp.arguments(s.ImpactIn)
    @blp.response(200)
    @_errors(403, 404, 422)
    def post(self, body: dict[str, Any], order_id: str) -> Any:
        """What a demand change would do (CTP, plan, capacity, tolerance); records nothing."""
        return preview_change(engine(), current_person(), _text_id(order_id, "order"),
                              body["sku"], body["field"], body["new"])  # fmt: skip


@blp.route("/customers/<customer_id>")
class OneCustomer(MethodView):
    @blp.response(200)
    @_errors(404)
    def get(self, customer_id: str) -> Any:
        """The customer 360 of ``crmflow customer``."""
        return customer_360(engine(), _text_id(customer_id, "customer"))


@blp.route("/inventory/<sku>/projection")
class Projection(MethodView):
    @blp.response(200)
    @_errors(404)
    def get(self, sku: str) -> Any:
        """The projection of ``crmflow inventory projected``."""
        try:
            return projected_inventory(engine(), _text_id(sku, "sku"))
        except InputError as exc:
            if exc.field == "sku":
                raise NotFoundError(str(exc)) from exc
            raise


@blp.route("/kpi")
class Kpi(MethodView):
    @blp.arguments(s.KpiQuery, location="query")
    @blp.response(200)
    @_errors(422)
    def get(self, args: dict[str, Any]) -> Any:
        """The ``crmflow kpi --json`` object (``from``, ``to``, ``by``)."""
        from crmflow.plugins.kpi.service import kpi_report

        start, end = args.get("from_"), args.get("to")
        for name, day in (("from", start), ("to", end)):
            if day is not None and not dt.date(1900, 1, 1) <= day <= dt.date(2200, 1, 1):
                raise InputError("must be between 1900-01-01 and 2200-01-01", field=name)
        if start and end and end <= start:
            raise InputError("must be after from", field="to")
        if "kpi" not in current_app.extensions["crmflow"].registry.enabled:
            raise NotFoundError("the kpi plugin is not enabled in this factory")
        return kpi_report(engine(), start, end, by=args.get("by"))
