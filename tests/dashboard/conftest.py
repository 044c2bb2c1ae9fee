"""Fixtures of the dashboard tests: the app on the small factory, a live server, a browser.

Only these fixtures know how a person reaches the dashboard: ``dash_client`` and
``dash_page`` sign in first (as alice, a manager); live updates come from the app's
own `/events/stream`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crmflow.core.factory import Department, FactoryConfig
from crmflow.testing import FakeClock
from tests.conftest import stop_live
from tests.reports.sop_data import NOW, ORDER_YAML, load_small

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip
DESK = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


PASSWORD = "dashboard-pass-123"


@pytest.fixture
def dash_engine(crmflow_engine: Callable[..., Any], tmp_path: Path) -> Any:
    """The small factory (tests/reports/sop_data.py) with a pilot department."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "order.yaml").write_text(ORDER_YAML.read_text())
    import datetime as dt

    config = FactoryConfig(
        name="small", title="Small Works",
        departments=[Department("sales", "Sales", members=("alice",),
                                pilot_start=dt.date(2026, 10, 1)),
                     Department("service", "Service", members=("bob",))],
    )  # fmt: skip
    engine = crmflow_engine(workflows=folder, factory=config, clock=FakeClock(NOW))
    load_small(engine)
    from crmflow.core.people.accounts import add_user

    add_user(engine, "alice", PASSWORD, roles=["manager"])  # the dashboard's person
    return engine


@pytest.fixture
def dash_app(dash_engine: Any) -> Iterator[Any]:
    from crmflow.admin import create_app

    app = create_app({"TESTING": True, "ENGINE": dash_engine, "SECRET_KEY": "test"})
    yield app
    stop_live(app)


@pytest.fixture
def dash_client(dash_app: Any) -> Any:
    """A test client signed in as a person allowed to see the dashboard."""
    import re

    client = dash_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                       "csrf_token": token})  # fmt: skip
    assert done.status_code == 302, done.get_data(as_text=True)
    return client


@pytest.fixture
def dash_server(dash_app: Any) -> Iterator[str]:
    """The app served on a free loopback port (threaded); its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, dash_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")  # closed after the module: its event loop must not outlive it
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        found = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield found
        found.close()


@pytest.fixture
def dash_page(browser: Any, dash_server: str) -> Iterator[Callable[..., Any]]:
    """``dash_page(path, viewport)``: a signed-in page opened at ``path``."""
    contexts: list[Any] = []

    def open_page(path: str = "/dashboard/", viewport: dict[str, int] = DESK) -> Any:
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        page.js_errors = errors
        page.goto(dash_server + "/login")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.locator("form[action='/login'] button[type=submit]").click()
        page.wait_for_load_state()
        page.goto(dash_server + path)
        page.wait_for_selector("[data-card]", state="attached")
        return page

    yield open_page
    for context in contexts:
        context.close()
