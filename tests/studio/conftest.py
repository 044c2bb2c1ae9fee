"""Studio and rollout page fixtures: a factory with its own workflow folder and signed-in people."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmflow.testing import FakeClock

from ..conftest import stop_live

SHIPPED = Path(__file__).resolve().parents[2] / "crmflow" / "workflows"
FACTORY = """\
factory: studio_test
timezone: Europe/Berlin
workflows: workflows
departments:
  - {id: sales, members: [rita], roles: [sales]}
  - {id: planning, members: [paul], roles: [planner]}
  - {id: management, members: [mia], roles: [manager]}
users:
  carla: {roles: [consultant]}
"""
PASSWORD = "correct horse battery"


@pytest.fixture
def studio_engine(tmp_path: Path) -> Iterator[Any]:
    from crmflow.core.engine import Engine
    from crmflow.core.people.accounts import add_user

    shutil.copytree(SHIPPED, tmp_path / "workflows", ignore=shutil.ignore_patterns("scenarios"))
    (tmp_path / "factory.yaml").write_text(FACTORY)
    clock = FakeClock(datetime(2026, 12, 2, 8, 0, tzinfo=UTC))
    engine = Engine.open(f"sqlite:///{tmp_path / 'db.sqlite3'}",
                         factory=str(tmp_path / "factory.yaml"), clock=clock)  # fmt: skip
    for name in ("carla", "rita", "paul", "mia"):
        add_user(engine, name, PASSWORD)
    yield engine
    engine.close()


@pytest.fixture
def studio_app(studio_engine: Any) -> Iterator[Any]:
    from crmflow.admin import create_app

    app = create_app({"TESTING": True, "ENGINE": studio_engine, "SECRET_KEY": "test"})
    yield app
    stop_live(app)


@pytest.fixture
def sign_in(studio_app: Any) -> Callable[[str], Any]:
    """``sign_in(username)`` gives a test client signed in as that person, with its CSRF token."""

    def make(username: str) -> Any:
        client = studio_app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        done = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token})  # fmt: skip
        assert done.status_code == 302, done.get_data(as_text=True)
        home = client.get("/").get_data(as_text=True)
        client.csrf = re.search(r'name="csrf-token" content="([^"]+)"', home).group(1)  # type: ignore[union-attr]
        return client

    return make


@pytest.fixture
def live_server(studio_app: Any) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, studio_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
