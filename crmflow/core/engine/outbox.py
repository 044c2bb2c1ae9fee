"""Run queued side effects after the commit: retries, backoff, dead letters."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import NotFoundError

from . import repository as repo
from .actionrun import held_back
from .backoff import backoff
from .context import ActionContext
from .inbox import deliver, enqueue

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["backoff", "claim_outbox", "retry_dead", "run_outbox"]

log = logging.getLogger("crmflow.outbox")

LEASE = timedelta(minutes=5)


def claim_outbox(
    engine: Engine, now: datetime, limit: int, lease: timedelta = LEASE
) -> list[Any]:
    """Lease due rows to this worker; a worker that dies loses them when the lease ends."""
    o = repo.outbox
    due = (
        (o.c.status == "pending")
        & (o.c.next_attempt_at <= now)
        & (o.c.claimed_until.is_(None) | (o.c.claimed_until < now))
    )
    query = sa.select(o).where(due).order_by(o.c.next_attempt_at, o.c.id).limit(limit)
    with engine.db.begin() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(conn.execute(query).all())
        if rows:
            conn.execute(
                o.update()
                .where(o.c.id.in_([r.id for r in rows]))
                .values(claimed_by=engine.worker_id, claimed_until=now + lease)
            )
    return rows


def run_outbox(
    engine: Engine, now: datetime | None = None, limit: int = 100, *,
    lease: timedelta = LEASE, rounds: int | None = None,
) -> int:  # fmt: skip
    """Attempt every due outbox row once; return how many were attempted.

    ``rounds`` bounds the number of claimed batches (a worker interleaves work).
    """
    now = repo.utc(now) if now else engine.now()
    attempted = 0
    while rounds is None or rounds > 0:
        if rounds is not None:
            rounds -= 1
        rows = claim_outbox(engine, now, limit, lease)
        for row in rows:
            _attempt(engine, row, now)
        attempted += len(rows)
        if len(rows) < limit:
            return attempted
    return attempted


def _attempt(engine: Engine, row: Any, now: datetime) -> None:
    o = repo.outbox
    registered = engine.registry.actions.get(row.action)
    instance = None
    with reading(engine.db) as conn:
        if row.instance_id is not None:
            instance = repo.select_instance(conn, row.instance_id)
    try:
        if registered is None:
            raise LookupError(f"action {row.action!r} is no longer registered by any plugin")
        ctx = ActionContext(
            engine=engine,
            instance_id=row.instance_id,
            workflow=instance.workflow if instance else None,
            state=instance.state if instance else None,
            data=json.loads(instance.data) if instance else {},
            actor="system",
            idempotency_key=row.key,
            now=now,
            settings=engine.plugin_settings(registered.plugin),
            started_by=instance.created_by if instance else None,
            started_at=repo.utc(instance.created_at) if instance else None,
        )
        refused = held_back(engine, registered.plugin, ctx.actor, ctx.data, ctx.started_by, now)
        if refused is not None:  # the plugin is off, or in pilot for other departments
            result = {"skipped": f"rollout: {refused}"}
        else:
            result = registered.obj(ctx, **json.loads(row.params))
    except Exception as exc:  # any failure of another system is retried, then dead-lettered
        attempts = row.attempts + 1
        dead = attempts >= row.max_attempts
        error = f"{type(exc).__name__}: {exc}"
        with engine.db.begin() as conn:
            conn.execute(
                o.update()
                .where(o.c.id == row.id, o.c.claimed_by == engine.worker_id)
                .values(
                    attempts=attempts,
                    status="dead" if dead else "pending",
                    last_error=error,
                    next_attempt_at=now if dead else now + backoff(attempts),
                    claimed_by=None,
                    claimed_until=None,
                )
            )
        (log.error if dead else log.warning)(
            "outbox %s (%s) attempt %s/%s failed: %s%s", row.id, row.action, attempts,
            row.max_attempts, error, "; dead-lettered" if dead else "",
        )  # fmt: skip
        return
    event = registered.option("event")
    follow_up = _complete(engine, row, result, now, str(event) if event else None)
    if follow_up is not None:

        deliver(engine, follow_up, now)


def _complete(
    engine: Engine, row: Any, result: Any, now: datetime, event: str | None = None
) -> int | None:
    """Mark done, keep `save_as` and queue the follow-up ``event``, in one transaction.

    The follow-up is an inbox row keyed by the outbox row, so it is delivered
    once even when this worker dies right after the commit. Returns its row id.
    """

    o = repo.outbox
    for _attempt_no in range(8):
        follow_up = None
        with engine.db.begin() as conn:
            done = conn.execute(
                o.update()
                .where(o.c.id == row.id, o.c.status == "pending")
                .values(
                    status="done",
                    result=repo.dumps(result),
                    done_at=now,
                    attempts=row.attempts + 1,
                    claimed_by=None,
                    claimed_until=None,
                )
            ).rowcount
            if done != 1:
                return None
            if event:
                payload = dict(result) if isinstance(result, dict) else {"result": result}
                payload.setdefault("instance_id", row.instance_id)
                follow_up = enqueue(
                    engine, event=event, data=payload, key=row.key, actor="system", conn=conn
                )
            if not row.save_as or row.instance_id is None:
                return follow_up
            inst = repo.select_instance(conn, row.instance_id)
            if inst is None:
                return follow_up
            data = json.loads(inst.data)
            data[row.save_as] = result
            changed = conn.execute(
                repo.instances.update()
                .where(repo.instances.c.id == inst.id, repo.instances.c.rev == inst.rev)
                .values(data=repo.dumps(data), rev=inst.rev + 1, updated_at=now)
            ).rowcount
            if changed == 1:
                return follow_up
            conn.rollback()
    log.error("outbox %s: could not store its result on instance %s", row.id, row.instance_id)
    return None


def retry_dead(engine: Engine, outbox_id: int | None = None) -> int:
    """Put dead-lettered rows (one, or all) back in the queue; return how many."""
    o = repo.outbox
    query = o.update().where(o.c.status == "dead")
    if outbox_id is not None:
        query = query.where(o.c.id == outbox_id)
    with engine.db.begin() as conn:
        count = conn.execute(
            query.values(
                status="pending",
                attempts=0,
                next_attempt_at=engine.now(),
                claimed_by=None,
                claimed_until=None,
            )
        ).rowcount
    if outbox_id is not None and count == 0:
        raise NotFoundError(
            f"no dead-lettered outbox row {outbox_id}; `crmflow outbox list "
            "--status dead` shows them"
        )
    return int(count)
