"""Languages: English and Simplified Chinese with Flask-Babel; dates, numbers, money per locale."""

from __future__ import annotations

import datetime as dt
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from flask import Flask, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user

from crmflow.core.people.accounts import set_language

from .extension import engine_ext

__all__ = ["LANGUAGES", "babel", "html_lang", "init_i18n", "language"]

#: Tag in URLs and <html lang> -> Babel locale.
LANGUAGES = {"en": "en", "zh-CN": "zh_CN"}
babel = Babel()


def language() -> str:
    """``?lang=`` (saved as the person's choice), else the saved choice, else Accept-Language."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        if current_user.is_authenticated and getattr(current_user, "account", None):
            if current_user.account.language != asked:
                set_language(engine_ext.get(), current_user.account.username, asked)
        return asked
    saved = session.get("lang")
    if saved in LANGUAGES:
        return str(saved)
    if current_user.is_authenticated and getattr(current_user, "account", None):
        chosen = current_user.account.language
        if chosen in LANGUAGES:
            return str(chosen)
    best = request.accept_languages.best_match(["en", "zh-CN", "zh"], default="en")
    return "zh-CN" if best in ("zh-CN", "zh") else "en"


def _locale() -> str:
    return LANGUAGES[language()]


def html_lang() -> str:
    return "zh-CN" if str(get_locale()) == "zh_CN" else "en"


def _number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(float(value), format=pattern, locale=get_locale())


def _money(value: Any, currency: str = "EUR") -> str:
    if value is None:
        return "–"
    return format_currency(float(value), currency, locale=get_locale())


def _percent(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    return format_percent(float(value), format="#,##0." + "0" * digits + "%", locale=get_locale())


def _date(value: Any) -> str:
    if value in (None, ""):
        return "–"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(
                value[:10])
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        tz = engine_ext.get().factory.timezone
        return format_datetime(value.astimezone(tz) if value.tzinfo else value, "short",
                               locale=get_locale())  # fmt: skip
    return format_date(value, "medium", locale=get_locale())


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    babel.init_app(app, locale_selector=_locale)
    app.jinja_env.filters.update(
        number=_number, money=_money, percent=_percent, date=_date
    )  # fmt: skip
    app.jinja_env.globals.update(html_lang=html_lang, languages=list(LANGUAGES))
