"""Move running instances of a workflow to another version, one transaction per instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import InputError

from . import repository as repo
from . import subflows
from .dbapi import dbapi_errors
from .groupcommit import Batch
from .regions import carried_regions, entry_names, load_regions, open_states, regions_json
from .sqlstatements import statements
from .timing import due_after, every_name, timer_rows

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike

__all__ = ["MigrationReport", "migrate_instances"]


@dataclass
class MigrationReport:
    """What ``migrate-instances`` moved, and what it left where it was (and why)."""

    workflow: str
    to_version: int
    dry_run: bool
    moved: list[dict[str, Any]] = field(default_factory=list)
    left: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow, "to_version": self.to_version, "dry_run": self.dry_run,
            "moved": self.moved, "left": self.left,
        }  # fmt: skip


def migrate_instances(
    engine: EngineLike, workflow: str, to_version: int, mapping: dict[str, str] | None = None,
    *, dry_run: bool = False, actor: str | None = None,
) -> MigrationReport:  # fmt: skip
    """Move every open instance of ``workflow`` to ``to_version``.

    A state of the same name carries over; ``mapping`` renames the rest. An
    instance whose state has no counterpart stays where it is and is listed.
    Each move writes a history row (``trigger: migrate``) and re-arms the
    state's timers in the new version, in the instance's own transaction.
    """
    mapping = dict(mapping or {})
    target = engine.catalog.definition(workflow, to_version)
    for old, new in mapping.items():
        if new not in target.states:
            raise InputError(
                f"{old}={new}: version {to_version} of {workflow!r} has no state {new!r}",
                field="--map",
            )
    if not dry_run:
        engine.catalog.remember(engine.db, target)
    report = MigrationReport(workflow, to_version, dry_run)
    i = repo.instances
    with reading(engine.db) as conn:
        rows = conn.execute(
            sa.select(i.c.id, i.c.version, i.c.state, i.c.regions)
            .where(i.c.workflow == workflow, i.c.finished.is_(False), i.c.version != to_version)
            .order_by(i.c.id)
        ).all()
    for row in rows:
        state = mapping.get(row.state, row.state)
        item = {"id": row.id, "from_version": row.version, "from": row.state, "to": state}
        if state not in target.states:
            item["reason"] = (
                f"version {to_version} has no state {row.state!r}; give --map {row.state}=STATE"
            )
            report.left.append(item)
            continue
        _regions, missing = _mapped_regions(target, row.state, state, row.regions, mapping)
        if missing is not None:
            item["reason"] = (
                f"version {to_version} has no state {missing!r}; give --map {missing}=STATE"
            )
            report.left.append(item)
            continue
        if not dry_run and not _move(engine, target, row.id, row.version, row.state, state,
                                     actor, mapping):  # fmt: skip
            item["reason"] = "the instance moved or finished meanwhile; run the command again"
            report.left.append(item)
            continue
        report.moved.append(item)
    return report


def _mapped_regions(
    target: Any, old: str, new: str, stored: Any, renamed: dict[str, str]
) -> tuple[dict[str, str] | None, str | None]:
    """The regions an instance in ``old`` keeps in ``new`` (version N's names), or the first
    region state that has no counterpart there (then the instance stays where it is).

    A region state of the same name carries over, ``--map`` renames it (dotted names); a
    region that version N no longer has is dropped, one it added starts at its initial.
    """
    parallel = target.states[new].parallel
    regions = load_regions(stored)
    if parallel is None or not regions:
        return regions, None
    names = {r.name for r in parallel.regions}
    kept: dict[str, str] = {}
    for region, short in regions.items():
        was = f"{old}.{region}.{short}"
        now = renamed.get(was, f"{new}.{region}.{short}")
        inner, _, rest = now.removeprefix(f"{new}.").partition(".")
        if now.startswith(f"{new}.") and now in target.states and rest:
            kept[inner] = rest
        elif region in names:
            return None, was
    return kept, None


def _region_entered(conn: sa.Connection, iid: int, state: str, entered: Any) -> Any:
    """When a region's state was entered (for its deadline): its last entry, or the parallel
    state's (``entered``) when the region started there."""
    h = repo.history
    last = conn.execute(
        sa.select(sa.func.max(h.c.at)).where(h.c.instance_id == iid, h.c.to_state == state)
    ).scalar()
    return entered if last is None else max(entered, repo.utc(last))


def _since_bases(
    conn: sa.Connection, target: Any, iid: int, started: Any, new: str, entered: Any,
    renamed: dict[str, str],
) -> dict[str, Any]:  # fmt: skip
    """Where the `since:` timers of ``new`` count from: the start, or the first entry into
    their state (under its old name too, when ``--map`` renamed it)."""
    found = {"start": started}
    h = repo.history
    for timer in target.timers_for(new):
        name = timer.since
        if name is None or name in found:
            continue
        names = [n for entered in entry_names(target, name)
                 for n in (entered, *(old for old, to in renamed.items() if to == entered))]
        first = conn.execute(
            sa.select(sa.func.min(h.c.at)).where(h.c.instance_id == iid, h.c.to_state.in_(names))
        ).scalar()
        if first is not None:
            found[name] = repo.utc(first)
        elif name == new:
            found[name] = entered
    return found


def _region_moves(
    old: str, new: str, stored: Any, regions: dict[str, str] | None, renamed: dict[str, str]
) -> dict[str, str]:
    """The dotted region states that carried over (old name -> new name)."""
    moves: dict[str, str] = {}
    for region, short in (load_regions(stored) or {}).items():
        was = f"{old}.{region}.{short}"
        now = renamed.get(was, f"{new}.{region}.{short}")
        if regions is not None and now == f"{new}.{region}.{regions.get(region)}":
            moves[was] = now
    return moves


def _every_counts(
    conn: sa.Connection, source: Any, iid: int, moves: dict[str, str]
) -> dict[tuple[str, str], tuple[int, datetime, bool]]:
    """The `every:` timers that keep counting in version N, by (new state, trigger): the
    number of their next firing, its due time, and whether that row was armed (False: the
    old version's `max` was used up; the due time is then the last firing's).

    A timer is known by its trigger: its index may differ between versions.
    """
    t, h = repo.timers, repo.history
    found: dict[tuple[str, str], tuple[int, datetime, bool]] = {}
    armed: set[str] = set()
    for row in conn.execute(
        sa.select(t.c.name, t.c.due, t.c.state, t.c.trigger)
        .where(t.c.instance_id == iid, t.c.kind == "every")
    ):  # fmt: skip
        name, _, count = row.name.rpartition(":")
        armed.add(name)
        if row.state in moves:
            found[(moves[row.state], row.trigger)] = (int(count), repo.utc(row.due), True)
    for timer in source.timers:
        states = [s for s in moves if s in timer.states]
        if timer.every is None or timer.name in armed or not states:
            continue
        key = conn.execute(
            sa.select(h.c.key)
            .where(h.c.instance_id == iid, h.c.key.like(f"timer:%:{timer.name}:%"))
            .order_by(h.c.id.desc())
            .limit(1)
        ).scalar()  # the last firing (a timer's key: timer:ROW:every:INDEX:COUNT:DUE)
        if key is not None:
            count, last = key.split(":", 5)[4:]
            found[(moves[states[0]], timer.trigger)] = (
                int(count) + 1, datetime.fromisoformat(last), False)  # fmt: skip
    return found


def _keep_counting(
    engine: EngineLike, target: Any, rows: list[dict[str, Any]],
    counted: dict[tuple[str, str], tuple[int, datetime, bool]], now: datetime,
) -> list[dict[str, Any]]:  # fmt: skip
    """``rows`` with each `every:` timer that fired before the move counting on: its next
    firing keeps its number and due time, and a timer past version N's `max` is not armed."""
    kept: list[dict[str, Any]] = []
    for r in rows:
        carried = counted.get((r["state"], r["trigger"])) if r["kind"] == "every" else None
        if carried is not None:
            index = int(r["name"].split(":")[1])
            timer = next(t for t in target.timers if t.index == index)
            count, due, armed = carried
            if timer.max is not None and count > timer.max:
                continue
            while not armed and due <= now:  # used up before: the next period from now on
                due = due_after(engine, due, timer.every, timer.calendar)
            r = {**r, "name": every_name(timer, count), "due": due}
        kept.append(r)
    return kept


def _move(
    engine: EngineLike, target: Any, iid: int, version: int, old: str, new: str,
    actor: str | None, renamed: dict[str, str],
) -> bool:  # fmt: skip
    i = repo.instances
    now = engine.now()
    with engine.db.begin() as conn:
        row = repo.select_instance(conn, iid, lock=True)
        if row is None or row.finished or row.version != version or row.state != old:
            return False
        final = target.states[new].final
        changed = new != old
        carried, missing = _mapped_regions(target, old, new, getattr(row, "regions", None),
                                           renamed)  # fmt: skip
        if missing is not None:
            return False  # a region moved meanwhile to a state version N lacks
        regions = carried_regions(target, new, carried)
        conn.execute(
            i.update()
            .where(i.c.id == iid, i.c.rev == row.rev)
            .values(
                version=target.version,
                state=new,
                rev=row.rev + 1,
                updated_at=now,
                entered_at=now if changed else row.entered_at,
                finished=final,
                open_key=None if final else row.open_key,
                regions=regions_json(regions),
            )  # fmt: skip
        )
        repo.insert_history(
            conn, iid=iid, trigger="migrate", from_state=old, to_state=new, actor=actor,
            at=now, payload={"from_version": version, "to_version": target.version}, key=None,
        )  # fmt: skip
        repo.delete_timers(conn, iid)
        # the version the instance migrates from
        source = engine.catalog.get(conn, target.id, version).definition
        if not final:
            entered = now if changed else repo.utc(row.entered_at)
            started = repo.utc(row.created_at)
            since = _since_bases(conn, target, iid, started, new, entered, renamed)
            rows = timer_rows(engine, iid, target, new, entered, since)
            for region_state in open_states(target, new, regions):  # a parallel state's
                at = now if region_state in renamed.values() else _region_entered(
                    conn, iid, region_state, entered)  # fmt: skip
                rows += timer_rows(engine, iid, target, region_state, at, _since_bases(
                    conn, target, iid, started, region_state, at, renamed))
            moves = {old: new, **_region_moves(old, new, getattr(row, "regions", None),
                                               regions, renamed)}  # fmt: skip
            counted = _every_counts(conn, source, iid, moves)
            repo.insert_timers(conn, _keep_counting(engine, target, rows, counted, now))
        called = source.states[old].call
        now_calls = target.states[new].call
        kept = bool(not changed and now_calls and called and now_calls.workflow == called.workflow)
        if (called is not None and not kept) or row.parent_id is not None:
            _follow_calls(engine, conn, iid, old if called is not None and not kept else None,
                          actor, now)  # fmt: skip
    return True


def _follow_calls(
    engine: EngineLike, conn: sa.Connection, iid: int, left: str | None, actor: str | None,
    now: Any,
) -> None:  # fmt: skip
    """Sub-workflows around a migrated instance: it left a call state (its open children
    are cancelled), or it is a child (its entry in the parent's data follows)."""
    cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with dbapi_errors(conn.dialect):
            batch = Batch(engine, conn, statements(conn), cur, now)
            inst = batch.reload(iid, lock=True)
            assert inst is not None
            items = [(c, left) for c in subflows.open_children(batch, iid)] if left else []
            subflows.after_apply(batch, inst, items, actor)
            batch.flush()
    finally:
        cur.close()
