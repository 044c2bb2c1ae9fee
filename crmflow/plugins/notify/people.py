"""Who a notification reaches: people, roles and departments resolved to persons, once each."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from crmflow.errors import InputError

from .schedule import parse_clock, parse_span
from .tables import preferences

__all__ = ["CHANNELS", "LANGUAGES", "Person", "check_choices", "person", "resolve"]

#: every channel; `inapp` is always on
log = logging.getLogger("crmflow.notify")

CHANNELS = ("inapp", "mail", "wecom", "dingtalk", "feishu")
LANGUAGES = ("en", "zh-CN")


@dataclass(frozen=True)
class Person:
    """One person's address book entry and notification choices."""

    name: str
    email: str | None = None
    mobile: str | None = None
    language: str = "en"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    channels: frozenset[str] | None = None  # None: every channel the message names
    quiet_hours: str | None = None  # "22:00-07:00"
    digest: str | None = None  # "08:00": external channels once a day, at that time

    def wants(self, channel: str) -> bool:
        return channel == "inapp" or self.channels is None or channel in self.channels


def _names(to: Any) -> list[str]:
    if to is None or to == "" or to == []:
        raise InputError("notify needs 'to': a person, a role or a department (or a list)",
                         field="to")
    items = to if isinstance(to, list | tuple) else str(to).split(",")
    names = [str(item).strip() for item in items if str(item).strip()]
    if not names:
        raise InputError("notify needs 'to': a person, a role or a department (or a list)",
                         field="to")
    return names


def _logins(engine: Any, conn: sa.Connection | None) -> dict[str, tuple[set[str], str | None]]:
    """Active logins: their own roles (with their department's) and department."""
    if conn is None:
        return {}
    from crmflow.core.people.accounts import web_users  # the plugin loads when a step notifies

    u = web_users
    rows = conn.execute(sa.select(u.c.username, u.c.roles, u.c.department)
                        .where(u.c.active.is_(True)).order_by(u.c.username)).all()  # fmt: skip
    found: dict[str, tuple[set[str], str | None]] = {}
    for row in rows:
        roles = {str(r) for r in json.loads(row.roles or "[]")}
        for d in engine.factory.departments:
            if d.id == row.department:
                roles.update(d.roles)
        found[str(row.username)] = (roles, row.department)
    return found


def resolve(engine: Any, to: Any, conn: sa.Connection | None = None) -> list[str]:
    """Persons named by ``to``, in order, each once (a person holding two roles too).

    A name is a user of the factory, a member of a department, a department id
    (its members), or a role (every person holding it). With ``conn``, the web
    app's logins count too: their roles and department given by `crmflow user
    add --roles/--department`. A name that is none of these is kept as is: a role
    nobody holds yet still finds the message in that name's in-app inbox.
    """
    factory = engine.factory
    users: dict[str, Any] = factory.users or {}
    members = {m for d in factory.departments for m in d.members}
    logins = _logins(engine, conn)
    people = list(users) + sorted(members - set(users))
    people += [name for name in logins if name not in people]
    found: list[str] = []
    for name in _names(to):
        if name in users or name in members or name in logins:
            matched = [name]
        else:
            department = next((d for d in factory.departments if d.id == name), None)
            if department is not None:
                matched = list(department.members)
                matched += [p for p, (_, dept) in logins.items()
                            if dept == name and p not in matched]  # fmt: skip
            else:
                matched = [p for p in people if name in engine.roles_of(p)
                           or name in logins.get(p, (set(), None))[0]]  # fmt: skip
                if not matched:
                    log.info("notify: %r is no person, department or role of the factory; "
                             "the message waits in that name's inbox", name)  # fmt: skip
                    matched = [name]
        found.extend(p for p in matched if p not in found)
    return found


def _stored(conn: sa.Connection, name: str) -> Any:
    return conn.execute(sa.select(preferences).where(preferences.c.person == name)).first()


def person(engine: Any, conn: sa.Connection, name: str) -> Person:
    """A person's entry: the factory's `users:` defaults, overridden by choices in the app."""
    factory = engine.factory
    entry = factory.users.get(name) if isinstance(factory.users.get(name), dict) else {}
    assert isinstance(entry, dict)
    stored = _stored(conn, name)
    defaults = factory.notify or {}

    def pick(key: str) -> Any:
        value = getattr(stored, key, None) if stored is not None else None
        return value if value is not None else entry.get(key, defaults.get(key))

    channels = pick("channels")
    if isinstance(channels, str):
        channels = json.loads(channels) if channels.startswith("[") else [channels]
    language = str(pick("language") or "en")
    tz_name = pick("timezone")
    try:
        tz = ZoneInfo(str(tz_name)) if tz_name else factory.timezone
    except (ZoneInfoNotFoundError, ValueError):
        tz = factory.timezone
    return Person(
        name=name,
        email=str(entry["email"]) if entry.get("email") else None,
        mobile=str(entry["mobile"]) if entry.get("mobile") else None,
        language=language if language in LANGUAGES else "en",
        timezone=tz,
        channels=frozenset(str(c) for c in channels) if channels is not None else None,
        quiet_hours=str(pick("quiet_hours")) if pick("quiet_hours") else None,
        digest=str(pick("digest")) if pick("digest") else None,
    )


def check_choices(
    channels: list[str] | None, quiet_hours: str | None, digest: str | None,
    language: str | None, timezone: str | None,
) -> None:  # fmt: skip
    """Refuse a bad choice with the field to blame (the web form and the API use this)."""
    for channel in channels or ():
        if channel not in CHANNELS:
            raise InputError(f"unknown channel {channel!r}; use {', '.join(CHANNELS)}",
                             field="channels")  # fmt: skip
    if quiet_hours:
        parse_span(quiet_hours, "quiet_hours")
    if digest:
        parse_clock(digest, "digest")
    if language and language not in LANGUAGES:
        raise InputError(f"use one of {', '.join(LANGUAGES)}", field="language")
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InputError(f"unknown time zone {timezone!r}", field="timezone") from exc
