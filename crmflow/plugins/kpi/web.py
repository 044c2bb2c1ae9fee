"""The KPI admin pages: values of a period, a breakdown, stored trends; JSON for charts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request

from crmflow.errors import CrmflowError

from .breakdown import DIMENSIONS
from .periods import parse_date
from .pilot import pilot_comparison
from .service import engine_kpis, kpi_report
from .snapshots import read_trend

__all__ = ["bp"]

bp = Blueprint("kpi", __name__, template_folder="templates")


def _engine() -> Any:
    return current_app.extensions["crmflow"]


def _dates() -> tuple[Any, Any]:
    start, end = request.args.get("from"), request.args.get("to")
    return (
        parse_date(start, "from") if start else None,
        parse_date(end, "to") if end else None,
    )


@bp.errorhandler(CrmflowError)
def _bad_request(exc: CrmflowError) -> Any:
    return jsonify({"error": str(exc)}), 400


@bp.get("/")
def page() -> str:
    engine = _engine()
    by = request.args.get("by") or None
    report = kpi_report(engine, *_dates(), by=by)
    specs = engine_kpis(engine)
    trends = {spec.key: read_trend(engine, spec.key) for spec in specs}
    return render_template(
        "kpi/kpis.html",
        factory=engine.factory,
        report=report,
        specs=specs,
        dimensions=DIMENSIONS,
        by=by,
        trends=trends,
    )


@bp.get("/report.json")
def report_json() -> Any:
    """What `crmflow kpi --json` prints (``from``, ``to``, ``by`` as query parameters)."""
    return jsonify(kpi_report(_engine(), *_dates(), by=request.args.get("by") or None))


@bp.get("/trend.json")
def trend_json() -> Any:
    """Stored snapshot values of ``key``: ``period``, ``by``, ``group``, ``limit``."""
    key = request.args.get("key")
    if not key:
        return jsonify({"error": "give the KPI key: /kpi/trend.json?key=order_fill_rate"}), 400
    return jsonify(
        read_trend(
            _engine(),
            key,
            kind=request.args.get("period", "month"),
            dimension=request.args.get("by") or None,
            group=request.args.get("group") or None,
            limit=request.args.get("limit", 12, type=int),
        )
    )


@bp.get("/pilot.json")
def pilot_json() -> Any:
    """The pilot comparison (``department`` may be repeated)."""
    departments = request.args.getlist("department")
    return jsonify(pilot_comparison(_engine(), departments, *_dates()))
