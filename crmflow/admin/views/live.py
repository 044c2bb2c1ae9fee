"""Health, Prometheus metrics and the server-sent-events stream: transitions, notifications."""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask_login import current_user

from crmflow.core.engine.tables import OutboxRow, TimerRow

from ..live import END, Broker
from .common import engine

__all__ = ["bp", "count", "init_metrics"]

bp = Blueprint("live", __name__)
_outbox = OutboxRow.__table__  # type: ignore[attr-defined]
_timers = TimerRow.__table__  # type: ignore[attr-defined]
KEEPALIVE_SECONDS = 15.0


def _metrics() -> tuple[Counter[str], threading.Lock]:
    return current_app.extensions["crmflow.metrics"]  # type: ignore[no-any-return]


def count(name: str, amount: int = 1) -> None:
    """Add to a counter shown by /metrics (``fires``, ``refusals``)."""
    counter, lock = _metrics()
    with lock:
        counter[name] += amount


def _count_request(response: Response) -> Response:
    count(f"requests:{response.status_code}")
    return response


def init_metrics(app: Flask) -> None:
    app.extensions["crmflow.metrics"] = (Counter(), threading.Lock())
    app.after_request(_count_request)


@bp.get("/healthz")
def healthz() -> Any:
    try:
        with engine().db.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return jsonify({"status": "error", "db": "unreachable"}), 503
    return jsonify({"status": "ok", "db": "ok"})


@bp.get("/metrics")
def metrics() -> Any:
    eng = engine()
    now = eng.now()
    with eng.db.connect() as conn:
        depth = conn.execute(sa.select(sa.func.count()).select_from(_outbox).where(
            _outbox.c.status == "pending")).scalar() or 0  # fmt: skip
        oldest = conn.execute(sa.select(sa.func.min(_timers.c.due)).where(
            _timers.c.due <= now)).scalar()  # fmt: skip
    counter, lock = _metrics()
    with lock:
        counts = dict(counter)
    lines = [
        "# HELP crmflow_http_requests_total HTTP requests answered, by status.",
        "# TYPE crmflow_http_requests_total counter",
    ]
    for key in sorted(k for k in counts if k.startswith("requests:")):
        lines.append(f'crmflow_http_requests_total{{status="{key[9:]}"}} {counts[key]}')
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    lines += [
        "# HELP crmflow_fires_total Triggers fired from the web and the API and taken.",
        "# TYPE crmflow_fires_total counter",
        f"crmflow_fires_total {counts.get('fires', 0)}",
        "# HELP crmflow_refusals_total Triggers fired from the web and the API and refused.",
        "# TYPE crmflow_refusals_total counter",
        f"crmflow_refusals_total {counts.get('refusals', 0)}",
        "# HELP crmflow_outbox_depth Side effects waiting in the outbox.",
        "# TYPE crmflow_outbox_depth gauge",
        f"crmflow_outbox_depth {depth}",
        "# HELP crmflow_timer_lag_seconds Age of the oldest timer that is due and not fired.",
        "# TYPE crmflow_timer_lag_seconds gauge",
        f"crmflow_timer_lag_seconds {lag:.3f}",
    ]
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")


def broker() -> Broker:
    app = current_app
    found = app.extensions.get("crmflow.live")
    if found is None:
        found = app.extensions["crmflow.live"] = Broker(engine())
    return found  # type: ignore[no-any-return]


@bp.get("/events/stream")
def stream() -> Any:
    live = broker()
    q = live.subscribe(person=current_user.get_id())  # their notifications, nobody else's
    if q is None:
        return Response("too many open streams; retry later\n", 429,
                        headers={"Retry-After": "10"})  # fmt: skip
    once = request.args.get("once") == "1"  # tests and scripts: one keep-alive, then end

    def events() -> Iterator[str]:
        try:
            yield "retry: 3000\n: connected\n\n"
            while not live.stopped:
                try:
                    event = q.get(timeout=0.05 if once else KEEPALIVE_SECONDS)
                except queue.Empty:
                    if once:
                        return
                    yield ": keep-alive\n\n"
                    continue
                if event.kind == END.kind:  # the broker stopped (the server shuts down)
                    return
                yield Broker.format(event)
        finally:
            live.unsubscribe(q)

    return Response(events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
