"""The KPI admin pages: values of a period, a breakdown, stored trends; JSON for charts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request

from crmflow.errors import CrmflowError, InputError

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
    dates = (
        parse_date(start, "from") if start else None,
        parse_date(end, "to") if end else None,
    )
    for name, day in zip(("from", "to"), dates, strict=True):
        if day is not None and not dt.date(1900, 1, 1) <= day <= dt.date(2200, 1, 1):
            raise InputError("must be between 1900-01-01 and 2200-01-01", field=name)
    return dates


def _limit() -> int:
    raw = request.args.get("limit", "12")
    if not raw.isdigit() or not 1 <= int(raw[:6]) <= 1000 or len(raw) > 6:
        raise InputError("must be a whole number from 1 to 1000", field="limit")
    return int(raw)


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
            limit=_limit(),
        )
    )


@bp.get("/pilot.json")
def pilot_json() -> Any:
    """The pilot comparison (``department`` may be repeated)."""
    departments = request.args.getlist("department")
    return jsonify(pilot_comparison(_engine(), departments, *_dates()))
