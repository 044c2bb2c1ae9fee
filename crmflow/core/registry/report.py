"""What `crmflow plugins` and the admin plugin page show."""

from __future__ import annotations

from typing import Any

from crmflow.core.factory import find_factory, load_factory

from . import enabled_plugins, get_plugin_manager, plugin_infos

__all__ = ["plugin_report"]


def plugin_report(factory: str | None = None) -> list[dict[str, Any]]:
    """Each installed plugin: name, version, hooks and whether the factory enables it."""
    pm = get_plugin_manager()
    names = {name for name, plugin in pm.list_name_plugin() if plugin is not None}
    settings = load_factory(find_factory(factory), names).plugins if factory else None
    enabled = set(enabled_plugins(pm, settings))
    return [{**info, "enabled": info["name"] in enabled} for info in plugin_infos(pm)]
