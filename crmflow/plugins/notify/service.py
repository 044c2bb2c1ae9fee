"""The notifications API: write a message and its deliveries; a person's inbox and choices."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import InputError, NotFoundError

from .channels import ROBOTS
from .people import Person, check_choices, person, resolve
from .render import content_of
from .schedule import hold_until
from .sending import send_due
from .tables import deliveries, messages, preferences

__all__ = [
    "LIVE_CHANNEL",
    "OUTSIDE",
    "announce",
    "inbox",
    "mark_all_read",
    "mark_read",
    "notify",
    "preferences_of",
    "set_preferences",
    "unread_count",
    "write_message",
    "Written",
]

log = logging.getLogger("crmflow.notify")

#: the channels a message may name besides the in-app inbox
OUTSIDE = ("mail", *ROBOTS)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _channels(channels: Any) -> list[str]:
    names = channels if isinstance(channels, list | tuple) else (
        [c.strip() for c in str(channels).split(",")] if channels else []
    )  # fmt: skip
    for name in names:
        if name not in (*OUTSIDE, "inapp"):
            raise InputError(f"unknown channel {name!r}; use {', '.join(OUTSIDE)}",
                             field="channels")  # fmt: skip
    return ["mail", *[str(n) for n in names if n not in ("mail", "inapp")]]


def _flag(value: Any) -> bool:
    """``urgent`` from YAML or a template: "false", "no", "0" and "" are false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0", "off", "none")
    return bool(value)


def _link(link: Any, instance_id: int | None) -> str | None:
    if link in (None, ""):
        return f"/instances/{instance_id}" if instance_id is not None else None
    text = str(link).strip()
    if not (text.startswith("/") and not text.startswith("//")) and not text.startswith(
        ("https://", "http://")
    ):
        raise InputError(f"link {text!r} must be a path of the app (/orders/SO-1) or an "
                         "http(s) address", field="link")  # fmt: skip
    return text


#: the channel the web app's live streams LISTEN on (crmflow.admin.live.CHANNEL)
LIVE_CHANNEL = "crmflow_history"


