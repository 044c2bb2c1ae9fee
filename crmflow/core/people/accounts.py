"""Logins and API tokens in the database: argon2 password hashes, tokens stored hashed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from crmflow.errors import InputError, NotFoundError

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = [
    "THROTTLE_LIMIT",
    "THROTTLE_WINDOW",
    "Account",
    "accounts",
    "accounts_named",
    "add_user",
    "api_tokens",
    "authenticate",
    "check_username",
    "create_token",
    "demo_logins",
    "disable_user",
    "get_account",
    "list_users",
    "login_failures",
    "record_failure",
    "revoke_token",
    "set_language",
    "throttled",
    "user_by_token",
    "web_users",
]

THROTTLE_LIMIT = 10
THROTTLE_WINDOW = dt.timedelta(minutes=1)

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()

#: Mirrors migration 0120_web_auth.
web_users = sa.Table(
    "web_users",
    metadata,
    sa.Column("username", sa.String(200), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("department", sa.String(200), nullable=True),
    sa.Column("language", sa.String(10), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("username", sa.String(200), nullable=False),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
)
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("username", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
accounts = (web_users, api_tokens, login_failures)

_hasher = PasswordHasher()
# Verified when the username is unknown, so both failures cost the same time.
_DUMMY = _hasher.hash(secrets.token_hex(16))
_TOKEN_PREFIX = "crm_"


@dataclass(frozen=True)
class Account:
    """A login: its own roles (added to the factory's), department, language, active flag."""

    username: str
    roles: tuple[str, ...]
    department: str | None
    language: str | None
    active: bool
    has_password: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "username": self.username, "roles": list(self.roles),
            "department": self.department, "language": self.language,
            "active": self.active, "has_password": self.has_password,
        }  # fmt: skip


def _naive(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now


def _account(row: Any) -> Account:
    return Account(
        username=row.username, roles=tuple(json.loads(row.roles or "[]")),
        department=row.department, language=row.language, active=bool(row.active),
        has_password=bool(row.password_hash),
    )  # fmt: skip


def check_username(username: Any) -> str:
    """A username as people type it: 1-200 printable characters, no spaces at the ends."""
    if not isinstance(username, str) or not username.strip():
        raise InputError("give a username", field="username")
    name = username.strip()
    if len(name) > 200 or not name.isprintable() or "\x00" in name:
        raise InputError("must be at most 200 printable characters", field="username")
    return name


def _check_roles(roles: Any) -> list[str]:
    out = []
    for role in roles or ():
        role = str(role).strip()
        if not role or len(role) > 100 or not role.replace("_", "").replace("-", "").isalnum():
            raise InputError(f"{role!r} is not a role name (letters, digits, _ -)", field="roles")
        out.append(role)
    return out


def add_user(
    engine: Engine, username: str, password: str | None = None, *,
    roles: list[str] | tuple[str, ...] = (), department: str | None = None,
) -> Account:  # fmt: skip
    """Create or update a login; ``roles`` add to the factory's; a password of 8+ characters."""
    name = check_username(username)
    extra = _check_roles(roles)
    if password is not None and len(password) < 8:
        raise InputError("must be at least 8 characters", field="password")
    if department is not None and department not in {d.id for d in engine.factory.departments}:
        known = ", ".join(d.id for d in engine.factory.departments) or "none"
        raise InputError(f"no department {department!r} (known: {known})", field="department")
    now = _naive(engine.now())
    with engine.db.begin() as conn:
        row = conn.execute(sa.select(web_users).where(web_users.c.username == name)).first()
        values: dict[str, Any] = {"updated_at": now, "active": True}
        if password is not None:
            values["password_hash"] = _hasher.hash(password)
        if department is not None:
            values["department"] = department
        if row is None:
            values.update(username=name, roles=json.dumps(extra), created_at=now)
            values.setdefault("password_hash", None)
            conn.execute(web_users.insert().values(**values))
        else:
            merged = list(dict.fromkeys([*json.loads(row.roles or "[]"), *extra]))
            values["roles"] = json.dumps(merged)
            conn.execute(web_users.update().where(web_users.c.username == name).values(**values))
    return get_account(engine, name)


def get_account(engine: Engine, username: str) -> Account:
    with engine.db.connect() as conn:
        row = conn.execute(sa.select(web_users).where(web_users.c.username == username)).first()
    if row is None:
        raise NotFoundError(f"no login {username!r}; `crmflow user add {username}` creates it")
    return _account(row)


def accounts_named(engine: Engine, usernames: Iterable[str]) -> list[Account]:
    """The logins of these usernames that exist, in one query (unknown names are left out)."""
    names = sorted(set(usernames))
    if not names:
        return []
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(web_users).where(web_users.c.username.in_(names))).all()
    return [_account(r) for r in rows]


