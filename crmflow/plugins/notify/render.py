"""What a notification says, in a person's language: bilingual templates, mail and markdown."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader, TemplateError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crmflow.errors import InputError

__all__ = [
    "Content", "content_of", "list_templates", "mail_parts", "markdown", "template_dirs",
    "text_of",
]  # fmt: skip

BUILTIN = Path(__file__).parent / "messages"
PAGES = Path(__file__).parent / "templates"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "open": "Open", "urgent": "Urgent", "digest": "{n} notifications",
        "digest_intro": "What happened while you were away:", "to": "For",
        "footer": "You get this because crmflow was told to notify you. Choose your channels, "
                  "quiet hours and digest on the notifications page.",
    },
    "zh-CN": {
        "open": "打开", "urgent": "紧急", "digest": "{n} 条通知",
        "digest_intro": "您不在时发生的事项：", "to": "通知",
        "footer": "您收到此消息是因为 crmflow 需要通知您。"
                  "可在通知页面选择渠道、免打扰时段和每日摘要。",
    },
}  # fmt: skip


@dataclass(frozen=True)
class Content:
    """One message rendered for one language."""

    title: str
    body: str
    link: str | None
    urgent: bool


# As in workflow message text, a missing parameter renders as empty.
_text_env = ImmutableSandboxedEnvironment(autoescape=False)
_page_env = ImmutableSandboxedEnvironment(
    loader=FileSystemLoader(str(PAGES)), autoescape=select_autoescape(["html"])
)


def template_dirs(engine: Any) -> list[Path]:
    """Where message templates are looked up: the factory's folder first, then ours."""
    factory = engine.factory
    dirs: list[Path] = []
    base = factory.file.parent if factory.file else Path.cwd()
    configured = (factory.notify or {}).get("templates")
    if configured:
        dirs.append((base / str(configured)).resolve())
    elif factory.file:
        dirs.append(base / "notify_templates")
    dirs.append(BUILTIN)
    return dirs


@lru_cache(maxsize=256)
def _load(path: Path, mtime: float) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or "en" not in doc:
        raise InputError("a notification template maps languages (en, zh-CN) to title and body",
                         file=str(path))  # fmt: skip
    return doc


def load_template(engine: Any, name: str) -> dict[str, Any]:
    """The bilingual template ``name`` (``NAME.yaml``), the factory's overriding ours."""
    if not _NAME.match(name):
        raise InputError(f"template name {name!r} may only hold a-z, 0-9, _ . -", field="template")
    for folder in template_dirs(engine):
        path = folder / f"{name}.yaml"
        if path.is_file():
            return _load(path, path.stat().st_mtime)
    shipped = sorted(p.stem for p in BUILTIN.glob("*.yaml"))
    raise InputError(f"no notification template {name!r}; shipped: {', '.join(shipped)} (a "
                     "factory adds its own in notify_templates/)", field="template")  # fmt: skip


def list_templates(engine: Any) -> list[dict[str, Any]]:
    """Every message template this factory can use: name, file, languages."""
    found: dict[str, dict[str, Any]] = {}
    for folder in reversed(template_dirs(engine)):  # the factory's win over ours
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            try:
                languages = sorted(_load(path, path.stat().st_mtime))
            except (InputError, yaml.YAMLError) as exc:
                languages = [f"error: {exc}"]
            found[path.stem] = {"name": path.stem, "file": str(path),
                                "shipped": folder == BUILTIN, "languages": languages}  # fmt: skip
    return [found[name] for name in sorted(found)]


def _render(source: str, params: dict[str, Any], where: str) -> str:
    try:
        return _text_env.from_string(str(source)).render(params).strip()
    except TemplateError as exc:
        raise InputError(f"{where}: {exc}", field="params") from exc


def absolute(engine: Any, link: str | None) -> str | None:
    base = str((engine.factory.notify or {}).get("base_url") or "").rstrip("/")
    if link and base and link.startswith("/"):
        return base + link
    return link


def content_of(engine: Any, message: Any, language: str) -> Content:
    """Render a stored message for ``language`` (English when the template lacks it)."""
    params = json.loads(message.params or "{}")
    link = absolute(engine, message.link)
    if message.template:
        doc = load_template(engine, message.template)
        variant = doc.get(language) or doc["en"]
        where = f"template {message.template!r} ({language})"
        title = _render(variant.get("title", ""), params, where)
        body = _render(variant.get("body", ""), params, where)
    else:
        title, body = text_of(json.loads(message.text), language), ""
    return Content(title=title, body=body, link=link, urgent=bool(message.urgent))


def text_of(text: Any, language: str) -> str:
    """A plain text, or the right one of ``{en: …, zh-CN: …}``."""
    if isinstance(text, dict):
        return str(text.get(language) or text.get("en") or next(iter(text.values()), ""))
    return str(text)


def _subject(items: list[Content], language: str) -> str:
    words = STRINGS[language]
    if len(items) == 1:
        prefix = f"[{words['urgent']}] " if items[0].urgent else ""
        return prefix + items[0].title
    return words["digest"].format(n=len(items))


def mail_parts(items: list[Content], language: str) -> tuple[str, str, str]:
    """``(subject, plain text, html)`` of one message, or of a digest of several."""
    words = STRINGS[language]
    lines: list[str] = []
    if len(items) > 1:
        lines += [words["digest_intro"], ""]
    for item in items:
        lines.append(("! " if item.urgent else "") + item.title)
        if item.body:
            lines.append(item.body)
        if item.link:
            lines.append(f"{words['open']}: {item.link}")
        lines.append("")
    lines += ["--", words["footer"]]
    html = _page_env.get_template("notify/mail.html").render(
        items=items, words=words, language=language, digest=len(items) > 1
    )
    return _subject(items, language), "\n".join(lines), html


def markdown(items: list[Content], language: str, mentions: list[str]) -> tuple[str, str]:
    """``(title, markdown)`` for a group robot."""
    words = STRINGS[language]
    parts: list[str] = []
    if len(items) > 1:
        parts.append(f"### {_subject(items, language)}")
    for item in items:
        head = f"**{words['urgent']}** " if item.urgent else ""
        parts.append(f"{head}**{_md(item.title)}**")
        if item.body:
            parts.append(_md(item.body))
        if item.link:
            parts.append(f"[{words['open']}]({item.link})")
    if mentions:
        parts.append(f"{words['to']}: " + " ".join(f"@{m}" for m in mentions))
    return _subject(items, language), "\n\n".join(parts)


def _md(text: str) -> str:
    """Text from a workflow is shown as text: emphasis, code and link marks are escaped,
    and tags become entities (WeCom's and DingTalk's markdown take some HTML)."""
    text = re.sub(r"([`*\[\]])", r"\\\1", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")
