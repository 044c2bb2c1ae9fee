"""Plugin manager, entry-point discovery, per-factory enablement, registries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crmflow.errors import ConfigError

from .plugins import (
    DEFAULT_PLUGINS,
    ENTRY_POINT_GROUP,
    PluginManager,
    get_plugin_manager,
    plugin_infos,
)
from .registries import Registered, Registry, build_registry

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "Registered",
    "Registry",
    "build_registry",
    "enabled_plugins",
    "get_plugin_manager",
    "plugin_infos",
]


def enabled_plugins(pm: PluginManager, plugins: Mapping[str, Any] | None) -> list[str]:
    """Names of the plugins enabled for a factory.

    Without a factory config (``plugins`` is None) every registered plugin is
    enabled. With one, the built-ins are enabled unless set to ``false`` and an
    installed plugin is enabled only when the config names it.
    """
    registered = {name for name, plugin in pm.list_name_plugin() if plugin is not None}
    if plugins is None:
        return sorted(registered)
    builtin = set(registered) - set(pm.distributions)
    enabled = set(builtin)
    for name, settings in plugins.items():
        if name not in registered:
            raise ConfigError(
                f"plugin {name!r} is enabled in the factory config but not installed; "
                f"installed: {', '.join(sorted(registered))} (pip install the package "
                f"that provides the {ENTRY_POINT_GROUP!r} entry point {name!r})"
            )
        if settings is False:
            enabled.discard(name)
        else:
            enabled.add(name)
    return sorted(enabled)
