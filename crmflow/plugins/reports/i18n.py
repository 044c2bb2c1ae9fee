"""English and Simplified Chinese for the dashboard and the review pack (gettext-style)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Any

__all__ = ["LANGUAGES", "catalog", "gettext", "language", "translate"]

LANGUAGES = ("en", "zh-CN")
_FOLDER = Path(__file__).parent / "translations"


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """msgid → msgstr of ``translations/<lang>/LC_MESSAGES/messages.po`` (empty for English)."""
    path = _FOLDER / lang.replace("-", "_") / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    key: str | None = None
    field = ""
    parts: dict[str, list[str]] = {"msgid": [], "msgstr": []}

    def flush() -> None:
        msgid, msgstr = "".join(parts["msgid"]), "".join(parts["msgstr"])
        if msgid and msgstr:
            out[msgid] = msgstr

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("msgid "):
            flush()
            parts = {"msgid": [], "msgstr": []}
            field, line = "msgid", line[6:]
        elif line.startswith("msgstr "):
            field, line = "msgstr", line[7:]
        elif not line.startswith('"'):
            continue
        key = field
        parts[key].append(ast.literal_eval(line))
    flush()
    return out


def translate(text: str, lang: str, **values: Any) -> str:
    """``text`` in ``lang`` (English when untranslated), with ``%(name)s`` values filled in."""
    found = catalog(lang).get(text, text) if lang != "en" else text
    return found % values if values else found


def language() -> str:
    """The request's language: Flask-Babel's locale when the app has it, else ?lang, else
    Accept-Language; ``en`` outside a request."""
    try:
        from flask import current_app, has_request_context, request
    except ImportError:  # pragma: no cover - Flask is a dependency
        return "en"
    if not has_request_context():
        return "en"
    if "babel" in current_app.extensions:
        from flask_babel import get_locale  # type: ignore[import-not-found]

        locale = str(get_locale() or "en")
        return "zh-CN" if locale.lower().replace("_", "-").startswith("zh") else "en"
    asked = request.args.get("lang") or request.cookies.get("lang")
    if asked in LANGUAGES:
        return asked
    best = request.accept_languages.best_match(["en", "zh-CN", "zh"])
    return "zh-CN" if best in ("zh-CN", "zh") else "en"


def gettext(text: str, **values: Any) -> str:
    """Translate ``text`` for the current request (the name extraction tools look for)."""
    return translate(text, language(), **values)
