"""The Engine: start, fire, get, list; one fired trigger is one transaction."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
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
from crmflow.errors import ConcurrencyError, CrmflowError, NotFoundError, RefusedError

from . import groupcommit, hotpath
from . import repository as repo
from .catalog import Catalog
from .context import ActionContext
from .definition import WorkflowDef
from .delivery import emit as _emit
from .delivery import emit_many as _emit_many
from .expressions import make_environment, render_value
from .machine import SYSTEM, CompiledWorkflow
from .outbox import run_outbox as _run_outbox
from .results import EmitResult, FireResult, Instance, TransitionRecord
from .ticker import tick as _tick
from .timing import arm_timers

__all__ = ["Engine", "deep_merge"]

log = logging.getLogger("crmflow.engine")

_RETRIES = 8


def deep_merge(base: dict[str, Any], update: dict[str, Any] | None) -> dict[str, Any]:
    """Merge ``update`` into ``base`` in place, recursing into dicts."""
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


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
    ) -> Engine:
        """Open a factory's engine: plugins, factory config, workflows, database."""
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
        catalog = Catalog(folder, env, set(registry.actions))
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
        hotpath.release(self)
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

    def expression_context(
        self,
        data: dict[str, Any],
        event: dict[str, Any] | None,
        state: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        context = dict(data)
        context.update(
            data=data, event=event or {}, state=state, now=now, factory=self.settings
        )
        return context

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
                iid, records, queued = self._start_in(
                    conn, compiled, data or {}, actor, key, open_key, when
                )
        except sa.exc.IntegrityError:
            existing = self._existing_start(workflow, key, open_key)
            if existing is None:
                raise
            return existing, False
        self._after_commit(records, queued)
        return iid, bool(records)

    def _existing_start(self, workflow: str, key: str | None, open_key: str | None) -> int | None:
        i = repo.instances
        with reading(self.db) as conn:
            for column, value in ((i.c.start_key, key), (i.c.open_key, open_key)):
                if value is None:
                    continue
                found = conn.execute(
                    sa.select(i.c.id).where(i.c.workflow == workflow, column == value)
                ).scalar()
                if found is not None:
                    return int(found)
        return None

    def _start_in(
        self,
        conn: sa.Connection,
        compiled: CompiledWorkflow,
        data: dict[str, Any],
        actor: str | None,
        key: str | None,
        open_key: str | None,
        now: datetime,
    ) -> tuple[int, list[TransitionRecord], bool]:
        definition = compiled.definition
        if key is not None:
            found = conn.execute(
                sa.select(repo.instances.c.id).where(
                    repo.instances.c.workflow == definition.id,
                    repo.instances.c.start_key == key,
                )
            ).scalar()
            if found is not None:
                return int(found), [], False
        initial = definition.states[definition.initial]
        data = copy.deepcopy(data)
        iid = int(
            conn.execute(
                repo.instances.insert()
                .values(
                    workflow=definition.id,
                    version=definition.version,
                    state=initial.name,
                    data=repo.dumps(data),
                    rev=1,
                    finished=initial.final,
                    open_key=None if initial.final else open_key,
                    start_key=key,
                    created_at=now,
                    updated_at=now,
                    entered_at=now,
                    created_by=actor,
                )
                .returning(repo.instances.c.id)
            ).scalar_one()
        )
        hid = repo.insert_history(
            conn, iid=iid, trigger="start", from_state=None, to_state=initial.name,
            actor=actor, at=now, payload=data, key=key,
        )  # fmt: skip
        plan = [("on_enter", initial.name, spec) for spec in initial.on_enter]
        queued = self._run_plan(conn, iid, definition, hid, plan, data, data, actor, now)
        if plan:
            conn.execute(
                repo.instances.update()
                .where(repo.instances.c.id == iid)
                .values(data=repo.dumps(data))
            )
        if not initial.final:
            arm_timers(conn, self, iid, definition, initial.name, now)
        record = TransitionRecord(
            iid, definition.id, definition.version, "start", None, initial.name, actor, now,
            data, hid,
        )  # fmt: skip
        return iid, [record], queued

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
        if self.rollout.active():
            refused = self._rollout_refusal(iid, actor, when)
            if refused is not None:
                return refused
        for _attempt in range(_RETRIES):
            try:
                fired = hotpath.fire_direct(self, iid, trigger, data, key, actor, when)
                if fired is None:
                    with self.db.begin() as conn:
                        fired = self.fire_in(conn, iid, trigger, data, key, actor, when)
                        if not fired[0].taken:
                            conn.rollback()
                result, records, queued = fired
            except repo.Conflict:
                continue
            except sa.exc.OperationalError as exc:
                if not _transient(exc):
                    raise
                continue  # a deadlock with a timer batch: PostgreSQL rolled us back; retry
            except sa.exc.IntegrityError:
                if key is None:
                    raise
                # The same key was applied by a concurrent process: return its result.
                with reading(self.db) as conn:
                    earlier = repo.history_by_key(conn, iid, key)
                if earlier is None:
                    raise
                return FireResult(
                    True, earlier.to_state, instance_id=iid, duplicate=True, history_id=earlier.id
                )
            self._after_commit(records, queued)
            return result
        raise ConcurrencyError(f"instance {iid} kept changing while firing {trigger!r}; try again")

    def today(self, now: datetime | None = None) -> Any:
        """The factory's calendar date at ``now`` (default: the engine's clock)."""
        return (now or self.now()).astimezone(self.factory.timezone).date()

    def _rollout_refusal(self, iid: int, actor: str | None, now: datetime) -> FireResult | None:
        i = repo.instances
        with reading(self.db) as conn:
            row = conn.execute(
                sa.select(i.c.workflow, i.c.state, i.c.data, i.c.created_by).where(i.c.id == iid)
            ).first()
        if row is None:
            return None  # the fire itself reports the missing instance
        refused = self.rollout.refusal(
            row.workflow, actor, _json_data(row.data), starter=row.created_by,
            today=self.today(now),
        )  # fmt: skip
        if refused is None:
            return None
        return FireResult(False, row.state, reason=f"rollout: {refused}", code="rollout",
                          instance_id=iid)  # fmt: skip

    def fire_many(
        self,
        events: Iterable[tuple[int, str, dict[str, Any] | None, str | None]],
        actor: str | None = SYSTEM,
    ) -> list[FireResult]:
        """Fire a batch in one transaction (group commit); each event keeps its rules."""
        batch = list(events)
        for _attempt in range(_RETRIES):
            try:
                now = self.now()
                fired = groupcommit.fire_batch_direct(self, batch, actor, now)
                if fired is None:
                    with self.db.begin() as conn:
                        fired = groupcommit.fire_batch(self, conn, batch, actor, now)
                results, records, queued = fired
            except (repo.Conflict, sa.exc.IntegrityError):
                # A concurrent writer got there first (PostgreSQL); the retry sees its work.
                continue
            self._after_commit(records, queued)
            return results
        raise ConcurrencyError("a batch kept conflicting with concurrent writers; try again")

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
        return hotpath.fire_one(self, conn, iid, trigger, data, key, actor, now)

    def _run_plan(
        self,
        conn: sa.Connection,
        iid: int,
        definition: WorkflowDef,
        hid: int,
        plan: list[tuple[str, str, Any]],
        data: dict[str, Any],
        payload: dict[str, Any] | None,
        actor: str | None,
        now: datetime,
    ) -> bool:
        """Run in-transaction actions, queue outbox ones; True if any was queued."""
        queued = False
        for index, (_phase, state, spec) in enumerate(plan):
            registered = self.registry.actions[spec.action]
            params = render_value(spec.params, self.expression_context(data, payload, state, now))
            key = f"{iid}:{hid}:{index}"
            if registered.option("outbox", False):
                conn.execute(
                    repo.outbox.insert().values(
                        instance_id=iid,
                        history_id=hid,
                        action_index=index,
                        action=spec.action,
                        params=repo.dumps(params),
                        save_as=spec.save_as,
                        key=key,
                        status="pending",
                        attempts=0,
                        max_attempts=int(registered.option("max_attempts", 5)),
                        next_attempt_at=now,
                        created_at=now,
                    )  # fmt: skip
                )
                queued = True
                continue
            ctx = ActionContext(
                engine=self, instance_id=iid, workflow=definition.id, state=state,
                data=data, actor=actor, idempotency_key=key, now=now,
                settings=self.plugin_settings(registered.plugin), connection=conn,
            )  # fmt: skip
            try:
                result = registered.obj(ctx, **params)
            except CrmflowError:
                raise
            except Exception as exc:
                raise CrmflowError(
                    f"action {spec.action!r} (plugin {registered.plugin!r}) failed in state "
                    f"{state!r}: {exc}; nothing was changed"
                ) from exc
            if spec.save_as:
                data[spec.save_as] = result
        return queued

    def hook(self, name: str) -> Any:
        """The hook caller ``name`` restricted to the plugins this factory enables."""
        callers: dict[str, Any] = self.__dict__.setdefault("_hooks", {})
        if name not in callers:
            enabled = set(self.registry.enabled)
            disabled = [
                plugin for plugin_name, plugin in self.pm.list_name_plugin()
                if plugin is not None and plugin_name not in enabled
            ]  # fmt: skip
            callers[name] = self.pm.subset_hook_caller(name, remove_plugins=disabled)
        return callers[name]

    def _after_commit(self, records: list[TransitionRecord], queued: bool) -> None:
        on_transition = self.hook("on_transition")
        if not on_transition.get_hookimpls():
            records = []  # nobody listens: skip a hook call per event on the hot path
        for record in records:
            try:
                on_transition(engine=self, record=record)
            except Exception:  # a plugin's reaction must not undo a committed transition
                log.exception("on_transition hook failed for instance %s", record.instance_id)
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
    ) -> list[EmitResult]:  # fmt: skip
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

    def run_outbox(self, now: datetime | None = None, limit: int = 100) -> int:
        """Run due side effects from the outbox; return how many were attempted."""
        return _run_outbox(self, now=now, limit=limit)


def _json_data(stored: Any) -> dict[str, Any]:
    data = json.loads(stored) if isinstance(stored, str) else stored
    return data if isinstance(data, dict) else {}


def _transient(exc: sa.exc.OperationalError) -> bool:
    """A deadlock or serialization failure: the transaction may simply be retried."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in ("40P01", "40001")
