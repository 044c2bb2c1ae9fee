"""Sign in and out: the login form, throttled per username, and logout."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session
from flask_babel import gettext as _
from flask_login import logout_user

from crmflow.core.people.accounts import authenticate, record_failure, throttled

from ..extension import engine_ext
from ..security import sign_in

__all__ = ["bp", "safe_next"]

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """``next`` if it is a path of this app, else ``/``."""
    if not target or "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    engine = engine_ext.get()
    next_url = request.values.get("next")
    if request.method == "GET":
        expired = request.args.get("expired") == "1"
        message = _("Your session has ended; please sign in again.") if expired else None
        return render_template("auth/login.html", error=message, next=next_url)
    username = (request.form.get("username") or "").strip()[:200]
    password = request.form.get("password") or ""
    if username and throttled(engine, username):
        error = _("Too many failed sign-ins for this user. Wait a minute and try again.")
        return render_template("auth/login.html", error=error, next=next_url,
                               username=username), 429  # fmt: skip
    account = authenticate(engine, username, password) if username and password else None
    if account is None:
        if username:
            record_failure(engine, username)
        error = _("Wrong username or password.")
        return render_template("auth/login.html", error=error, next=next_url, username=username)
    sign_in(account)
    if account.language and "lang" not in session:
        session["lang"] = account.language
    return redirect(safe_next(next_url))


@bp.post("/logout")
def logout() -> Any:
    logout_user()
    session.clear()
    return redirect("/login")
