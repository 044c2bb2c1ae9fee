"""Shared fixtures: databases (SQLite and PostgreSQL), engines, CLI runner, Flask app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crmflow.testing import FakeClock

PG_ADMIN_URL = os.environ.get(
    "CRMFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHIPPED = Path(__file__).resolve().parent.parent / "crmflow" / "workflows"
EXAMPLES = Path(__file__).resolve().parent / "engine" / "workflows"

_pg_status: dict[str, str] = {}


def _pg_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    if "error" in _pg_status:
        return _pg_status["error"] or None
    try:
        admin = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
        admin.dispose()
        _pg_status["error"] = ""
    except Exception as exc:  # any failure to connect means: not reachable
        _pg_status["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return _pg_status["error"] or None


def pytest_report_header(config: pytest.Config) -> str:
    error = _pg_reachable()
    if error:
        return (
            f"!!! PostgreSQL at {PG_ADMIN_URL} is NOT reachable ({error}): PostgreSQL tests "
            "are SKIPPED (they fail under CI=true)"
        )
    return f"PostgreSQL: {PG_ADMIN_URL} reachable; engine tests run on SQLite and PostgreSQL"


def require_postgres() -> None:
    error = _pg_reachable()
    if error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI but unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable ({error})")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; dropped at the end."""
    require_postgres()
    name = f"crmflow_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _reset_postgres(url: str) -> None:
    """Empty every crmflow table between tests (the schema stays migrated)."""
    db = sa.create_engine(url)
    with db.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    db.dispose()


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    _reset_postgres(pg_database)
    return pg_database


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each engine test runs on both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crmflow.sqlite3'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'crmflow.sqlite3'}"


@pytest.fixture
def clock(crmflow_clock: FakeClock) -> FakeClock:
    """The clock every engine of the test runs on (the plugin-author fixture)."""
    return crmflow_clock


@pytest.fixture
def workflows_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir()
    return folder


@pytest.fixture
def make_engine(
    crmflow_engine: Callable[..., Any], db_url: str, workflows_dir: Path
) -> Callable[..., Any]:
    """``make_engine(**overrides)`` opens an Engine on this test's database and clock."""

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("database_url", db_url)
        kwargs.setdefault("workflows", workflows_dir)
        return crmflow_engine(**kwargs)

    return make


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner in a clean folder with its own SQLite database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRMFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRMFLOW_WORKFLOWS", raising=False)
    monkeypatch.delenv("CRMFLOW_FACTORY", raising=False)
    monkeypatch.setenv("CRMFLOW_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


def stop_live(app: Any) -> None:
    """Stop the app's live-update broker, if a page or stream started one: its listener thread
    ends, and so does every event stream still open (each holds a server thread)."""
    live = app.extensions.get("crmflow.live")
    if live is not None:
        live.stop()


@pytest.fixture
def app(sqlite_url: str, workflows_dir: Path) -> Iterator[Any]:
    from crmflow.admin import create_app

    (workflows_dir / "order.yaml").write_text((EXAMPLES / "order.yaml").read_text())
    application = create_app(
        {"TESTING": True, "DATABASE_URL": sqlite_url, "WORKFLOWS": str(workflows_dir)}
    )
    yield application
    stop_live(application)
    application.extensions["crmflow"].close()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()
