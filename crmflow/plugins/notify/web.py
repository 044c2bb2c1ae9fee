"""Notifications in the web app: the page, the bell, and `/api/notifications` (JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from crmflow.errors import CrmflowError, InputError, NotFoundError

from .people import CHANNELS
from .service import (
    inbox,
    mark_all_read,
    mark_read,
    preferences_of,
    set_preferences,
    unread_count,
)

__all__ = ["OPENAPI_OPERATIONS", "bp", "page_words"]

bp = Blueprint("notifications", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/notify")  # fmt: skip

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Notifications", "empty": "Nothing new.", "mark_read": "Mark read",
        "mark_all": "Mark all read", "open": "Open", "urgent": "Urgent", "unread": "unread",
        "choices": "How you are notified", "channels": "Channels", "quiet": "Quiet hours",
        "quiet_help": "e.g. 22:00-07:00: only the inbox then, unless urgent",
        "digest": "Daily digest at", "digest_help": "e.g. 08:00: one message a day instead",
        "language": "Language", "timezone": "Time zone", "save": "Save", "saved": "Saved.",
        "older": "Older", "inapp": "In the app", "mail": "Mail", "wecom": "WeCom",
        "dingtalk": "DingTalk", "feishu": "Feishu",
    },
    "zh-CN": {
        "title": "通知", "empty": "暂无新通知。", "mark_read": "标为已读",
        "mark_all": "全部标为已读", "open": "打开", "urgent": "紧急", "unread": "未读",
        "choices": "通知方式", "channels": "渠道", "quiet": "免打扰时段",
        "quiet_help": "例如 22:00-07:00：期间只进站内信，紧急除外",
        "digest": "每日摘要时间", "digest_help": "例如 08:00：每天汇总发送一次",
        "language": "语言", "timezone": "时区", "save": "保存", "saved": "已保存。",
        "older": "更早", "inapp": "站内", "mail": "邮件", "wecom": "企业微信",
        "dingtalk": "钉钉", "feishu": "飞书",
    },
}  # fmt: skip


def _op(
    summary: str, schema: dict[str, Any], params: tuple[dict[str, Any], ...] = (),
    errors: dict[str, str] | None = None,
) -> Any:  # fmt: skip
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
                 "401": {"description": "not signed in"}}  # fmt: skip
    if params:  # a parameter out of range or of the wrong type names its field
        responses["400"] = {"description": "a parameter is malformed (the error names it)"}
    responses.update({code: {"description": why} for code, why in (errors or {}).items()})
    return {"summary": summary, "tags": ["notifications"], "parameters": list(params),
            "responses": responses}


_ITEM = {"type": "object", "properties": {
    "id": {"type": "integer"}, "instance_id": {"type": "integer", "nullable": True},
    **{k: {"type": "string"} for k in ("text", "created_at")},
    # OpenAPI 3.0: null where a notification has no instance, link or workflow, or is unread
    **{k: {"type": "string", "nullable": True} for k in ("link", "workflow", "read_at")},
    "urgent": {"type": "boolean"}, "read": {"type": "boolean"}}}  # fmt: skip
_UNREAD = {"type": "object", "properties": {"unread": {"type": "integer"}}}
_ID = {"name": "notification_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_QUERY = tuple({"name": n, "in": "query", "schema": {"type": t}}
               for n, t in (("unread", "boolean"), ("limit", "integer"), ("before", "integer")))
#: the JSON routes in the app's /api/openapi.json, by view (the admin app reads it from here)
OPENAPI_OPERATIONS: dict[str, dict[str, Any]] = {
    "api_list": {"get": _op("The caller's notifications, newest first (header X-Unread-Count)",
                            {"type": "array", "items": _ITEM}, _QUERY)},
    "api_unread": {"get": _op("The caller's unread count", _UNREAD)},
    "api_read": {"post": _op("Mark one of the caller's notifications read (404: not theirs)",
                             _UNREAD, (_ID,), {"404": "no such notification of the caller's"})},
    "api_read_all": {"post": _op("Mark all the caller's notifications read", _UNREAD)},
    "api_preferences": {"get": _op("The caller's channels, quiet hours, digest, language, "
                                   "time zone", {"type": "object"})},
    "api_set_preferences": {"put": _op("Save the caller's choices (422 names the field)",
                                       {"type": "object"},
                                       errors={"400": "the body is not a JSON object",
                                               "422": "a choice is invalid (the error names it)"})},
}  # fmt: skip


def _engine() -> Any:
    return current_app.extensions["crmflow"]


def _me() -> str | None:
    if not current_user or not current_user.is_authenticated:
        return None
    return str(getattr(current_user, "username", None) or current_user.get_id())


def _language() -> str:
    try:  # the app's own choice (Flask-Babel) when it has one
        from flask_babel import get_locale

        locale = get_locale()
        if locale is not None:
            return "zh-CN" if str(locale).lower().startswith("zh") else "en"
    except Exception:  # Flask-Babel absent or not set up on this app
        pass
    best = request.accept_languages.best_match(["en", "zh-CN", "zh"]) or "en"
    return "zh-CN" if best.startswith("zh") else "en"


def page_words() -> dict[str, str]:
    """The page's strings in the request's language."""
    return WORDS[_language()]


def _local(items: list[dict[str, Any]], timezone: str) -> list[dict[str, Any]]:
    """Each item with ``when``: its time on the person's own clock ("2026-03-02 11:00")."""
    zone = ZoneInfo(timezone)
    return [{**item, "when": datetime.fromisoformat(item["created_at"]).astimezone(zone)
             .strftime("%Y-%m-%d %H:%M")} for item in items]  # fmt: skip


