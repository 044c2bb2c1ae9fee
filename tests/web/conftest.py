"""Web fixtures: the demo factory loaded once per session, copied for each test."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crmflow.testing import FakeClock

from ..conftest import stop_live

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo" / "factory.yaml"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from crmflow.core.domain.demo import load_demo
    from crmflow.core.engine import Engine

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    engine = Engine.open(f"sqlite:///{path}", factory=str(DEMO))
    load_demo(engine, seed=7)
    engine.close()
    return path


@pytest.fixture
def web_clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def demo_app(demo_template: Path, tmp_path: Path, web_clock: FakeClock) -> Iterator[Any]:
    from crmflow.admin import create_app
    from crmflow.core.engine import Engine

    path = tmp_path / "demo.sqlite3"
    shutil.copy(demo_template, path)
    engine = Engine.open(f"sqlite:///{path}", factory=str(DEMO), clock=web_clock)
    app = create_app({"TESTING": True, "ENGINE": engine, "SECRET_KEY": "test"})
    yield app
    stop_live(app)
    engine.close()


@pytest.fixture
def demo_engine(demo_app: Any) -> Any:
    return demo_app.extensions["crmflow"]


@pytest.fixture
def web(demo_app: Any) -> Any:
    return demo_app.test_client()


@contextmanager
def waitress_serving(app: Any, threads: int) -> Iterator[str]:
    """Serve ``app`` with waitress (as `crmflow run` does) on a free loopback port; its base URL.

    On the way out every worker thread has ended before the server closes. waitress closes
    its wake-up pipe in ``close()``, and a worker still running then (an event stream ends a
    keep-alive later) writes b"x" to that pipe's old fd number when it finishes: by then the
    number may be another file's. In one long test run it was the stdin pipe of the next
    Playwright driver, whose framing the byte broke: the driver never read the next call.
    """
    import waitress
    from waitress import wasyncore

    served = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads)
    loop = threading.Thread(target=served.run, name="waitress-loop", daemon=True)
    loop.start()
    try:
        yield f"http://127.0.0.1:{served.effective_port}"
    finally:
        stop_live(app)  # the open event streams end, and with them their worker threads
        dispatcher = served.task_dispatcher
        dispatcher.shutdown(cancel_pending=True, timeout=10)
        assert not dispatcher.threads, f"waitress workers still running: {dispatcher.threads}"
        # then close the listening socket, the connections and the wake-up pipe in the loop's
        # own thread, which ends when nothing is left to watch
        served.trigger.pull_trigger(lambda: wasyncore.close_all(served._map))
        loop.join(timeout=10)
        assert not loop.is_alive(), "the waitress loop did not end"
