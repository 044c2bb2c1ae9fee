"""`crmflow user`/`token`/`change` commands, the demo's printed logins, SSE under waitress."""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from crmflow.cli import cli

from .conftest import waitress_serving
from .pages import PASSWORD


def _run(runner: CliRunner, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, list(args), input=stdin)


def test_user_and_token_commands(runner):
    added = _run(runner, "user", "add", "pat", "--password-stdin", "--roles", "planner,buyer",
                 stdin="a long secret\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = json.loads(_run(runner, "user", "list", "--json").output)
    assert listed[0]["username"] == "pat" and {"planner", "buyer"} <= set(listed[0]["roles"])
    short = _run(runner, "user", "add", "kim", "--password-stdin", stdin="short\n")
    assert short.exit_code == 2 and "at least 8" in short.output
    made = _run(runner, "token", "create", "pat", "--name", "scanner")
    assert made.exit_code == 0
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("crm_") and " " not in secret
    tid = re.search(r"token (\d+)", made.output).group(1)
    assert _run(runner, "token", "revoke", tid).exit_code == 0
    assert _run(runner, "token", "revoke", "999").exit_code == 4
    assert _run(runner, "user", "disable", "pat").exit_code == 0
    assert json.loads(_run(runner, "user", "list", "--json").output)[0]["active"] is False
    assert _run(runner, "user", "disable", "nobody").exit_code == 4


@pytest.mark.slow
def test_demo_prints_one_login_per_user(runner):
    result = _run(runner, "demo", "--load-only")
    assert result.exit_code == 0, result.output
    logins = re.findall(r"login: (\S+)\s+password: (\S+)", result.output)
    assert {u for u, _ in logins} == {"rita", "omar", "lena", "ken", "paul", "petra", "sam",
                                      "leo", "bea", "mia", "max", "carla"}  # fmt: skip
    assert len({p for _, p in logins}) == len(logins)
    assert re.search(r"login: carla .* roles: consultant", result.output)


@pytest.mark.slow
def test_the_demo_works_on_its_own_copy_of_the_workflows(runner, tmp_path):
    from crmflow.core import studio
    from crmflow.core.demofolder import DEMO_FACTORY
    from crmflow.core.engine.workflowfiles import SHIPPED_WORKFLOWS
    from crmflow.core.factory import load_factory

    assert _run(runner, "demo", "--load-only").exit_code == 0
    folder = tmp_path / "data" / "demo-workflows"  # in the data folder, beside the database
    shipped = sorted(p.name for p in SHIPPED_WORKFLOWS.glob("*.yaml"))
    assert sorted(p.name for p in folder.glob("*.yaml")) == shipped
    assert (folder / "scenarios" / "rush_order.yaml").exists()  # `simulate` works there too
    # the demo's consultant saves version N+1 there, as the studio does
    factory = load_factory(DEMO_FACTORY)
    source = (folder / "rush_order.yaml").read_text()
    newest = studio.version_files(folder, "rush_order")[-1].version
    saved = studio.save_draft(source.replace("deadline: 30m", "deadline: 25m"), folder=folder,
                              factory=factory, roles=factory.users["carla"]["roles"],
                              who="carla")  # fmt: skip
    assert saved.path.parent == folder and saved.version == newest + 1
    # every command on the demo factory uses that folder; a second demo keeps what was saved
    data = json.dumps({"order": {"order_id": "R-77", "sales_rep": "rita"}})
    started = _run(runner, "start", "rush_order", "--factory", str(DEMO_FACTORY),
                   "--as", "rita", "--data", data)  # fmt: skip
    assert started.exit_code == 0, started.output
    iid = started.output.strip().splitlines()[-1]
    shown = _run(runner, "show", iid, "--json", "--factory", str(DEMO_FACTORY))
    assert json.loads(shown.output)["version"] == newest + 1
    again = _run(runner, "demo", "--load-only")
    assert again.exit_code == 0 and saved.path.exists()
    assert f"workflows: {folder}" in again.output


@pytest.fixture
def served(demo_app: Any) -> Iterator[str]:
    with waitress_serving(demo_app, threads=4) as base:
        yield base


def test_event_stream_reaches_an_open_page_under_waitress(served, demo_app, demo_engine):
    from crmflow.core.people.accounts import add_user

    add_user(demo_engine, "paul", PASSWORD)
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = opener.open(f"{served}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    form = urllib.parse.urlencode({"username": "paul", "password": PASSWORD,
                                   "csrf_token": token}).encode()  # fmt: skip
    opener.open(urllib.request.Request(f"{served}/login", data=form,
                                       headers={"Origin": served}), timeout=10)  # fmt: skip
    stream = opener.open(f"{served}/events/stream", timeout=10)
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert stream.readline().startswith(b"retry:")  # the first chunk is flushed at once
    inst = next(i for i in demo_engine.list(workflow="demand_change")
                if i.state == "planner_review")  # fmt: skip
    demo_engine.fire(inst.id, "reject", actor="paul")  # as another process would
    demo_app.extensions["crmflow.live"].poll()
    lines = [stream.readline() for _ in range(3)]  # ": connected", "", then the event
    while lines[-1] != b"\n":
        lines.append(stream.readline())
    text = b"".join(lines).decode()
    assert "event: instance" in text and f'"id": {inst.id}' in text and '"to": "rejected"' in text
    stream.close()


def test_a_stream_left_open_ends_before_the_server_closes(demo_app, demo_engine):
    """A stream whose client neither reads on nor hangs up ends when the server stops: no
    waitress worker outlives the server (one that did wrote to a closed pipe's fd number)."""
    from .pages import token_for

    headers = token_for(demo_engine, "paul")
    with waitress_serving(demo_app, threads=2) as base:
        request = urllib.request.Request(f"{base}/events/stream", headers=headers)
        stream = urllib.request.urlopen(request, timeout=10)
        assert stream.readline().startswith(b"retry:")
        workers = [t for t in threading.enumerate() if t.name.startswith("waitress-")]
        assert workers
    assert not any(t.is_alive() for t in workers)
    assert stream.read() == b": connected\n\n"  # then the end, at once
    stream.close()
