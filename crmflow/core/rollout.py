"""Staged rollout: each workflow and plugin is off, in pilot for named departments, or on for all.

The factory YAML gives the starting point (`rollout:`); every change made since
(`crmflow rollout set`, the web app) is a row of `rollout_changes` naming who,
when and why, and the newest row for a name wins over the YAML. The engine asks
:meth:`RolloutPolicy.allows` before it starts, moves or delivers an event to a
workflow; a name that is `off`, or `pilot` for other departments, is left alone
as if it did not exist.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from crmflow.core.sqlrows import inserted_id
from crmflow.errors import InputError, RefusedError

__all__ = [
    "MODES",
    "ROLLOUT_ROLES",
    "RolloutChange",
    "RolloutPolicy",
    "RolloutState",
    "parse_rollout",
    "rollout_changes",
    "rollout_names",
]

MODES = ("off", "pilot", "all")
#: who may change a stage (an operator at the command line without --as is trusted)
ROLLOUT_ROLES = frozenset({"manager", "admin", "consultant"})

_metadata = sa.MetaData()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

rollout_changes = sa.Table(
    "rollout_changes",
    _metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, index=True),
    sa.Column("mode", sa.String(10), nullable=False),
    sa.Column("departments", sa.Text, nullable=False),  # JSON list
    sa.Column("since", sa.Date, nullable=True),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),  # naive UTC
    sa.Column("reason", sa.Text, nullable=True),
)


@dataclass(frozen=True)
class RolloutState:
    """Where one workflow or plugin stands: `off`, `all`, or `pilot` for departments."""

    name: str
    mode: str = "all"
    departments: tuple[str, ...] = ()
    since: date | None = None
    source: str = "default"  # default | factory | change

    def allows(self, departments: Iterable[str], today: date | None = None) -> bool:
        """True when an actor or record of these departments is in scope."""
        if self.mode == "all":
            return True
        if self.mode == "off":
            return False
        if self.since is not None and today is not None and today < self.since:
            return False
        return bool(set(departments) & set(self.departments))

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mode": self.mode,
            "departments": list(self.departments),
            "since": self.since.isoformat() if self.since else None,
            "source": self.source,
        }


@dataclass(frozen=True)
class RolloutChange:
    """One recorded change: who set what, when and why."""

    id: int
    name: str
    mode: str
    departments: tuple[str, ...]
    since: date | None
    changed_by: str
    changed_at: datetime
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "mode": self.mode,
            "departments": list(self.departments),
            "since": self.since.isoformat() if self.since else None,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.replace(tzinfo=UTC).isoformat(),
            "reason": self.reason,
        }


def parse_rollout(
    raw: Any, departments: Iterable[str], error: Callable[..., None]
) -> dict[str, RolloutState]:
    """The factory's `rollout:` mapping; problems go to ``error(message, at, value)``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        error("rollout must map workflow or plugin names to off, all or {pilot: [...]}",
              ("rollout",), True)  # fmt: skip
        return {}
    known = set(departments)
    states: dict[str, RolloutState] = {}
    for name, value in raw.items():
        at = ("rollout", name)
        if value in ("off", "all", False, True):
            mode = {False: "off", True: "all"}.get(value, value)
            states[str(name)] = RolloutState(str(name), str(mode), source="factory")
            continue
        if not isinstance(value, dict) or "pilot" not in value:
            error(f"rollout of {name!r} must be off, all or {{pilot: [departments], since: DATE}}",
                  at, True)  # fmt: skip
            continue
        for key in value:
            if key not in ("pilot", "since"):
                error(f"unknown rollout key {key!r}; allowed: pilot, since", (*at, key))
        pilot = value.get("pilot")
        if isinstance(pilot, str):
            pilot = [pilot]
        if not isinstance(pilot, list) or not pilot:
            error("pilot must list one or more department ids", (*at, "pilot"), True)
            continue
        for i, dept in enumerate(pilot):
            if known and str(dept) not in known:
                error(f"unknown department {dept!r}; departments: {', '.join(sorted(known))}",
                      (*at, "pilot", i), True)  # fmt: skip
        since = value.get("since")
        if since is not None and not isinstance(since, date):
            error("since must be a date (YYYY-MM-DD)", (*at, "since"), True)
            since = None
        states[str(name)] = RolloutState(
            str(name), "pilot", tuple(str(d) for d in pilot), since, source="factory"
        )
    return states