def _wake_streams(conn: sa.Connection) -> None:
    """On PostgreSQL, tell every app process's live stream (at commit) that a person's
    notifications changed; on SQLite the one serving process looks each second."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_notify(LIVE_CHANNEL, "notification")))


def _configured(engine: Any, channel: str) -> bool:
    return isinstance((engine.factory.notify or {}).get(channel), dict)


def _rows_for(engine: Any, who: Person, message: Any, channels: list[str],
              now: datetime) -> list[dict[str, Any]]:  # fmt: skip
    text = content_of(engine, message, who.language).title
    base = {"message_id": message.id, "person": who.name, "language": who.language,
            "text": text, "attempts": 0, "created_at": now}  # fmt: skip
    rows = [{**base, "channel": "inapp", "status": "sent", "batched": False, "due_at": now,
             "sent_at": now, "attempts": 1}]  # fmt: skip
    batched, due = hold_until(now, who.timezone, quiet=who.quiet_hours, digest=who.digest,
                              urgent=bool(message.urgent))  # fmt: skip
    for channel in channels:
        if not who.wants(channel):
            continue
        row = {**base, "channel": channel, "batched": batched, "due_at": due,
               "status": "held" if batched else "pending"}  # fmt: skip
        if channel == "mail":
            if not _configured(engine, "mail") or not who.email:
                continue  # no mail server, or no address: the inbox is their channel
            row["address"] = who.email
        elif not _configured(engine, channel):
            row.update(status="failed", error=f"{channel} is not configured in the factory's "
                       "notify: section", due_at=now, batched=False)  # fmt: skip
        rows.append(row)
    return rows


class Written(NamedTuple):
    """What :func:`write_message` wrote."""

    message_id: int
    persons: list[str]
    created: bool  # False: a message with this key existed, nothing was written
    due_now: bool  # an outside delivery may go out now (else nothing to send yet)


def write_message(
    engine: Any, conn: sa.Connection, *, key: str, to: Any, text: Any = None,
    template: str | None = None, params: dict[str, Any] | None = None, link: Any = None,
    urgent: bool = False, channels: Any = None, instance_id: int | None = None,
    workflow: str | None = None, now: datetime,
) -> Written:  # fmt: skip
    """Write a message and one delivery per person and channel in ``conn``'s transaction.

    A message with ``key`` written before is not written again (``created`` is
    False): a retry never doubles.
    """
    found = conn.execute(sa.select(messages.c.id).where(messages.c.key == key)).first()
    if found is not None:
        persons = conn.execute(
            sa.select(deliveries.c.person).where(
                deliveries.c.message_id == found.id, deliveries.c.channel == "inapp"
            ).order_by(deliveries.c.id)
        ).scalars().all()
        return Written(int(found.id), list(persons), False, True)
    names = resolve(engine, to, conn)
    if (text in (None, "")) == (not template):
        raise InputError("notify needs either 'text' or 'template' (with 'params')", field="text")
    if params is not None and not isinstance(params, dict):
        raise InputError("params must be a mapping of names to values", field="params")
    wanted = _channels(channels)
    values = {
        "key": key, "instance_id": instance_id, "workflow": workflow,
        "text": None if text in (None, "") else json.dumps(text, ensure_ascii=False, default=str),
        "template": template or None, "params": json.dumps(params or {}, default=str),
        "link": _link(link, instance_id), "urgent": _flag(urgent),
        "addressed_to": json.dumps(to if isinstance(to, list) else [to], default=str),
        "created_at": now,
    }  # fmt: skip
    message_id = int(conn.execute(messages.insert().values(**values).returning(messages.c.id))
                     .scalar_one())  # fmt: skip
    message = conn.execute(sa.select(messages).where(messages.c.id == message_id)).one()
    rows = [r for name in names for r in _rows_for(engine, person(engine, conn, name), message,
                                                    wanted, now)]  # fmt: skip
    conn.execute(deliveries.insert(), [
        {"address": None, "error": None, "sent_at": None, **r} for r in rows
    ])  # fmt: skip
    _wake_streams(conn)
    due_now = any(r["status"] == "pending" for r in rows)
    return Written(message_id, names, True, due_now)


def announce(engine: Any, message_id: int) -> None:
    """Tell this process's `on_notification` listeners about new in-app notifications."""
    hook = engine.hook("on_notification")
    if not hook.get_hookimpls():
        return
    for item in reversed(_inbox_rows(engine, message_id=message_id)):  # in address order
        try:
            hook(engine=engine, notification=item)
        except Exception:  # a listener must not undo a written notification
            log.exception("on_notification hook failed for notification %s", item["id"])


def notify(
    engine: Any, to: Any, text: Any = None, *, template: str | None = None,
    params: dict[str, Any] | None = None, link: str | None = None, urgent: bool = False,
    channels: Any = None, key: str | None = None, instance_id: int | None = None,
    send: bool = True,
) -> int:  # fmt: skip
    """Notify people, roles or departments from Python (a plugin's job, a command).

    Writes the message in its own transaction (``key`` makes a repeat a no-op),
    then sends what may go out now unless ``send=False`` (the workers send the
    rest). Returns the message id.
    """
    now = engine.now()
    with engine.db.begin() as conn:
        written = write_message(
            engine, conn, key=key or f"api:{uuid.uuid4().hex}", to=to, text=text,
            template=template, params=params, link=link, urgent=urgent, channels=channels,
            instance_id=instance_id, now=now,
        )  # fmt: skip
    if written.created:
        announce(engine, written.message_id)
    if send and written.due_now:
        send_due(engine, now, message_id=written.message_id)
    return written.message_id


