"""Sign-in for every route: Flask-Login sessions, API tokens, CSRF, security headers."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from crmflow.core.people.accounts import Account, get_account, user_by_token
from crmflow.core.people.authz import Person, may_read, person_for
from crmflow.errors import NotFoundError

from .extension import engine_ext

__all__ = [
    "SESSION_LIFETIME",
    "WebUser",
    "csrf",
    "current_person",
    "init_security",
    "is_public",
    "json_error",
    "login_manager",
    "sign_in",
]

SESSION_LIFETIME = dt.timedelta(hours=12)
#: Paths answered without sign-in (besides the static folders).
PUBLIC = ("/login", "/healthz", "/api/openapi.json")
#: Paths outside /api that also take a bearer token (scrapers, scripts).
BEARER_PATHS = ("/metrics", "/events/stream")

login_manager = LoginManager()
csrf = CSRFProtect()


class WebUser(UserMixin):
    """The signed-in login as Flask-Login sees it; ``person`` carries the roles."""

    def __init__(self, account: Account, person: Person) -> None:
        self.account = account
        self.person = person

    def get_id(self) -> str:
        return self.account.username


def json_error(status: int, code: str, message: str, field: str | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    response = jsonify({"error": body})
    response.status_code = status
    return response


def current_person() -> Person:
    """The signed-in person (the guard has made sure there is one)."""
    return current_user.person  # type: ignore[no-any-return]


def _load(username: str) -> WebUser | None:
    engine = engine_ext.get()
    try:
        account = get_account(engine, username)
    except NotFoundError:
        return None
    if not may_read(account):
        return None
    return WebUser(account, person_for(engine, account))


def _expired() -> bool:
    signed_at = session.get("signed_in_at")
    if signed_at is None:
        return True
    try:
        when = dt.datetime.fromisoformat(str(signed_at))
    except ValueError:
        return True
    return engine_ext.get().now() - when > SESSION_LIFETIME


def sign_in(account: Account) -> None:
    """Start a fresh session for ``account`` (the old one's data is dropped)."""
    engine = engine_ext.get()
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    login_user(WebUser(account, person_for(engine, account)))
    session["signed_in_at"] = engine.now().isoformat()
    session.permanent = True


def is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith("/static/") or "/static/" in path


def _same_origin() -> bool:
    """False when the browser says the request comes from another site."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return False
    if not origin or origin == "null":
        return origin != "null"
    return urlsplit(origin).netloc == request.host


def _guard() -> Response | None:
    g.bearer = False
    auth = request.headers.get("Authorization", "")
    path = request.path
    is_api = path == "/api" or path.startswith("/api/")
    if "\x00" in path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
        # No database stores NUL in text (PostgreSQL refuses it): refuse it at the door.
        message = "NUL characters are not allowed in the path or query"
        return (json_error(400, "malformed", message) if is_api
                else Response(message, 400, mimetype="text/plain"))  # fmt: skip
    if auth.startswith("Bearer ") and (is_api or path in BEARER_PATHS):
        account = user_by_token(engine_ext.get(), auth[7:].strip())
        if account is None or not may_read(account):
            return json_error(401, "unauthorized", "the API token is unknown, revoked or disabled")
        g.session_before = dict(session)
        login_user(WebUser(account, person_for(engine_ext.get(), account)))
        g.bearer = True
        return None  # a token is not a browser session: no CSRF for it
    if current_user.is_authenticated and _expired():
        session.clear()
        return _anonymous(is_api, path, expired=True)
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
    if unsafe and not _same_origin():
        return (json_error(400, "csrf", "cross-site request refused") if is_api
                else Response("cross-site request refused", 400))  # fmt: skip
    if is_public(path):
        if unsafe:
            csrf.protect()
        return None
    if not current_user.is_authenticated:
        return _anonymous(is_api, path)
    if unsafe:
        csrf.protect()
    return None


def _anonymous(is_api: bool, path: str, expired: bool = False) -> Response:
    if is_api:
        return json_error(401, "unauthorized", "sign in or send Authorization: Bearer TOKEN")
    target = request.full_path.rstrip("?") if request.query_string else path
    return redirect(url_for("auth.login", next=target, expired=1 if expired else None))


_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _headers(response: Response) -> Response:
    if g.get("bearer"):
        # A token signs one request in: the browser session (if any) stays as it was.
        session.clear()
        session.update(g.get("session_before") or {})
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.path != "/healthz" and not is_public(request.path):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _csrf_failed(exc: CSRFError) -> Any:
    if request.path.startswith("/api"):
        return json_error(400, "csrf", f"CSRF token missing or invalid: {exc.description}")
    return Response(f"400 Bad Request: {exc.description}", 400, mimetype="text/plain")


def init_security(app: Flask) -> None:
    """Sign-in on every route, CSRF, headers; blueprints added later are covered too."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # the guard decides when
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session's lifetime bounds it
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)  # _same_origin checks the origin
    login_manager.init_app(app)
    login_manager.user_loader(_load)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    app.before_request(_guard)
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_failed)
