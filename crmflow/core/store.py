"""Database setup: SQLite file by default, PostgreSQL by URL, migrations."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from crmflow.errors import ConfigError

__all__ = [
    "DATABASE_ENV",
    "data_dir",
    "default_database_url",
    "is_postgres",
    "migration_heads",
    "is_sqlite",
    "make_db",
    "migrate",
    "reading",
    "resolve_database_url",
    "unreachable",
]

DATABASE_ENV = "CRMFLOW_DATABASE_URL"
DATA_DIR_ENV = "CRMFLOW_DATA_DIR"

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_MIGRATION_LOCK = 0x63726D66  # "crmf": one advisory lock id for schema upgrades


def data_dir() -> Path:
    """The data folder: ``$CRMFLOW_DATA_DIR`` or ``./.crmflow``."""
    return Path(os.environ.get(DATA_DIR_ENV) or ".crmflow")


def default_database_url(factory: str | None = None) -> str:
    """The embedded SQLite file in the :func:`data_dir`, one per factory."""
    folder = data_dir()
    name = factory or "default"
    return f"sqlite:///{(folder / f'{name}.sqlite3').as_posix()}"


def resolve_database_url(url: str | None, factory: str | None = None) -> str:
    """``url``, else ``$CRMFLOW_DATABASE_URL``, else the embedded SQLite file."""
    url = url or os.environ.get(DATABASE_ENV) or default_database_url(factory)
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # psycopg 3 is the driver we ship; plain URLs mean it.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(db: sa.Engine) -> bool:
    return db.dialect.name == "sqlite"


def is_postgres(db: sa.Engine) -> bool:
    return db.dialect.name == "postgresql"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed event survives power loss, as the benchmark floor does.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A writer takes the write lock at BEGIN, so two writers never deadlock on
    # upgrade; a reader (see `reading`) begins deferred and never waits in WAL mode.
    if conn.get_execution_options().get("crmflow_read"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def reading(db: sa.Engine) -> sa.Connection:
    """A connection for reads only: on SQLite it does not take the write lock."""
    return db.connect().execution_options(crmflow_read=True)


def make_db(url: str | None = None, *, factory: str | None = None, **kwargs: Any) -> sa.Engine:
    """Create the SQLAlchemy engine for a database URL (see :func:`resolve_database_url`)."""
    url = resolve_database_url(url, factory)
    try:
        sa_url = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"database URL {url!r} is not valid: {exc}") from exc
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        db = sa.create_engine(
            sa_url,
            connect_args={"check_same_thread": False, "isolation_level": None, "timeout": 30},
            **kwargs,
        )
        event.listen(db, "connect", _sqlite_pragmas)
        event.listen(db, "begin", _sqlite_begin)
        return db
    kwargs.setdefault("pool_pre_ping", True)
    try:
        return sa.create_engine(sa_url, **kwargs)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigError(f"no driver for database URL {url!r}: {exc}") from exc


def unreachable(db: sa.Engine, exc: Exception) -> ConfigError:
    """The error for a database that cannot be reached, naming it without its password."""
    url = db.url.render_as_string(hide_password=True)
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    why = reason[0] if reason else type(exc).__name__
    if db.url.password:
        why = why.replace(str(db.url.password), "***")
    return ConfigError(f"cannot reach the database {url}: {why}")


def _alembic_config(db: sa.Engine, extra_locations: list[str]) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    locations = [str(_MIGRATIONS / "versions"), *extra_locations]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["db"] = db
    return cfg


_HEADS: dict[tuple[str, ...], frozenset[str]] = {}
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)
# A revision another one `depends_on` is not a head for Alembic either.
_DEPENDS = re.compile(r"^depends_on\s*=\s*(.+)$", re.M)


def migration_heads(locations: tuple[str, ...]) -> frozenset[str] | None:
    """The heads, read from the migration files' ``revision``/``down_revision`` lines.

    No Alembic import: a current database costs one query. None when a file
    does not state its revisions plainly (then Alembic decides).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for folder in (str(_MIGRATIONS / "versions"), *locations):
        for path in sorted(Path(folder).glob("*.py")):
            text = path.read_text(encoding="utf-8")
            rev, down = _REVISION.search(text), _DOWN.search(text)
            if rev is None or down is None:
                if path.name == "__init__.py":
                    continue
                return None
            revisions.add(rev.group(1))
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
            depends = _DEPENDS.search(text)
            if depends is not None:
                parents.update(re.findall(r"['\"]([^'\"]+)['\"]", depends.group(1)))
    return frozenset(revisions - parents)


def _heads(cfg: Any, locations: tuple[str, ...]) -> frozenset[str]:
    if locations not in _HEADS:
        found = migration_heads(locations)
        if found is None:
            from alembic.script import ScriptDirectory

            found = frozenset(ScriptDirectory.from_config(cfg()).get_heads())
        _HEADS[locations] = found
    return _HEADS[locations]


def _current(db: sa.Engine) -> frozenset[str]:
    """The revisions the database is at: one query (none when it has no schema yet)."""
    try:
        with db.connect() as conn:
            return frozenset(
                conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
            )
    except sa.exc.DBAPIError:  # no alembic_version table: a new database
        return frozenset()


def migrate(db: sa.Engine, extra_locations: list[str] | None = None) -> None:
    """Bring the schema to the newest revision of every migration branch.

    Skips Alembic when the database is already at the heads; on PostgreSQL an
    advisory lock keeps processes that start together from migrating twice.
    """
    locations = tuple(extra_locations or [])

    def cfg() -> Any:
        return _alembic_config(db, list(locations))

    try:
        current = _current(db)
    except sa.exc.OperationalError as exc:
        raise unreachable(db, exc) from None
    if current == _heads(cfg, locations):
        return
    from alembic import command

    if is_postgres(db):
        with db.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            try:
                if _current(db) != _heads(cfg, locations):
                    command.upgrade(cfg(), "heads")
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()
        return
    command.upgrade(cfg(), "heads")
