"""Calling the plugins' hooks from the engine: only the factory's enabled plugins hear them.

:class:`HookCalls` keeps one pluggy caller per hook and per set of plugins the
staged rollout turns `off`, and the ``on_transition`` listeners ready to call:
every fired event asks for them twice (whether to build records, then to call
them after commit), so both answers are worked out once per caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .results import TransitionRecord

if TYPE_CHECKING:  # pragma: no cover
    from pluggy import PluginManager

    from crmflow.core.rollout import RolloutPolicy

__all__ = ["HookCalls", "Listeners"]

log = logging.getLogger("crmflow.engine")


class Listeners:
    """The ``on_transition`` implementations of one caller, ready to call.

    ``plain`` holds (function, argument names) in pluggy's call order when no
    implementation is a wrapper or takes optional arguments: those are called
    directly, without pluggy's per-call set-up. Otherwise ``plain`` is None and
    the caller runs them.
    """

    __slots__ = ("caller", "any", "plain")

    def __init__(self, caller: Any) -> None:
        impls = caller.get_hookimpls()
        self.caller = caller
        self.any = bool(impls)
        simple = not any(i.wrapper or i.hookwrapper or i.kwargnames for i in impls)
        self.plain: list[tuple[Callable[..., Any], Sequence[str]]] | None = (
            [(i.function, i.argnames) for i in reversed(impls)] if simple else None
        )

    def call(self, engine: Any, records: list[TransitionRecord]) -> None:
        """Tell every listener of each record; a listener's error is logged, not raised."""
        for record in records:
            given = {"engine": engine, "record": record}
            try:
                if self.plain is None:
                    self.caller(**given)
                else:
                    for function, names in self.plain:
                        function(*[given[name] for name in names])
            except Exception:  # a plugin's reaction must not undo a committed transition
                log.exception("on_transition hook failed for instance %s", record.instance_id)


class HookCalls:
    """The hook callers of one engine, restricted to the plugins its factory enables."""

    def __init__(self, pm: PluginManager, enabled: Iterable[str], rollout: RolloutPolicy) -> None:
        self.pm = pm
        #: the plugins the factory enables (its registry's)
        self.enabled = frozenset(enabled)
        self.rollout = rollout
        self._callers: dict[tuple[str, frozenset[str]], Any] = {}
        self._listeners: dict[tuple[frozenset[str], int], Listeners] = {}

    def caller(self, name: str) -> Any:
        """The hook caller ``name`` without the disabled plugins and those rolled out `off`."""
        off = self.rollout.off_now()  # a plugin whose rollout is `off` hears nothing
        key = (name, off)
        found = self._callers.get(key)
        if found is None:
            enabled = self.enabled - off
            disabled = [
                plugin for plugin_name, plugin in self.pm.list_name_plugin()
                if plugin is not None and plugin_name not in enabled
            ]  # fmt: skip
            found = self._callers[key] = self.pm.subset_hook_caller(name, remove_plugins=disabled)
        return found

    def listeners(self) -> Listeners:
        """The ``on_transition`` listeners as the rollout and the registered plugins stand now."""
        # A plugin registered after the engine opened is heard too: the count tells.
        key = (self.rollout.off_now(), len(self.pm.hook.on_transition.get_hookimpls()))
        found = self._listeners.get(key)
        if found is None:
            found = self._listeners[key] = Listeners(self.caller("on_transition"))
        return found