def _inbox_rows(engine: Any, *, person_name: str | None = None, message_id: int | None = None,
                unread: bool = False, limit: int | None = None,
                before: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    d, m = deliveries, messages
    query = (
        sa.select(d.c.id, d.c.person, d.c.text, d.c.created_at, d.c.read_at, m.c.link,
                  m.c.urgent, m.c.instance_id, m.c.workflow, d.c.message_id)
        .join(m, m.c.id == d.c.message_id)
        .where(d.c.channel == "inapp")
        .order_by(d.c.id.desc())
    )  # fmt: skip
    if person_name is not None:
        query = query.where(d.c.person == person_name)
    if message_id is not None:
        query = query.where(d.c.message_id == message_id)
    if unread:
        query = query.where(d.c.read_at.is_(None))
    if before is not None:
        query = query.where(d.c.id < before)
    if limit:
        query = query.limit(limit)
    with reading(engine.db) as conn:
        return [
            {"id": r.id, "person": r.person, "text": r.text, "link": r.link,
             "urgent": bool(r.urgent), "instance_id": r.instance_id, "workflow": r.workflow,
             "created_at": _iso(r.created_at), "read_at": _iso(r.read_at), "read": r.read_at
             is not None}
            for r in conn.execute(query)
        ]  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    moment = _utc(value)
    return moment.isoformat() if moment else None


def inbox(engine: Any, person_name: str, *, unread: bool = False, limit: int = 50,
          before: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """A person's in-app notifications, newest first (``before``: an id, to page on)."""
    if limit < 1 or limit > 500:
        raise InputError("limit must be between 1 and 500", field="limit")
    return _inbox_rows(engine, person_name=person_name, unread=unread, limit=limit, before=before)


def unread_count(engine: Any, person_name: str) -> int:
    """How many of a person's in-app notifications are unread (the bell's number)."""
    d = deliveries
    with reading(engine.db) as conn:
        return int(conn.execute(
            sa.select(sa.func.count()).select_from(d).where(
                d.c.person == person_name, d.c.channel == "inapp", d.c.read_at.is_(None)
            )
        ).scalar_one())  # fmt: skip


def mark_read(engine: Any, person_name: str, notification_id: int) -> dict[str, Any]:
    """Mark one of the person's own notifications read (another's is "not found")."""
    d = deliveries
    with engine.db.begin() as conn:
        row = conn.execute(sa.select(d.c.id, d.c.read_at).where(
            d.c.id == notification_id, d.c.person == person_name, d.c.channel == "inapp"
        )).first()  # fmt: skip
        if row is None:
            raise NotFoundError(f"no notification {notification_id} for {person_name}")
        if row.read_at is None:
            conn.execute(d.update().where(d.c.id == row.id).values(read_at=engine.now()))
            _wake_streams(conn)  # the person's other tabs count down too
    return {"id": notification_id, "read": True, "unread": unread_count(engine, person_name)}


def mark_all_read(engine: Any, person_name: str) -> int:
    """Mark every unread notification of the person read; return how many."""
    d = deliveries
    with engine.db.begin() as conn:
        marked = int(conn.execute(d.update().where(
            d.c.person == person_name, d.c.channel == "inapp", d.c.read_at.is_(None)
        ).values(read_at=engine.now())).rowcount)  # fmt: skip
        if marked:
            _wake_streams(conn)
        return marked


def preferences_of(engine: Any, person_name: str) -> dict[str, Any]:
    """A person's effective choices (their own, else the factory's `users:` defaults)."""
    with reading(engine.db) as conn:
        who = person(engine, conn, person_name)
    return {
        "person": who.name, "email": who.email, "language": who.language,
        "timezone": who.timezone.key, "channels": sorted(who.channels) if who.channels is not
        None else None, "quiet_hours": who.quiet_hours, "digest": who.digest,
    }  # fmt: skip


def set_preferences(
    engine: Any, person_name: str, *, channels: list[str] | None = None,
    quiet_hours: str | None = None, digest: str | None = None, language: str | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Save a person's own choices (``None`` or "" falls back to the factory's default)."""
    check_choices(channels, quiet_hours or None, digest or None, language or None,
                  timezone or None)  # fmt: skip
    values = {
        "channels": json.dumps(sorted(set(channels))) if channels is not None else None,
        "quiet_hours": quiet_hours or None, "digest": digest or None,
        "language": language or None, "timezone": timezone or None,
        "updated_at": engine.now(),
    }  # fmt: skip
    with engine.db.begin() as conn:
        done = conn.execute(preferences.update().where(preferences.c.person == person_name)
                            .values(**values)).rowcount  # fmt: skip
        if not done:
            conn.execute(preferences.insert().values(person=person_name, **values))
    return preferences_of(engine, person_name)
