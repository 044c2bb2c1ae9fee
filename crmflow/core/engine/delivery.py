"""Deliver a domain event: waiting instances first, then `start_on` rules."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import ExpressionError, RefusedError

from . import repository as repo
from .expressions import MissingField
from .results import EmitResult

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["emit", "emit_many"]

log = logging.getLogger("crmflow.events")
_MAX_OPEN_KEY = 500


def _render_key(template: Any, context: dict[str, Any]) -> str | None:
    try:
        value = template(context, strict=True)
    except MissingField:
        return None
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > _MAX_OPEN_KEY:  # the instances.open_key column; refused alike on every DB
        raise ExpressionError(
            f"key {getattr(template, 'source', '')!r} gives {len(text)} characters; at most "
            f"{_MAX_OPEN_KEY}"
        )
    return text


def emit(
    engine: Engine, event: str, payload: dict[str, Any], *, key: str | None, actor: str
) -> EmitResult:
    """Deliver ``event``; an event key already delivered returns the earlier result."""
    return emit_many(engine, [(event, payload, key)], actor=actor)[0]


def emit_many(
    engine: Engine, events: list[tuple[str, dict[str, Any], str | None]], *, actor: str
) -> list[EmitResult]:
    """Deliver events in order and log them in one transaction (imports, connectors).

    Each event is delivered as :func:`emit` would; only the event log is
    written once for the batch. A crash in between loses nothing: every fire
    and start it caused carries the event key, so delivering again is a no-op.
    """
    wanted = {(name, key) for name, _p, key in events if key is not None}
    earlier = _earlier(engine, wanted)
    for wanted_name, wanted_key in sorted(wanted):
        other = earlier.get(("", wanted_key))
        if (wanted_name, wanted_key) not in earlier and other is not None:
            raise RefusedError(f"key {wanted_key} was used for {other.event}", reason="key")
    results: list[EmitResult] = []
    delivered: list[tuple[str, dict[str, Any], str | None, EmitResult]] = []
    for name, payload, key in events:
        if key is not None and (name, key) in earlier:
            results.append(earlier[(name, key)])
            continue
        result = _deliver(engine, name, payload, key, actor)
        results.append(result)
        delivered.append((name, payload, key, result))
        if key is not None:  # the same key twice in one batch: the second is a repeat
            earlier[(name, key)] = EmitResult(name, result.started, result.moved, duplicate=True)
    _record(engine, delivered, actor)
    return results


def _deliver(
    engine: Engine, event: str, payload: dict[str, Any], key: str | None, actor: str
) -> EmitResult:
    engine.hook("on_event")(engine=engine, event=event, payload=payload)
    now = engine.now()
    result = EmitResult(event)
    context = engine.expression_context({}, payload, None, now)
    fire_key = f"event:{event}:{key}" if key is not None else None
    checking = engine.rollout.active()
    for definition in engine.catalog.definitions():
        if checking and engine.rollout.refusal(
            definition.id, actor, payload, today=engine.today(now)
        ):
            continue  # off, or in pilot for other departments: as if it did not exist
        entity = definition.entity or "event"
        targets = _waiting(engine, definition, event, payload, context)
        for iid in targets:
            fired = engine.fire(iid, event, payload, key=fire_key, actor=actor, now=now)
            if fired.taken and not fired.duplicate and iid not in result.moved:
                result.moved.append(iid)
        for rule in definition.start_on:
            if rule.event != event:
                continue
            try:
                if rule.when is not None and not rule.when(context):
                    continue
            except MissingField as missing:
                log.info(
                    "start_on %s of %s skipped: field %s missing",
                    event,
                    definition.id,
                    missing.field,
                )
                continue
            open_key = _render_key(rule.unique, context) if rule.unique is not None else None
            if rule.unique is not None and open_key is None:
                raise ExpressionError(
                    f"workflow {definition.id!r}: the unique key of start_on {event!r} is "
                    "empty for this event; check the event payload"
                )
            if open_key is not None and _open_instance(engine, definition.id, open_key):
                continue  # one open instance per key; the event went to it above
            iid, created = engine.start_new(
                definition.id,
                {entity: payload},
                actor=actor,
                key=f"{event}:{key}" if key is not None else None,
                open_key=open_key,
                now=now,
            )
            if created and iid not in result.started:
                result.started.append(iid)
            break
    return result


def _waiting(
    engine: Engine, definition: Any, event: str, payload: dict[str, Any],
    context: dict[str, Any],
) -> list[int]:  # fmt: skip
    """Open instances of this workflow the event is addressed to."""
    if not definition.accepts(event):
        return []
    i = repo.instances
    targets: list[int] = []
    if isinstance(payload.get("instance_id"), int):
        with reading(engine.db) as conn:
            found = conn.execute(
                sa.select(i.c.id).where(
                    i.c.id == payload["instance_id"],
                    i.c.workflow == definition.id,
                    i.c.finished.is_(False),
                )  # fmt: skip
            ).scalar()
        return [int(found)] if found is not None else []
    templates = [definition.correlate[event]] if event in definition.correlate else []
    templates += [r.unique for r in definition.start_on if r.event == event and r.unique]
    for template in templates:
        open_key = _render_key(template, context)
        if open_key is None:
            continue
        found = _open_instance(engine, definition.id, open_key)
        if found is not None and found not in targets:
            targets.append(found)
    return targets


def _open_instance(engine: Engine, workflow: str, open_key: str) -> int | None:
    i = repo.instances
    with reading(engine.db) as conn:
        found = conn.execute(
            sa.select(i.c.id).where(i.c.workflow == workflow, i.c.open_key == open_key)
        ).scalar()
    return int(found) if found is not None else None


def _earlier(
    engine: Engine, wanted: set[tuple[str, str]]
) -> dict[tuple[str, str], EmitResult]:
    """Results of keyed events delivered before, by (event, key)."""
    found: dict[tuple[str, str], EmitResult] = {}
    if not wanted:
        return found
    e = repo.events
    keys = sorted({key for _name, key in wanted})
    with reading(engine.db) as conn:
        for start in range(0, len(keys), 500):  # bounded IN lists on every database
            rows = conn.execute(
                sa.select(e.c.name, e.c.key, e.c.result).where(e.c.key.in_(keys[start:start + 500]))
            )
            for row in rows:
                if (row.name, row.key) not in wanted:
                    # the same key delivered another event: emit refuses to reuse it
                    found.setdefault(("", row.key), EmitResult(row.name, duplicate=True))
                else:
                    stored = json.loads(row.result or "{}")
                    found[(row.name, row.key)] = EmitResult(
                        row.name, stored.get("started", []), stored.get("moved", []),
                        duplicate=True,
                    )  # fmt: skip
    return found


def _record(
    engine: Engine, delivered: list[tuple[str, dict[str, Any], str | None, EmitResult]],
    actor: str,
) -> None:  # fmt: skip
    """Log delivered events in one transaction; row by row if a key raced us."""
    if not delivered:
        return
    now = engine.now()
    rows = [
        {
            "name": name, "key": key, "payload": repo.dumps(payload), "actor": actor, "at": now,
            "result": repo.dumps({"started": result.started, "moved": result.moved}),
        }
        for name, payload, key, result in delivered
    ]  # fmt: skip
    try:
        with engine.db.begin() as conn:
            conn.execute(repo.events.insert(), rows)
    except sa.exc.IntegrityError:
        for row in rows:
            try:
                with engine.db.begin() as conn:
                    conn.execute(repo.events.insert(), [row])
            except sa.exc.IntegrityError:
                pass  # delivered concurrently by another process; both deliveries were no-ops
