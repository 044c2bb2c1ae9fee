"""The pool of forecast models: registered models, filtered by the plugin's settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crmflow.errors import ConfigError

from .models import BUILTIN_MODELS
from .protocol import ForecastModel

__all__ = ["DEFAULT_TOP", "builtin_registry", "model_pool", "registered_models"]

#: How many of the best models (by backtest) each series averages.
DEFAULT_TOP = 3


def builtin_registry() -> dict[str, tuple[ForecastModel, bool]]:
    """The built-in models: name -> (model, opt_in)."""
    return {name: (model, opt_in) for name, (model, _desc, opt_in) in BUILTIN_MODELS.items()}


def registered_models(registry: Any = None) -> dict[str, tuple[ForecastModel, bool]]:
    """Models from a crmflow registry (every plugin's ``register_forecast_models``).

    Without ``registry`` the installed plugins are loaded; if that fails
    (a broken third-party plugin) the error is raised, as at startup.
    """
    if registry is None:
        from crmflow.core.registry import build_registry, enabled_plugins, get_plugin_manager

        pm = get_plugin_manager()
        registry = build_registry(pm, enabled_plugins(pm, None))
    return {
        name: (item.obj, bool(item.option("opt_in", False)))
        for name, item in registry.forecast_models.items()
    }


def model_pool(
    available: Mapping[str, tuple[ForecastModel, bool]], names: Iterable[str] | None = None
) -> dict[str, ForecastModel]:
    """The candidates: the named models, else every model that is not opt-in."""
    if names is None:
        return {name: model for name, (model, opt_in) in available.items() if not opt_in}
    pool = {}
    for name in names:
        if name not in available:
            raise ConfigError(
                f"unknown forecast model {name!r}; registered: {', '.join(sorted(available))}"
            )
        pool[name] = available[name][0]
    return pool
