"""The dashboard blueprint: workflows and instances, as HTML and JSON."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request

from crmflow.errors import NotFoundError

from .extension import engine_ext

__all__ = ["bp"]

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index() -> str:
    engine = engine_ext.get()
    workflow = request.args.get("workflow") or None
    state = request.args.get("state") or None
    instances = engine.list(workflow=workflow, state=state, limit=200)
    return render_template(
        "index.html",
        factory=engine.factory,
        workflows=engine.catalog.definitions(),
        instances=instances,
        counts=_counts(instances),
        selected=workflow,
    )


@bp.get("/instances/<int:iid>")
def instance(iid: int) -> str:
    engine = engine_ext.get()
    try:
        inst = engine.get(iid)
    except NotFoundError:
        abort(404)
    return render_template("instance.html", factory=engine.factory, inst=inst)


@bp.get("/api/instances")
def api_instances() -> Any:
    engine = engine_ext.get()
    found = engine.list(
        workflow=request.args.get("workflow") or None,
        state=request.args.get("state") or None,
        limit=min(int(request.args.get("limit", 200)), 1000),
    )
    return jsonify([i.as_json(history=False) for i in found])


@bp.get("/api/instances/<int:iid>")
def api_instance(iid: int) -> Any:
    try:
        return jsonify(engine_ext.get().get(iid).as_json())
    except NotFoundError as exc:
        return jsonify({"error": str(exc)}), 404


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify({"ok": True})


def _counts(instances: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for inst in instances:
        counts[inst.workflow] = counts.get(inst.workflow, 0) + 1
    return counts