def _error(status: int, code: str, message: str, field: str | None = None) -> Any:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return jsonify({"error": body}), status


def _layout() -> str:
    """The page's layout: the app's (``NOTIFY_LAYOUT``, a template with ``title`` and
    ``main`` blocks) or our own plain one."""
    return str(current_app.config.get("NOTIFY_LAYOUT") or "notify/layout.html")


@bp.app_context_processor
def _bell() -> dict[str, Any]:
    def notification_bell() -> int:
        me = _me()
        return unread_count(_engine(), me) if me else 0

    return {"notification_bell": notification_bell}


# -- JSON API -----------------------------------------------------------------------------


def _int_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InputError("must be a whole number", field=name) from exc


@bp.get("/api/notifications")
def api_list() -> Any:
    """The caller's notifications, newest first: ``?unread=1&limit=50&before=ID``."""
    me = _me()
    if me is None:
        return _error(401, "unauthenticated", "sign in or send a bearer token")
    try:
        items = inbox(_engine(), me, unread=request.args.get("unread") in ("1", "true"),
                      limit=_int_arg("limit", 50) or 50, before=_int_arg("before", None))
    except InputError as exc:
        return _error(400, "malformed", exc.message, exc.field)
    response = jsonify(items)
    response.headers["X-Unread-Count"] = str(unread_count(_engine(), me))
    return response


@bp.get("/api/notifications/unread")
def api_unread() -> Any:
    me = _me()
    if me is None:
        return _error(401, "unauthenticated", "sign in or send a bearer token")
    return jsonify({"unread": unread_count(_engine(), me)})


@bp.post("/api/notifications/<int:notification_id>/read")
def api_read(notification_id: int) -> Any:
    me = _me()
    if me is None:
        return _error(401, "unauthenticated", "sign in or send a bearer token")
    try:
        return jsonify(mark_read(_engine(), me, notification_id))
    except NotFoundError as exc:
        return _error(404, "not_found", str(exc))


@bp.post("/api/notifications/read")
def api_read_all() -> Any:
    me = _me()
    if me is None:
        return _error(401, "unauthenticated", "sign in or send a bearer token")
    return jsonify({"marked": mark_all_read(_engine(), me), "unread": 0})


