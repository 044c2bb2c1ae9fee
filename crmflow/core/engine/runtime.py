"""The Engine: start, fire, get, list; one fired trigger is one transaction."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crmflow.core.factory import FactoryConfig, find_factory, load_factory
from crmflow.core.registry import (
    PluginManager,
    Registry,
    build_registry,
    enabled_plugins,
    get_plugin_manager,
)
from crmflow.core.rollout import RolloutPolicy
from crmflow.core.store import make_db, migrate, reading
from crmflow.errors import NotFoundError, RefusedError

from . import firing
from . import repository as repo
from .catalog import Catalog
from .decide import SYSTEM
from .delegation import delegate as _delegate
from .delivery import emit as _emit
from .delivery import emit_many as _emit_many
from .direct import release
from .eventrows import deep_merge
from .expressions import make_environment
from .hookcalls import HookCalls
from .migration import MigrationReport
from .migration import migrate_instances as _migrate
from .outbox import run_outbox as _run_outbox
from .results import EmitResult, FireResult, Instance, TransitionRecord
from .starting import existing_start, start_in
from .ticker import tick as _tick

__all__ = ["Engine", "deep_merge"]


class Engine:
    """One factory's workflow engine over one database.

    Build it with :meth:`open`. Memory holds no instance between events: every
    call reads the instance row and writes it back with a version check.
    """

    def __init__(
        self,
        db: sa.Engine,
        *,
        factory: FactoryConfig,
        pm: PluginManager,
        registry: Registry,
        catalog: Catalog,
        clock: Callable[[], datetime] | None = None,
        inline_outbox: bool = True,
    ) -> None:
        self.db = db
        self.factory = factory
        self.pm = pm
        self.registry = registry
        self.catalog = catalog
        self.clock = clock or (lambda: datetime.now(UTC))
        self.inline_outbox = inline_outbox
        self.worker_id = "engine"
        #: plugin defaults overridden by the factory config's `settings:`
        self.settings: dict[str, Any] = {
            name: copy.deepcopy(item.obj) for name, item in registry.settings.items()
        }
        self.settings.update(factory.settings)
        #: staged rollout (architecture.md): off / pilot departments / all, per workflow
        self.rollout = RolloutPolicy.for_factory(db, factory)
        self.hooks = HookCalls(pm, registry.enabled, self.rollout)
        if catalog.clock is None:  # new version files are picked up without a restart
            catalog.watch(self.now)

    # -- construction ----------------------------------------------------

    @classmethod
    def open(
        cls,
        database_url: str | None = None,
        workflows: str | Path | None = None,
        factory: str | Path | FactoryConfig | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        plugins: Sequence[object] = (),
        load_entry_points: bool = True,
        run_migrations: bool = True,
        inline_outbox: bool = True,
        strict_workflows: bool = True,
    ) -> Engine:
        """Open a factory's engine: plugins, factory config, workflows, database.

        ``strict_workflows=False`` (read-only commands) leaves invalid workflow files
        out, listed in ``catalog.skipped`` and ``catalog.warnings``, instead of refusing.
        """
        pm = get_plugin_manager(load_entry_points=load_entry_points, extra=tuple(plugins))
        names = {name for name, plugin in pm.list_name_plugin() if plugin is not None}
        if isinstance(factory, FactoryConfig):
            config = factory
        elif factory is not None:
            config = load_factory(find_factory(str(factory)), names)
        else:
            config = FactoryConfig()
        registry = build_registry(pm, enabled_plugins(pm, config.plugins))
        env = make_environment({n: r.obj for n, r in registry.functions.items()})
        folder = Catalog.resolve_folder(workflows, config.workflows)
        catalog = Catalog(folder, env, registry.actions, strict=strict_workflows)
        db = make_db(database_url, factory=config.name if config.file else None)
        if run_migrations:
            migrate(db, [str(r.obj) for r in registry.migrations.values()])
        return cls(
            db,
            factory=config,
            pm=pm,
            registry=registry,
            catalog=catalog,
            clock=clock,
            inline_outbox=inline_outbox,
        )

    def close(self) -> None:
        release(self)
        self.db.dispose()

    # -- small helpers -----------------------------------------------------

    def now(self) -> datetime:
        return repo.utc(self.clock())

    def plugin_settings(self, name: str) -> dict[str, Any]:
        return self.factory.plugin_settings(name)

    def roles_of(self, actor: str | None) -> frozenset[str]:
        """An actor's roles: `system`, a known person's, or the actor read as a role name.

        A person is a user of the factory config or a member of a department;
        their roles are the user's `roles` plus the `roles` of their departments.
        """
        if actor is None:
            return frozenset()
        if actor == SYSTEM:
            return frozenset({SYSTEM})
        user = self.factory.users.get(actor)
        roles = {str(r) for r in user.get("roles") or ()} if isinstance(user, dict) else set()
        departments = [d for d in self.factory.departments if actor in d.members]
        for department in departments:
            roles.update(department.roles)
        if isinstance(user, dict) or departments:
            return frozenset(roles)
        return frozenset({actor})

    def is_person(self, name: str) -> bool:
        """Whether ``name`` is a person (a factory user or department member), not a role."""
        return name in self.factory.users or any(
            name in d.members for d in self.factory.departments
        )

    def expression_context(
        self,
        data: dict[str, Any],
        event: dict[str, Any] | None,
        state: str | None,
        now: datetime,
        *,
        actor: str | None = None,
        started_by: str | None = None,
    ) -> dict[str, Any]:
        """What expressions see: the data's fields, data, event, state, now, factory, actor…"""
        context = dict(data)
        context.update(
            data=data, event=event or {}, state=state, now=now, factory=self._public_settings(),
            actor=actor, actor_roles=sorted(self.roles_of(actor)), started_by=started_by,
        )  # fmt: skip
        return context

    def _public_settings(self) -> dict[str, Any]:
        """The factory settings expressions may read: secret-looking ones left out."""
        cached = self.__dict__.get("_public")
        if cached is None or cached[0] is not self.settings:
            from crmflow.core.secrets import public_settings

            cached = (self.settings, public_settings(self.settings))
            self.__dict__["_public"] = cached
        return cached[1]

    # -- start ---------------------------------------------------------------

    def start(
        self,
        workflow: str,
        data: dict[str, Any] | None = None,
        actor: str | None = None,
        key: str | None = None,
        *,
        open_key: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Start the newest version of ``workflow``; return the new instance id.

        ``key`` makes the start idempotent (the same key returns the same
        instance); ``open_key`` keeps one open instance per business key.
        """
        return self.start_new(workflow, data, actor, key, open_key=open_key, now=now)[0]

    def start_new(
        self,
        workflow: str,
        data: dict[str, Any] | None = None,
        actor: str | None = None,
        key: str | None = None,
        *,
        open_key: str | None = None,
        now: datetime | None = None,
    ) -> tuple[int, bool]:
        """Like :meth:`start`; also says whether this call created the instance."""
        compiled = self.catalog.newest(workflow)
        if self.rollout.active():
            refused = self.rollout.refusal(workflow, actor, data, today=self.today(now))
            if refused:
                raise RefusedError(f"rollout: {refused}", reason="rollout")
        self.catalog.remember(self.db, compiled.definition)
        when = repo.utc(now) if now else self.now()
        try:
            with self.db.begin() as conn:
                iid, records, queued = start_in(
                    self, conn, compiled, data or {}, actor, key, open_key, when
                )
        except sa.exc.IntegrityError:
            existing = existing_start(self.db, workflow, key, open_key)
            if existing is None:
                raise
            return existing, False
        self.after_commit(records, queued)
        return iid, bool(records)

    def start_child(
        self, conn: sa.Connection, workflow: str, data: dict[str, Any], actor: str | None,
        now: datetime,
    ) -> tuple[int, list[TransitionRecord], bool]:  # fmt: skip
        """Start a sub-workflow's child inside the parent's transaction (``call:``)."""
        compiled = self.catalog.newest(workflow)
        self.catalog.remember_in(conn, compiled.definition)
        return start_in(self, conn, compiled, data, actor, None, None, now)

    # -- fire ------------------------------------------------------------------

    def fire(
        self,
        iid: int,
        trigger: str,
        data: dict[str, Any] | None = None,
        key: str | None = None,
        actor: str | None = None,
        *,
        now: datetime | None = None,
    ) -> FireResult:
        """Fire ``trigger`` on instance ``iid``; a refusal changes nothing."""
        when = repo.utc(now) if now else self.now()
        return firing.fire(self, iid, trigger, data, key, actor, when)

    def today(self, now: datetime | None = None) -> Any:
        """The factory's calendar date at ``now`` (default: the engine's clock)."""
        return (now or self.now()).astimezone(self.factory.timezone).date()

    def fire_many(
        self,
        events: Iterable[tuple[int, str, dict[str, Any] | None, str | None]],
        actor: str | None = SYSTEM,
    ) -> list[FireResult]:
        """Fire a batch in one transaction (group commit); each event keeps its rules."""
        return firing.fire_many(self, events, actor)

    def fire_in(
        self,
        conn: sa.Connection,
        iid: int,
        trigger: str,
        data: dict[str, Any] | None,
        key: str | None,
        actor: str | None,
        now: datetime,
    ) -> tuple[FireResult, list[TransitionRecord], bool]:
        """Fire inside the caller's transaction; raise repo.Conflict on a stale row."""
        return firing.fire_in(self, conn, iid, trigger, data, key, actor, now)

    def hook(self, name: str) -> Any:
        """The hook caller ``name`` restricted to the plugins this factory enables."""
        return self.hooks.caller(name)

    def after_commit(self, records: list[TransitionRecord], queued: bool) -> None:
        """Tell the on_transition listeners, then run the queued actions (inline outbox)."""
        if records:
            listeners = self.hooks.listeners()
            if listeners.any:
                listeners.call(self, records)
        if queued and self.inline_outbox:
            _run_outbox(self)

    # -- read --------------------------------------------------------------------

    def get(self, iid: int) -> Instance:
        with reading(self.db) as conn:
            inst = repo.load_instance(conn, iid)
        if inst is None:
            raise NotFoundError(f"no instance {iid}; `crmflow list` shows the instances")
        return inst

    def list(
        self, workflow: str | None = None, state: str | None = None, *,
        finished: bool | None = None, limit: int | None = None,
    ) -> list[Instance]:  # fmt: skip
        """Instances, newest first."""
        with reading(self.db) as conn:
            return repo.load_instances(
                conn, workflow=workflow, state=state, finished=finished, limit=limit
            )

    # -- time, events, outbox (in their own modules) -------------------------------

    def tick(self, now: datetime | None = None) -> int:
        """Fire every timer and deadline due by ``now``; return how many fired."""
        return _tick(self, repo.utc(now) if now else self.now())

    def emit(
        self, event: str, payload: dict[str, Any] | None = None, *, key: str | None = None,
        actor: str = SYSTEM,
    ) -> EmitResult:  # fmt: skip
        """Deliver a domain event to `start_on` rules and waiting instances."""
        return _emit(self, event, dict(payload or {}), key=key, actor=actor)

    def emit_many(
        self, events: Iterable[tuple[str, dict[str, Any] | None, str | None]], *,
        actor: str = SYSTEM,
    ) -> builtins.list[EmitResult]:  # fmt: skip
        """Deliver ``(event, payload, key)`` items in order; one event-log write per batch."""
        batch = [(name, dict(payload or {}), key) for name, payload, key in events]
        return _emit_many(self, batch, actor=actor)

    def enqueue(
        self, instance_id: int | None = None, trigger: str | None = None,
        data: dict[str, Any] | None = None, *, event: str | None = None,
        key: str | None = None, actor: str | None = SYSTEM,
    ) -> int:  # fmt: skip
        """Queue an event for the workers (`crmflow worker`); return the inbox row id.

        Either ``instance_id`` + ``trigger`` (applied like :meth:`fire`) or
        ``event`` (delivered like :meth:`emit`). ``key`` makes it idempotent.
        """
        from .inbox import enqueue

        return enqueue(
            self, instance_id, trigger, data, event=event, key=key, actor=actor
        )  # fmt: skip

    def delegate(
        self, from_person: str, to_person: str, start: date | str, until: date | str, *,
        reason: str | None = None, by: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Hand ``from_person``'s approval votes to ``to_person`` (both days included)."""
        return _delegate(self, from_person, to_person, start, until, reason=reason, by=by)

    def migrate_instances(
        self, workflow: str, to_version: int, mapping: dict[str, str] | None = None, *,
        dry_run: bool = False, actor: str | None = None,
    ) -> MigrationReport:  # fmt: skip
        """Move the open instances of ``workflow`` to ``to_version`` (see migration.py)."""
        return _migrate(self, workflow, to_version, mapping, dry_run=dry_run, actor=actor)

    def run_outbox(self, now: datetime | None = None, limit: int = 100) -> int:
        """Run due side effects from the outbox; return how many were attempted."""
        return _run_outbox(self, now=now, limit=limit)
