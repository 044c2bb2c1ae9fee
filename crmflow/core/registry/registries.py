"""Registries of actions, functions, connectors, models, KPIs and blueprints."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from crmflow.errors import PluginError

from .plugins import PluginManager

__all__ = ["Registered", "Registry", "build_registry", "REGISTRY_HOOKS"]


@dataclass(frozen=True)
class Registered:
    """One registered item and the plugin that gave it."""

    name: str
    obj: Any
    plugin: str
    options: dict[str, Any] = field(default_factory=dict)

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


#: registry kind -> (hook name, argument of the hook that takes `register`)
REGISTRY_HOOKS: dict[str, str] = {
    "actions": "register_actions",
    "functions": "register_functions",
    "settings": "register_settings",
    "connectors": "register_connectors",
    "forecast_models": "register_forecast_models",
    "kpis": "register_kpis",
    "admin_blueprints": "register_admin_blueprints",
    "migrations": "register_migrations",
}

_UNNAMED = {"admin_blueprints", "migrations"}


@dataclass
class Registry:
    """Everything the enabled plugins registered, by kind and name."""

    enabled: tuple[str, ...]
    actions: dict[str, Registered] = field(default_factory=dict)
    functions: dict[str, Registered] = field(default_factory=dict)
    settings: dict[str, Registered] = field(default_factory=dict)
    connectors: dict[str, Registered] = field(default_factory=dict)
    forecast_models: dict[str, Registered] = field(default_factory=dict)
    kpis: dict[str, Registered] = field(default_factory=dict)
    admin_blueprints: dict[str, Registered] = field(default_factory=dict)
    migrations: dict[str, Registered] = field(default_factory=dict)

    def kind(self, kind: str) -> dict[str, Registered]:
        registry: dict[str, Registered] = getattr(self, kind)
        return registry


def _make_register(registry: Registry, kind: str, plugin: str) -> Callable[..., None]:
    items = registry.kind(kind)

    def register(name_or_obj: Any, obj: Any = None, /, **options: Any) -> None:
        if kind in _UNNAMED:
            item = name_or_obj
            name = str(getattr(item, "name", None) or item)
        else:
            if not isinstance(name_or_obj, str) or not name_or_obj:
                raise PluginError(
                    f"plugin {plugin!r} registered a {kind[:-1]} without a name; "
                    f"call register('name', ...)"
                )
            name, item = name_or_obj, obj
            if item is None:
                raise PluginError(f"plugin {plugin!r} registered {kind[:-1]} {name!r} as None")
        previous = items.get(name)
        if previous is not None:
            raise PluginError(
                f"{kind[:-1].replace('_', ' ')} {name!r} is registered twice: by plugin "
                f"{previous.plugin!r} and by plugin {plugin!r}; disable one of them in the "
                "factory config or rename the item"
            )
        items[name] = Registered(name=name, obj=item, plugin=plugin, options=options)

    return register


def build_registry(pm: PluginManager, enabled: Iterable[str]) -> Registry:
    """Call every registry hook of the enabled plugins and collect the items."""
    enabled_set = set(enabled)
    registry = Registry(enabled=tuple(sorted(enabled_set)))
    for kind, hook_name in REGISTRY_HOOKS.items():
        caller = getattr(pm.hook, hook_name)
        # Call each implementation separately so every item knows its plugin.
        for impl in caller.get_hookimpls():
            if impl.plugin_name not in enabled_set:
                continue
            register = _make_register(registry, kind, impl.plugin_name)
            kwargs = {"register": register} if "register" in impl.argnames else {}
            try:
                impl.function(**kwargs)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed in {hook_name}: {exc}"
                ) from exc
    return registry