@dataclass
class RolloutPolicy:
    """The rollout state of every name: factory YAML overlaid by recorded changes."""

    db: sa.Engine
    configured: Mapping[str, RolloutState] = field(default_factory=dict)
    departments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # member -> depts
    known_departments: frozenset[str] = frozenset()
    #: how long (seconds) a process trusts what it read of `rollout_changes`; a change
    #: made in this process is seen at once, one made by another process within this.
    ttl: float = 1.0
    _cache: tuple[float, dict[str, RolloutState]] | None = field(default=None, repr=False)
    _off: tuple[object, frozenset[str]] | None = field(default=None, repr=False)
    _active: tuple[object, bool] | None = field(default=None, repr=False)

    @classmethod
    def for_factory(cls, db: sa.Engine, factory: Any) -> RolloutPolicy:
        members: dict[str, list[str]] = {}
        for dept in getattr(factory, "departments", None) or ():
            for member in dept.members:
                members.setdefault(member, []).append(dept.id)
        users = getattr(factory, "users", None) or {}
        for user, entry in users.items():
            dept = entry.get("department") if isinstance(entry, dict) else None
            if dept:
                members.setdefault(str(user), []).append(str(dept))
        return cls(
            db=db,
            configured=dict(getattr(factory, "rollout", None) or {}),
            departments={m: tuple(d) for m, d in members.items()},
            known_departments=frozenset(d.id for d in getattr(factory, "departments", ()) or ()),
        )

    # -- reading -----------------------------------------------------------------

    def _latest(self, conn: sa.Connection) -> dict[str, RolloutState]:
        rows = conn.execute(
            sa.select(rollout_changes).order_by(rollout_changes.c.id)
        ).mappings()
        latest: dict[str, RolloutState] = {}
        for row in rows:
            latest[row["name"]] = RolloutState(
                row["name"], row["mode"], tuple(json.loads(row["departments"])), row["since"],
                source="change",
            )
        return latest

    def _changes(self, conn: sa.Connection | None = None) -> dict[str, RolloutState]:
        """The recorded changes (cached ``ttl`` seconds); read on ``conn`` inside a transaction,
        as a second connection could wait for the one the transaction holds."""
        now = time.monotonic()
        if self._cache is None or now - self._cache[0] > self.ttl:
            if conn is not None:
                self._cache = (now, self._latest(conn))
            else:
                with self.db.connect() as own:
                    self._cache = (now, self._latest(own))
        return self._cache[1]

    def states(self, names: Iterable[str] = ()) -> dict[str, RolloutState]:
        """Every name the factory or a change mentions, plus ``names`` (absent = all)."""
        latest = self._changes()
        result = {name: RolloutState(name) for name in names}
        result.update(self.configured)
        result.update(latest)
        return dict(sorted(result.items()))

    def state(self, name: str, conn: sa.Connection | None = None) -> RolloutState:
        changed = self._changes(conn).get(name)
        if changed is not None:
            return changed
        return self.configured.get(name) or RolloutState(name)

    def history(self, name: str | None = None) -> list[RolloutChange]:
        query = sa.select(rollout_changes).order_by(rollout_changes.c.id)
        if name is not None:
            query = query.where(rollout_changes.c.name == name)
        with self.db.connect() as conn:
            return [
                RolloutChange(
                    r["id"], r["name"], r["mode"], tuple(json.loads(r["departments"])),
                    r["since"], r["changed_by"], r["changed_at"], r["reason"],
                )  # fmt: skip
                for r in conn.execute(query).mappings()
            ]

    def departments_of(self, *people: str | None) -> set[str]:
        found: set[str] = set()
        for person in people:
            if person:
                found.update(self.departments.get(person, ()))
        return found

    def allows(self, name: str, *people: str | None, today: date | None = None) -> bool:
        """May ``name`` act for these people (an actor, a record's owner)?"""
        state = self.state(name)
        if state.mode == "all":
            return True
        return state.allows(self.departments_of(*people), today)

    def off_now(self) -> frozenset[str]:
        """Names that are `off`, from the YAML and the changes already read: no query, so
        safe to call while a transaction holds the database (e.g. building a hook caller)."""
        cache = self._cache
        if self._off is not None and self._off[0] is cache:
            return self._off[1]  # every hook call asks: the same changes give the same names
        states = dict(self.configured)
        if cache is not None:
            states.update(cache[1])
        off = frozenset(name for name, state in states.items() if state.mode == "off")
        self._off = (cache, off)
        return off

    def active(self, conn: sa.Connection | None = None) -> bool:
        """False while everything is `all`: the engine then skips every rollout check."""
        changes = self._changes(conn)
        known = self._active
        if known is not None and known[0] is changes:
            return known[1]  # every fire asks: the same changes give the same answer
        active = any(s.mode != "all" for s in self.configured.values()) or any(
            s.mode != "all" for s in changes.values()
        )
        self._active = (changes, active)
        return active

    def refusal(
        self,
        name: str,
        actor: str | None,
        record: Mapping[str, Any] | None = None,
        *,
        starter: str | None = None,
        today: date | None = None,
        conn: sa.Connection | None = None,
    ) -> str | None:
        """Why ``name`` must leave this start, event or fire alone; None when it may act.

        The department that decides is the actor's when the actor is a person of
        a department; otherwise (the system, a role name, a connector) it is the
        record's owner's: the `sales_rep` found in the record (or of the order
        its `order_id` names), else the person who started the instance.
        """
        state = self.state(name, conn)
        if state.mode == "all":
            return None
        if state.mode == "off":
            return f"{name} is off in this factory's rollout"
        who = actor if actor and self.departments.get(actor) else None
        if who is None:
            who = self._owner(record, conn) or starter
        if state.allows(self.departments_of(who), today):
            return None
        if state.since is not None and today is not None and today < state.since:
            return f"{name}'s pilot starts on {state.since.isoformat()}"
        depts = ", ".join(sorted(self.departments_of(who))) or "no department"
        return (
            f"{name} is in pilot for {', '.join(state.departments)}; "
            f"{who or 'this record'} is in {depts}"
        )

    def _owner(
        self, record: Mapping[str, Any] | None, conn: sa.Connection | None = None
    ) -> str | None:
        if not record:
            return None
        candidates = [record, *(v for v in record.values() if isinstance(v, Mapping))]
        for item in candidates:
            rep = item.get("sales_rep")
            if isinstance(rep, str) and rep:
                return rep
        for item in candidates:
            order_id = item.get("order_id")
            if order_id is not None:
                return self._order_rep(str(order_id), conn)
        return None

    def _order_rep(self, order_id: str, conn: sa.Connection | None = None) -> str | None:
        query = sa.text("SELECT sales_rep FROM orders WHERE order_id = :o")
        if conn is not None:
            rep = conn.execute(query, {"o": order_id}).scalar()
        else:
            with self.db.connect() as own:
                rep = own.execute(query, {"o": order_id}).scalar()
        return str(rep) if rep else None

    # -- writing -----------------------------------------------------------------

    def set(
        self,
        name: str,
        mode: str,
        departments: Iterable[str] = (),
        *,
        since: date | None = None,
        by: str,
        reason: str | None = None,
        now: datetime | None = None,
        roles: Iterable[str] | None = None,
    ) -> RolloutChange:
        """Record a change; it takes effect at once for every later start, event and fire.

        ``roles`` are the roles of the person ``by`` (checked against
        :data:`ROLLOUT_ROLES`); None means a trusted operator at the command line.
        """
        if roles is not None and not ROLLOUT_ROLES & set(roles):
            raise RefusedError(
                f"role: {by} may not change the rollout (allowed: "
                f"{', '.join(sorted(ROLLOUT_ROLES))})",
                reason="role",
            )
        depts = tuple(dict.fromkeys(str(d) for d in departments))
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}", field="mode")
        if mode == "pilot" and not depts:
            raise InputError("a pilot needs one or more departments", field="departments")
        if mode != "pilot" and depts:
            raise InputError(f"{mode!r} takes no departments", field="departments")
        unknown = [d for d in depts if self.known_departments and d not in self.known_departments]
        if unknown:
            raise InputError(
                f"unknown department {', '.join(map(repr, unknown))}; departments: "
                f"{', '.join(sorted(self.known_departments))}",
                field="departments",
            )
        if not by:
            raise InputError("say who makes the change (--as)", field="by")
        moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        with self.db.begin() as conn:
            new_id = inserted_id(conn.execute(
                rollout_changes.insert().values(
                    name=name, mode=mode, departments=json.dumps(list(depts)), since=since,
                    changed_by=by, changed_at=moment, reason=reason,
                )  # fmt: skip
            ))
        self._cache = None
        self._changes()  # read it back now: in this process the change takes effect at once
        return RolloutChange(int(new_id), name, mode, depts, since, by, moment, reason)


def rollout_names(engine: Any) -> list[str]:
    """Every workflow of the folder and every plugin the factory enables: what can be staged."""
    plugins = [name for name, plugin in engine.pm.list_name_plugin() if plugin is not None]
    enabled = set(engine.registry.enabled)
    return sorted(set(engine.catalog.ids()) | {p for p in plugins if p in enabled})
