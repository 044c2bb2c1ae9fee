"""The /dashboard blueprint: the S&OP page, its data as JSON and CSV, and stored review packs."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
)

from crmflow.errors import CrmflowError, InputError, NotFoundError

from .charts import CARDS
from .i18n import gettext, language
from .labels import format_kpi, kpi_label
from .reviews import get_review, list_reviews
from .selection import default_args, parse_selection
from .sop import card, sop_picture
from .tiles import kpi_tiles
from .worklist import worklist

__all__ = ["bp"]

bp = Blueprint("sop_dashboard", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")  # fmt: skip
_ = gettext
bp.add_app_template_filter(format_kpi, "sop_kpi")


def _engine() -> Any:
    return current_app.extensions["crmflow"]


def _viewer() -> str | None:
    """The signed-in person's name (Flask-Login's current user)."""
    from flask_login import current_user

    if not getattr(current_user, "is_authenticated", False):
        return None
    return str(current_user.get_id())


def _selection() -> Any:
    engine = _engine()
    from crmflow.plugins.kpi.service import today

    args = default_args(engine, _viewer(), request.args.to_dict())
    return parse_selection(args, today(engine))


@bp.errorhandler(CrmflowError)
def _refused(exc: CrmflowError) -> Any:
    field = getattr(exc, "field", None)
    code = 404 if isinstance(exc, NotFoundError) else 400
    body = {"error": {"code": "invalid" if code == 400 else "not_found", "message": str(exc),
                      **({"field": field} if field else {})}}  # fmt: skip
    if request.path.endswith((".json", ".csv")):
        return jsonify(body), code
    return render_template("sop/error.html", message=str(exc), field=field,
                           factory=_engine().factory, _=_, lang=language()), code  # fmt: skip


@bp.after_request
def _no_sniff(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


@bp.get("/")
def page() -> str:
    """The S&OP dashboard for the filters in the URL."""
    engine = _engine()
    sel = _selection()
    picture = sop_picture(engine, sel, _)
    return render_template("sop/dashboard.html", factory=engine.factory, p=picture, sel=sel,
                           _=_, lang=language(), cards=CARDS,
                           kpi_label=lambda key: kpi_label(key, _))  # fmt: skip


@bp.get("/data/<name>.json")
def card_json(name: str) -> Any:
    """One card's chart spec and table: ``demand``, ``capacity``, ``stock``, ``kpis``, ``work``."""
    engine = _engine()
    sel = _selection()
    if name == "kpis":
        return jsonify(kpi_tiles(engine, sel))
    if name == "work":
        return jsonify(worklist(engine))
    if name not in CARDS:
        abort(404)
    detail = request.args.get("detail") or None
    return jsonify(card(engine, sel, name, _, detail=detail).as_json())


@bp.get("/data/<name>.csv")
def card_csv(name: str) -> Response:
    """The numbers behind a chart, as CSV."""
    from .charts import table_csv

    if name not in CARDS:
        abort(404)
    found = card(_engine(), _selection(), name, _, detail=request.args.get("detail") or None)
    return Response(table_csv(found), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip


@bp.get("/reviews/")
def reviews() -> str:
    """Stored weekly review packs, newest first."""
    engine = _engine()
    return render_template("sop/reviews.html", factory=engine.factory,
                           items=list_reviews(engine), _=_, lang=language())  # fmt: skip


@bp.get("/reviews/<int:rid>.<fmt>")
def review_file(rid: int, fmt: str) -> Response:
    """A stored review pack as HTML or PDF."""
    if fmt not in ("html", "pdf"):
        raise InputError("must be html or pdf", field="format")
    item = get_review(_engine(), rid)
    if fmt == "pdf":
        if item["pdf"] is None:
            abort(404)
        return Response(item["pdf"], mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="review-{item["week"]}.pdf"'})  # fmt: skip
    resp = Response(item["html"], mimetype="text/html")
    # A stored pack is a document: no script runs in it.
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; " \
        "img-src data:; frame-ancestors 'none'"  # fmt: skip
    return resp
