"""Every hook a crmflow plugin can implement, typed and documented."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    import click

    from crmflow.cli_surface import CliHelpers
    from crmflow.core.engine.ports import EngineLike as Engine
    from crmflow.core.engine.results import TransitionRecord

__all__ = ["hookimpl", "hookspec"]

hookspec = HookspecMarker("crmflow")
hookimpl = HookimplMarker("crmflow")

Register = Callable[..., None]


# --------------------------------------------------------------------------
# Registries: each hook receives a ``register`` callback. The host stamps
# every registered item with the plugin that gave it; a name registered by
# two plugins is a startup error naming both.
# --------------------------------------------------------------------------


@hookspec
def register_actions(register: Register) -> None:
    """Register workflow actions (``on_enter``, ``on_exit`` and ``do`` steps).

    Called once per plugin when the registry is built for a factory.

    :param register: ``register(name, func, *, outbox=False, max_attempts=5,
        description=None)``. ``func(ctx, **params)`` receives an
        :class:`crmflow.ActionContext` and the rendered ``with:`` parameters
        and returns a JSON-serialisable result (kept under ``save_as``).
        ``outbox=True`` marks an action that talks to another system: it runs
        after the commit from the durable outbox, with retries and
        ``ctx.idempotency_key``; otherwise it runs inside the transaction of
        the fired trigger and may use ``ctx.connection``. ``event="name"``
        (outbox actions only) delivers the action's result as a follow-up
        domain event, with the outbox row's key as its idempotency key.
        ``crmflow validate`` checks each item's ``with:`` against ``func``'s
        keyword parameters (unknown or missing required ones are errors), or
        against ``params={"name": "required" | "optional", ...}`` when given
        (for a ``func(ctx, **params)`` that takes anything).
    :returns: nothing.
    """


@hookspec
def register_functions(register: Register) -> None:
    """Register functions usable in guards, ``unique`` keys and templates.

    Called once per plugin when the registry is built for a factory.

    :param register: ``register(name, func, *, description=None)``. The
        function becomes a global of the sandboxed expression environment,
        e.g. ``when: "within_tolerance(event.old, event.new, 0.1)"``. It must
        not touch files or the network and should be fast: guards run on
        every fired trigger.
    :returns: nothing.
    """


@hookspec
def register_settings(register: Register) -> None:
    """Register factory settings a plugin reads, with their defaults.

    Called once per plugin when the registry is built for a factory. A
    factory config's ``settings:`` overrides the defaults; guards and
    templates see the merged values as ``factory.NAME`` and plugins read them
    as ``engine.settings``, so a shipped workflow works before a factory has
    tuned its thresholds.

    :param register: ``register(name, default, *, description=None)``.
    :returns: nothing.
    """


@hookspec
def register_connectors(register: Register) -> None:
    """Register connectors to ERP, MES, SCM and other outside systems.

    :param register: ``register(name, factory, *, description=None)`` where
        ``factory(settings: dict) -> object`` builds a connector from the
        plugin's settings in the factory config. Secrets are passed as
        environment-variable names, never as values.
    :returns: nothing.
    """


@hookspec
def register_forecast_models(register: Register) -> None:
    """Register demand-forecasting models.

    :param register: ``register(name, model, *, description=None,
        opt_in=False)``. ``model`` is a callable or class described by the
        forecast plugin's documentation (``docs/forecast.md``). ``opt_in``
        models are only tried when the factory config names them.
    :returns: nothing.
    """


@hookspec
def register_kpis(register: Register) -> None:
    """Register KPI calculators.

    :param register: ``register(key, calculator, *, description=None,
        unit=None, extras=())``. ``calculator(ctx) -> {group: KpiValue}``
        gets a :class:`crmflow.plugins.kpi.KpiContext` (connection, period
        ``[start, end)``, breakdown, factory) and returns one
        :class:`~crmflow.plugins.kpi.KpiValue` per group (``{None: value}``
        without a breakdown); ``extras`` names additional keys it reports
        (``("p90",)`` adds ``<key>_p90``). See ``docs/kpis.md``. A factory can
        disable a KPI by key (``plugins: {kpi: {disable: [key]}}``).
    :returns: nothing.
    """


@hookspec
def register_admin_blueprints(register: Register) -> None:
    """Register Flask blueprints mounted by the admin app.

    :param register: ``register(blueprint, *, url_prefix=None, menu=None)``.
        ``menu`` is the label shown in the admin navigation, or ``None``.
    :returns: nothing.
    """


@hookspec
def register_commands(cli: click.Group, helpers: CliHelpers) -> None:
    """Add commands to the ``crmflow`` command line.

    Called once when the CLI starts, with the root click group. A plugin adds
    its commands with ``@cli.command()``; commands should stay thin edges
    over the plugin's Python API. ``helpers`` is crmflow's CLI surface for
    plugins, so they need not import ``crmflow.cli``: ``helpers.open_engine(ctx)``
    (the invocation's Engine from the global options), ``helpers.common_options(cmd)``
    (adds ``--db/--workflows/--factory``), ``helpers.parse_json``,
    ``helpers.parse_now`` and ``helpers.format_table``. A hook
    implementation may leave ``helpers`` out of its signature.

    :param cli: the root ``click.Group``.
    :param helpers: a :class:`crmflow.cli_helpers.CliHelpers`.
    :returns: nothing.
    """


# --------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------


@hookspec
def on_transition(engine: Engine, record: TransitionRecord) -> None:
    """React to a taken transition, after its transaction committed.

    Called for every taken transition (including ``start`` and internal
    transitions) once the state change is durable. Exceptions are logged and
    do not undo the transition; for work that must not be lost, register an
    ``outbox=True`` action instead.

    :param engine: the :class:`crmflow.Engine` that fired it.
    :param record: what happened: instance id, workflow, version, trigger,
        ``from_state``, ``to_state``, actor, time and payload.
    :returns: nothing.
    """


@hookspec
def on_event(engine: Engine, event: str, payload: dict[str, Any]) -> None:
    """React to a domain event (``order.created``, ``inventory.changed`` …).

    Called when an event is emitted, before it is delivered to ``start_on``
    rules and waiting instances, so a plugin can enrich the stored records
    (the domain updates an inventory position on ``inventory.changed``).
    A plugin may add fields to ``payload`` in place.

    :param engine: the emitting :class:`crmflow.Engine`.
    :param event: the event name.
    :param payload: the event payload (a dict, may be changed in place).
    :returns: nothing.
    """


@hookspec
def on_notification(engine: Engine, notification: dict[str, Any]) -> None:
    """React to a new in-app notification, after its transaction committed.

    Called once per person reached, in the process that wrote it (a plugin may
    forward it elsewhere; the web app's live stream reads the inbox itself, so
    it hears every process). Exceptions are logged and do not undo the
    notification.

    :param engine: the :class:`crmflow.Engine` that wrote it.
    :param notification: ``{"id", "person", "text", "link", "urgent",
        "instance_id", "workflow", "created_at", "read_at", "read"}`` as
        :func:`crmflow.notifications.inbox` returns it.
    :returns: nothing.
    """


@hookspec
def run_scheduled(engine: Engine, now: datetime) -> None:
    """Run a plugin's own scheduled jobs that are due by ``now``.

    Called by every worker round (``crmflow worker``, ``crmflow run``), after
    the queues. Several workers may call it at the same moment, so a job must
    claim its occurrence in the database (a unique row) before doing work, and
    coalesce occurrences missed while no worker ran. Exceptions are logged and
    retried on the next round.

    :param engine: the :class:`crmflow.Engine` of the worker.
    :param now: the worker's clock (aware UTC).
    :returns: nothing.
    """


# --------------------------------------------------------------------------
# Services one plugin offers to others
# --------------------------------------------------------------------------


@hookspec(firstresult=True)
def demand_forecast(
    engine: Engine, skus: list[str], start: Any, days: int
) -> dict[str, list[float]] | None:
    """Give daily demand forecasts for SKUs, or ``None`` if not available.

    Used by the projected-inventory view. The first plugin that returns a
    value wins; when none does, the view falls back to the trailing average.

    :param engine: the :class:`crmflow.Engine` (its database holds history).
    :param skus: the SKUs to forecast.
    :param start: the first day (``datetime.date``).
    :param days: the number of days.
    :returns: ``{sku: [qty per day, …]}`` (missing SKUs fall back), or None.
    """


@hookspec
def register_migrations(register: Register) -> None:
    """Register Alembic version folders of a plugin's own tables.

    :param register: ``register(path)`` with the folder of migration
        scripts; they join crmflow's migration history (use
        ``depends_on``/``down_revision`` on crmflow's revisions).
    :returns: nothing.
    """
