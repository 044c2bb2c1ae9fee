"""Prune or archive finished instances by age; nothing of an open instance is touched."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import repository as repo
from .inbox import inbox

if TYPE_CHECKING:  # pragma: no cover
    from .ports import EngineLike as Engine

__all__ = ["Pruned", "prune"]

log = logging.getLogger("crmflow.prune")

_BATCH = 500


@dataclass
class Pruned:
    """What a prune removed (and archived, when asked)."""

    instances: int = 0
    history: int = 0
    outbox: int = 0
    inbox: int = 0
    events: int = 0
    archive: str | None = None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _archive_line(conn: sa.Connection, iid: int) -> dict[str, Any] | None:
    inst = repo.load_instance(conn, iid)
    if inst is None:
        return None
    record = inst.as_json()
    record["history"] = [
        {**h.as_json(), "id": h.id, "payload": h.payload, "key": h.key} for h in inst.history
    ]
    o = repo.outbox
    record["outbox"] = [
        {
            "id": r.id, "action": r.action, "key": r.key, "status": r.status,
            "attempts": r.attempts, "params": json.loads(r.params),
            "result": json.loads(r.result) if r.result else None, "last_error": r.last_error,
        }  # fmt: skip
        for r in conn.execute(sa.select(o).where(o.c.instance_id == iid).order_by(o.c.id))
    ]
    return record


def prune(
    engine: Engine, older_than: timedelta, *, now: datetime | None = None,
    archive: str | Path | None = None, dry_run: bool = False,
) -> Pruned:  # fmt: skip
    """Remove finished instances untouched for ``older_than``, with all their rows.

    With ``archive`` every instance (data, history with payloads, outbox rows)
    is appended to that JSON Lines file before it is deleted, in the same batch.
    Done inbox rows and delivered-event records older than the cutoff go too.
    """
    now = repo.utc(now) if now else engine.now()
    cutoff = now - older_than
    i = repo.instances
    done = Pruned(archive=str(archive) if archive else None)
    out = Path(archive).open("a", encoding="utf-8") if archive and not dry_run else None
    try:
        while True:
            with engine.db.begin() as conn:
                ids = [
                    int(x)
                    for x in conn.execute(
                        sa.select(i.c.id)
                        .where(i.c.finished == sa.true(), i.c.updated_at < cutoff)
                        .order_by(i.c.id)
                        .limit(_BATCH)
                    ).scalars()
                ]
                if dry_run:
                    done.instances = int(
                        conn.execute(
                            sa.select(sa.func.count()).where(
                                i.c.finished == sa.true(), i.c.updated_at < cutoff
                            )
                        ).scalar_one()
                    )
                    return done
                if not ids:
                    break
                if out is not None:
                    for iid in ids:
                        line = _archive_line(conn, iid)
                        if line is not None:
                            out.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")
                    out.flush()
                done.history += _delete(conn, repo.history, repo.history.c.instance_id, ids)
                done.outbox += _delete(conn, repo.outbox, repo.outbox.c.instance_id, ids)
                _delete(conn, repo.timers, repo.timers.c.instance_id, ids)
                _delete(conn, repo.notifications, repo.notifications.c.instance_id, ids)
                # `finished` again: an instance is never deleted unless it is finished.
                done.instances += conn.execute(
                    i.delete().where(i.c.id.in_(ids), i.c.finished == sa.true())
                ).rowcount
        with engine.db.begin() as conn:
            done.inbox = conn.execute(
                inbox.delete().where(
                    inbox.c.status.in_(("done", "refused")), inbox.c.done_at < cutoff
                )
            ).rowcount
            done.events = conn.execute(
                repo.events.delete().where(repo.events.c.at < cutoff)
            ).rowcount
    finally:
        if out is not None:
            out.close()
    if done.instances:
        log.info(
            "pruned %s finished instances older than %s (%s history rows)%s",
            done.instances, cutoff.isoformat(), done.history,
            f", archived to {archive}" if archive else "",
        )  # fmt: skip
    return done


def _delete(conn: sa.Connection, table: sa.Table, column: Any, ids: list[int]) -> int:
    return int(conn.execute(table.delete().where(column.in_(ids))).rowcount)
