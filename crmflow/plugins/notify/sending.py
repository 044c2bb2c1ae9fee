"""Send due deliveries once: claim, group, send, record; retries with backoff; the operator view."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import CrmflowError, NotFoundError

from .channels import Permanent, Transient, post_robot, send_mail
from .people import person
from .render import Content, content_of, mail_parts, markdown
from .tables import deliveries, messages

__all__ = ["MAX_ATTEMPTS", "delivery_log", "retry_failed", "send_due"]

log = logging.getLogger("crmflow.notify")

MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=5)
INTERRUPTED = (
    "interrupted while sending (the worker stopped): it may have arrived, so it is not sent "
    "again by itself; `crmflow notifications retry ID` sends it again"
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """5 s, 10 s, 20 s, 40 s: five tries within about a minute and a quarter.

    A ``Retry-After`` the service sent wins when longer (capped at 5 minutes).
    """
    seconds = 5.0 * 2 ** max(attempts - 1, 0)
    if retry_after:
        seconds = max(seconds, min(float(retry_after), 300.0))
    return timedelta(seconds=seconds)


def _claim(engine: Any, now: datetime, limit: int, message_id: int | None,
           ids: list[int] | None) -> list[Any]:  # fmt: skip
    d = deliveries
    with engine.db.begin() as conn:
        # At most once: a send cut off by a dying worker is never repeated by itself.
        conn.execute(d.update().where(d.c.status == "sending", d.c.claimed_until < now)
                     .values(status="failed", error=INTERRUPTED, claimed_by=None,
                             claimed_until=None))  # fmt: skip
        query = (sa.select(d).where(d.c.status.in_(("pending", "held")), d.c.due_at <= now)
                 .order_by(d.c.id).limit(limit))  # fmt: skip
        if message_id is not None:
            query = query.where(d.c.message_id == message_id)
        if ids is not None:
            query = query.where(d.c.id.in_(ids))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = conn.execute(query).all()
        if rows:
            conn.execute(d.update().where(d.c.id.in_([r.id for r in rows]))
                         .values(status="sending", claimed_by=engine.worker_id,
                                 claimed_until=now + LEASE))  # fmt: skip
    return rows


def _groups(rows: list[Any]) -> dict[tuple[Any, ...], list[Any]]:
    """One mail per person and message; one robot post per message (naming everyone due);
    one digest per person and channel for what waited (quiet hours, digest)."""
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        if row.batched:
            key: tuple[Any, ...] = ("digest", row.channel, row.person)
        elif row.channel == "mail":
            key = ("mail", row.person, row.message_id)
        else:
            key = ("robot", row.channel, row.message_id)
        groups.setdefault(key, []).append(row)
    return groups


def _send(engine: Any, rows: list[Any], now: datetime) -> None:
    first = rows[0]
    language = first.language
    with reading(engine.db) as conn:
        ids = sorted({r.message_id for r in rows})
        found = {m.id: m for m in conn.execute(sa.select(messages).where(messages.c.id.in_(ids)))}
        people = {name: person(engine, conn, name) for name in {r.person for r in rows}}
    items: list[Content] = [content_of(engine, found[i], language) for i in ids]
    config = dict((engine.factory.notify or {}).get(first.channel) or {})
    if first.channel == "mail":
        subject, text, html = mail_parts(items, language)
        send_mail(config, str(first.address), subject, text, html, language=language,
                  message_id=f"<notify-{first.id}@crmflow>", now=now)  # fmt: skip
        return
    names = list(dict.fromkeys(r.person for r in rows))  # in the order they were addressed
    title, body = markdown(items, language, names)
    mobiles = [people[n].mobile for n in names if people[n].mobile]
    post_robot(first.channel, config, title, body, urgent=any(i.urgent for i in items),
               mobiles=[m for m in mobiles if m], now=now)  # fmt: skip


def _finish(engine: Any, rows: list[Any], now: datetime, error: Exception | None) -> str:
    d = deliveries
    attempts = max(r.attempts for r in rows) + 1
    values: dict[str, Any] = {"attempts": attempts, "claimed_by": None, "claimed_until": None}
    if error is None:
        outcome = "sent"
        values.update(status="sent", sent_at=now, error=None)
    elif isinstance(error, Transient) and attempts < MAX_ATTEMPTS:
        outcome = "retrying"
        values.update(status="held" if rows[0].batched else "pending", error=str(error),
                      due_at=now + backoff(attempts, error.retry_after))  # fmt: skip
    else:
        outcome = "failed"
        reason = str(error)
        if isinstance(error, Transient):
            reason = f"gave up after {attempts} attempts: {reason}"
        values.update(status="failed", error=reason)
    with engine.db.begin() as conn:
        conn.execute(d.update().where(d.c.id.in_([r.id for r in rows]),
                                      d.c.status == "sending").values(**values))  # fmt: skip
    level = logging.INFO if outcome == "sent" else logging.WARNING
    log.log(level, "notify %s %s to %s: %s%s", rows[0].channel, [r.id for r in rows],
            sorted({r.person for r in rows}), outcome, f" ({error})" if error else "")
    return outcome


def send_due(
    engine: Any, now: datetime | None = None, *, message_id: int | None = None,
    ids: list[int] | None = None, limit: int = 200,
) -> dict[str, int]:  # fmt: skip
    """Send every delivery due by ``now`` once; return counts by outcome.

    A refusal that retrying cannot cure fails the delivery at once; a rate
    limit, 5xx or lost connection is retried with backoff, up to 5 attempts.
    One channel failing never resends another: each delivery is its own row.
    """
    when = _utc(now) if now else engine.now()
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    while True:
        rows = _claim(engine, when, limit, message_id, ids)
        for group in _groups(rows).values():
            error: Exception | None = None
            try:
                _send(engine, group, when)
            except (Permanent, Transient) as exc:
                error = exc
            except CrmflowError as exc:  # a template that no longer renders, say
                error = Permanent(str(exc))
            counts[_finish(engine, group, when, error)] += len(group)
        if len(rows) < limit:
            return counts


def retry_failed(engine: Any, delivery_id: int | None = None) -> list[int]:
    """Queue failed deliveries (one, or all) to be sent again now; return their ids."""
    d = deliveries
    query = sa.select(d.c.id).where(d.c.status == "failed")
    if delivery_id is not None:
        query = query.where(d.c.id == delivery_id)
    with engine.db.begin() as conn:
        ids = list(conn.execute(query).scalars())
        if ids:
            conn.execute(d.update().where(d.c.id.in_(ids), d.c.status == "failed").values(
                status="pending", attempts=0, due_at=engine.now(), batched=False,
                claimed_by=None, claimed_until=None,
            ))  # fmt: skip
    if delivery_id is not None and not ids:
        raise NotFoundError(f"no failed delivery {delivery_id}; `crmflow notifications "
                            "--failed` lists them")  # fmt: skip
    return ids


def delivery_log(engine: Any, *, user: str | None = None, failed: bool = False,
                 limit: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """What was sent, to whom, through which channel, and what failed (oldest first)."""
    d, m = deliveries, messages
    query = (sa.select(d, m.c.instance_id, m.c.urgent, m.c.link)
             .join(m, m.c.id == d.c.message_id).order_by(d.c.id))  # fmt: skip
    if user:
        query = query.where(d.c.person == user)
    if failed:
        query = query.where(d.c.status == "failed")
    if limit:
        query = query.order_by(None).order_by(d.c.id.desc()).limit(limit)
    with reading(engine.db) as conn:
        rows = list(conn.execute(query))
    if limit:
        rows.reverse()

    def iso(value: datetime | None) -> str | None:
        return _utc(value).isoformat() if value else None

    return [
        {"id": r.id, "to": r.person, "channel": r.channel, "status": r.status,
         "error": r.error, "text": r.text, "created_at": iso(r.created_at),
         "sent_at": iso(r.sent_at), "address": r.address, "attempts": r.attempts,
         "due_at": iso(r.due_at), "message_id": r.message_id, "instance_id": r.instance_id,
         "urgent": bool(r.urgent), "link": r.link}
        for r in rows
    ]  # fmt: skip