def list_users(engine: Engine) -> list[Account]:
    with engine.db.connect() as conn:
        rows = conn.execute(sa.select(web_users).order_by(web_users.c.username)).all()
    return [_account(r) for r in rows]


def disable_user(engine: Engine, username: str) -> Account:
    """Disable a login: it can no longer sign in, its sessions end and its tokens stop working."""
    get_account(engine, username)
    with engine.db.begin() as conn:
        conn.execute(web_users.update().where(web_users.c.username == username).values(
            active=False, updated_at=_naive(engine.now())))  # fmt: skip
    return get_account(engine, username)


def set_language(engine: Engine, username: str, language: str) -> None:
    with engine.db.begin() as conn:
        conn.execute(web_users.update().where(web_users.c.username == username).values(
            language=language))  # fmt: skip


def throttled(engine: Engine, username: str) -> bool:
    """True when ``username`` failed THROTTLE_LIMIT logins within the last minute."""
    since = _naive(engine.now() - THROTTLE_WINDOW)
    with engine.db.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(login_failures).where(
            login_failures.c.username == username[:200], login_failures.c.at > since)).scalar()
    return int(count or 0) >= THROTTLE_LIMIT


def record_failure(engine: Engine, username: str) -> None:
    now = _naive(engine.now())
    with engine.db.begin() as conn:
        conn.execute(login_failures.insert().values(username=username[:200], at=now))
        old = now - dt.timedelta(days=1)
        conn.execute(login_failures.delete().where(login_failures.c.at < old))


def authenticate(engine: Engine, username: str, password: str) -> Account | None:
    """The active account whose password this is, else None (the same work either way)."""
    with engine.db.connect() as conn:
        row = conn.execute(
            sa.select(web_users).where(web_users.c.username == username[:200])
        ).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY
    ok: bool
    try:
        ok = _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None or not row.active or not row.password_hash:
        return None
    return _account(row)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(engine: Engine, username: str, name: str | None = None) -> tuple[int, str]:
    """A new API token for an active login: ``(id, token)``; only its hash is stored."""
    account = get_account(engine, username)
    if not account.active:
        raise InputError(f"login {username!r} is disabled", field="username")
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.db.begin() as conn:
        inserted = conn.execute(api_tokens.insert().values(
            username=username, name=name, token_hash=_digest(token),
            created_at=_naive(engine.now()))).inserted_primary_key  # fmt: skip
    assert inserted is not None
    return int(inserted[0]), token


def revoke_token(engine: Engine, token_id: int) -> None:
    with engine.db.begin() as conn:
        done = conn.execute(api_tokens.update().where(
            api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)).values(
            revoked_at=_naive(engine.now()))).rowcount  # fmt: skip
        if not done:
            exists = conn.execute(sa.select(api_tokens.c.id).where(api_tokens.c.id == token_id))
            if exists.first() is None:
                raise NotFoundError(f"no API token {token_id}")


def user_by_token(engine: Engine, token: str) -> Account | None:
    """The active account of a valid, unrevoked token, else None."""
    if not token.startswith(_TOKEN_PREFIX) or len(token) > 200:
        return None
    with engine.db.connect() as conn:
        row = conn.execute(
            sa.select(web_users).join(api_tokens, api_tokens.c.username == web_users.c.username)
            .where(api_tokens.c.token_hash == _digest(token), api_tokens.c.revoked_at.is_(None))
        ).first()  # fmt: skip
    if row is None or not row.active:
        return None
    return _account(row)


def demo_logins(engine: Engine) -> list[tuple[str, str]]:
    """Give every person of the factory's ``users:`` a fresh random password; return them."""
    logins = []
    for username in engine.factory.users:
        password = secrets.token_urlsafe(9)
        add_user(engine, username, password)
        logins.append((username, password))
    return logins
