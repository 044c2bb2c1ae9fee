"""The plugins blueprint: which plugins are installed and enabled, as JSON."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from crmflow.core.registry import plugin_infos

from .extension import engine_ext

__all__ = ["bp"]

bp = Blueprint("plugins", __name__)


@bp.get("/-/plugins.json")
def plugins_json() -> Any:
    engine = engine_ext.get()
    enabled = set(engine.registry.enabled)
    return jsonify(
        [{**info, "enabled": info["name"] in enabled} for info in plugin_infos(engine.pm)]
    )
