"""Build the plugin manager: hook specs, default plugins, entry points."""

from __future__ import annotations

import importlib
import os
from importlib import metadata

import pluggy

from crmflow import hookspecs
from crmflow.errors import PluginError

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginManager",
    "get_plugin_manager",
    "plugin_infos",
]

ENTRY_POINT_GROUP = "crmflow"

#: Built-in features, registered exactly like third-party plugins.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "crmflow.plugins.notify",
    "crmflow.plugins.functions",
    "crmflow.plugins.sop",
    "crmflow.plugins.forecast",
    "crmflow.plugins.kpi",
    "crmflow.plugins.connectors",
    "crmflow.plugins.erp",
    "crmflow.plugins.mes",
    "crmflow.plugins.scm",
    "crmflow.plugins.reports",
)


def _default_name(module: str) -> str:
    return module.rsplit(".", 1)[-1]


class PluginManager(pluggy.PluginManager):
    """pluggy's manager that also remembers which distribution gave a plugin."""

    def __init__(self) -> None:
        super().__init__("crmflow")
        self.distributions: dict[str, str | None] = {}


def get_plugin_manager(
    *, load_entry_points: bool = True, extra: tuple[object, ...] = ()
) -> PluginManager:
    """Return a new plugin manager with specs, defaults and installed plugins.

    ``CRMFLOW_LOAD_PLUGINS`` (comma-separated names) limits which
    entry-point plugins load; an empty value loads none. ``extra`` plugin
    objects (tests, embedding applications) are registered last.
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register(module, name=_default_name(module_name))
    if load_entry_points:
        _load_entry_points(pm)
    for plugin in extra:
        name = getattr(plugin, "__name__", None)
        try:
            pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {name or plugin!r}: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"{exc}. Check the hook name against crmflow/hookspecs.py "
            "(docs/hooks.md lists every hook)."
        ) from exc
    return pm


def _load_entry_points(pm: PluginManager) -> None:
    wanted_env = os.environ.get("CRMFLOW_LOAD_PLUGINS")
    wanted = None if wanted_env is None else {n.strip() for n in wanted_env.split(",") if n.strip()}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        if pm.get_plugin(ep.name) is not None:
            raise PluginError(
                f"two plugins are named {ep.name!r} (entry point {ep.value} and an "
                "earlier one); rename one of the entry points"
            )
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must say which one it is
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
        try:
            pm.register(plugin, name=ep.name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {ep.name!r}: {exc}") from exc
        pm.distributions[ep.name] = ep.dist.name if ep.dist else None


def plugin_infos(pm: PluginManager) -> list[dict[str, object]]:
    """Describe each registered plugin: name, version, hooks (for `crmflow plugins`)."""
    infos = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        if plugin is None:
            continue
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist = pm.distributions.get(name)
        version = None
        if dist:
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                version = None
        infos.append(
            {
                "name": name,
                "builtin": dist is None and name in {_default_name(m) for m in DEFAULT_PLUGINS},
                "distribution": dist,
                "version": version,
                "hooks": hooks,
            }
        )
    return infos
