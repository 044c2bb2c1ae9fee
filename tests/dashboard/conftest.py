"""Fixtures of the dashboard tests: the app on the small factory, a live server, a browser.

Only these fixtures know how a person reaches the dashboard. Until sign-in (the
web app issue) is merged they open it directly; with it, ``dash_client`` and
``dash_page`` sign in first, and the `/events/stream` stand-in below gives way to
the app's own stream.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Response, stream_with_context

from crmflow.core.factory import Department, FactoryConfig
from crmflow.hookspecs import hookimpl
from crmflow.testing import FakeClock
from tests.reports.sop_data import NOW, ORDER_YAML, load_small

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip
DESK = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class StreamStandIn:
    """`GET /events/stream` as web.md fixes it (event `instance`, data id/workflow/from/to/at),
    fed by ``on_transition``: a stand-in until the web app's stream is merged."""

    def __init__(self) -> None:
        self.listeners: list[queue.Queue[str | None]] = []
        self.lock = threading.Lock()

    @hookimpl
    def on_transition(self, engine: Any, record: Any) -> None:
        data = {"id": record.instance_id, "workflow": record.workflow,
                "from": record.from_state, "to": record.to_state, "at": record.at.isoformat()}
        with self.lock:
            for q in self.listeners:
                q.put(f"event: instance\ndata: {json.dumps(data)}\n\n")  # fmt: skip

    def close(self) -> None:
        with self.lock:
            for q in self.listeners:
                q.put(None)

    def blueprint(self) -> Blueprint:
        bp = Blueprint("stream_stand_in", __name__)

        @bp.get("/events/stream")
        def stream() -> Response:
            q: queue.Queue[str | None] = queue.Queue()
            with self.lock:
                self.listeners.append(q)

            def messages() -> Iterator[str]:
                yield ": open\n\n"
                while (item := q.get()) is not None:
                    yield item

            return Response(stream_with_context(messages()), mimetype="text/event-stream")

        return bp


@pytest.fixture
def dash_stream() -> Iterator[StreamStandIn]:
    stream = StreamStandIn()
    yield stream
    stream.close()


@pytest.fixture
def dash_engine(crmflow_engine: Callable[..., Any], tmp_path: Path,
                dash_stream: StreamStandIn) -> Any:  # fmt: skip
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
    engine = crmflow_engine(workflows=folder, factory=config, clock=FakeClock(NOW),
                            plugins=[dash_stream])  # fmt: skip
    load_small(engine)
    return engine


@pytest.fixture
def dash_app(dash_engine: Any, dash_stream: StreamStandIn) -> Any:
    from crmflow.admin import create_app

    app = create_app({"TESTING": True, "ENGINE": dash_engine})
    app.register_blueprint(dash_stream.blueprint())
    return app


@pytest.fixture
def dash_client(dash_app: Any) -> Any:
    """A test client of a person allowed to see the dashboard."""
    return dash_app.test_client()


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


@pytest.fixture(scope="session")
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
        page.goto(dash_server + path)
        page.wait_for_function("window.crmflowDashboard !== undefined")
        return page

    yield open_page
    for context in contexts:
        context.close()
