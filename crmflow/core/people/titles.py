"""Titles people read: workflow, state and trigger titles in their language.

A workflow YAML may give ``title_zh`` (or ``titles: {zh-CN: …}``) beside ``title`` on
the workflow, a state or a transition; without one the English title (or the name) shows.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import yaml

from crmflow.errors import NotFoundError

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["state_title", "trigger_title", "workflow_title"]


@lru_cache(maxsize=64)
def _doc(source: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(source)
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _pick(body: Any, language: str | None, fallback: str) -> str:
    if not isinstance(body, dict):
        return fallback
    if language and language.lower().startswith("zh"):
        titles = body.get("titles")
        if isinstance(titles, dict):
            for tag in ("zh-CN", "zh_CN", "zh"):
                if titles.get(tag):
                    return str(titles[tag])
        if body.get("title_zh"):
            return str(body["title_zh"])
    return str(body.get("title") or fallback)


def _source(engine: Engine, workflow: str) -> dict[str, Any]:
    try:
        return _doc(engine.catalog.newest(workflow).definition.source)
    except NotFoundError:
        return {}


def workflow_title(engine: Engine, workflow: str, language: str | None) -> str:
    return _pick(_source(engine, workflow), language, workflow)


def state_title(engine: Engine, workflow: str, state: str, language: str | None) -> str:
    states = _source(engine, workflow).get("states") or {}
    return _pick(states.get(state) if isinstance(states, dict) else None, language, state)


def trigger_title(engine: Engine, workflow: str, trigger: str, language: str | None) -> str:
    for body in _source(engine, workflow).get("transitions") or ():
        if isinstance(body, dict) and body.get("trigger") == trigger and (
            body.get("title") or body.get("title_zh") or body.get("titles")
        ):
            return _pick(body, language, trigger)
    return trigger