@bp.get("/api/notifications/preferences")
def api_preferences() -> Any:
    me = _me()
    if me is None:
        return _error(401, "unauthenticated", "sign in or send a bearer token")
    return jsonify(preferences_of(_engine(), me))


@bp.put("/api/notifications/preferences")
def api_set_preferences() -> Any:
    me = _me()
    if me is None:
        return _error(401, "unauthenticated", "sign in or send a bearer token")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(400, "malformed", "send a JSON object")
    allowed = {"channels", "quiet_hours", "digest", "language", "timezone"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        return _error(422, "invalid", f"unknown field {unknown[0]!r}", unknown[0])
    channels = body.get("channels")
    if channels is not None and not (isinstance(channels, list) and all(
        isinstance(c, str) for c in channels
    )):  # fmt: skip
        return _error(422, "invalid", "a list of channel names", "channels")
    for key in allowed - {"channels"}:
        if body.get(key) is not None and not isinstance(body[key], str):
            return _error(422, "invalid", "a string", key)
    try:
        return jsonify(set_preferences(_engine(), me, **body))
    except InputError as exc:
        return _error(422, "invalid", exc.message, exc.field)


# -- pages --------------------------------------------------------------------------------


@bp.get("/notifications")
def page() -> Any:
    me = _me()
    if me is None:  # the app's sign-in guard normally answers first
        return redirect("/login?next=/notifications")
    try:
        items = inbox(_engine(), me, limit=50, before=_int_arg("before", None))
    except CrmflowError:
        items = inbox(_engine(), me, limit=50)
    prefs = preferences_of(_engine(), me)
    return render_template(
        "notify/page.html", layout=_layout(), items=_local(items, prefs["timezone"]),
        words=page_words(), unread=unread_count(_engine(), me),
        prefs=prefs, channels=CHANNELS, language=_language(),
        saved=request.args.get("saved") == "1", error=None,
    )  # fmt: skip


@bp.get("/notifications/bell")
def bell() -> Any:
    me = _me()
    count = unread_count(_engine(), me) if me else 0
    return render_template("notify/bell.html", notification_count=count, words=page_words())


@bp.post("/notifications/<int:notification_id>/read")
def page_read(notification_id: int) -> Any:
    me = _me()
    if me is None:
        return _error(401, "unauthenticated", "sign in")
    try:
        mark_read(_engine(), me, notification_id)
    except NotFoundError:
        return _error(404, "not_found", f"no notification {notification_id} for you")
    return redirect(url_for("notifications.page"))


@bp.post("/notifications/read")
def page_read_all() -> Any:
    me = _me()
    if me is None:
        return _error(401, "unauthenticated", "sign in")
    mark_all_read(_engine(), me)
    return redirect(url_for("notifications.page"))


@bp.post("/notifications/preferences")
def page_preferences() -> Any:
    me = _me()
    if me is None:
        return _error(401, "unauthenticated", "sign in")
    form = request.form
    try:
        set_preferences(
            _engine(), me, channels=[c for c in form.getlist("channels") if c],
            quiet_hours=form.get("quiet_hours", "").strip() or None,
            digest=form.get("digest", "").strip() or None,
            language=form.get("language") or None, timezone=form.get("timezone") or None,
        )  # fmt: skip
    except InputError as exc:
        prefs = preferences_of(_engine(), me)
        items = _local(inbox(_engine(), me, limit=50), prefs["timezone"])
        return render_template(
            "notify/page.html", layout=_layout(), items=items, words=page_words(),
            prefs=prefs, unread=unread_count(_engine(), me), channels=CHANNELS,
            language=_language(), saved=False, error=f"{exc.field}: {exc.message}",
        ), 422  # fmt: skip
    return redirect(url_for("notifications.page", saved=1))
