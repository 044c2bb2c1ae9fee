"""Fixtures of the notification tests: a factory, an engine, an SMTP server, robot stand-ins,
and the web app (the only fixtures that change when the web app's sign-in is merged)."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller

from crmflow.testing import FakeClock

from .standins import MailBox, RobotStandIn, free_port

TICKET = """\
workflow: ticket
version: 1
initial: open
states:
  open: {}
  done: {final: true}
transitions:
  - trigger: ping
    from: open
    do:
      - action: notify
        with:
          to: "{{ data.to }}"
          text: "Ticket {{ data.number }} needs you"
          urgent: "{{ data.urgent }}"
          channels: "{{ data.channels }}"
  - trigger: late
    from: open
    do:
      - action: notify
        with:
          to: "{{ data.to }}"
          template: late_in_state
          params: {what: "Ticket {{ data.number }}", state: "{{ state }}", owner: planner}
          link: "/tickets/{{ data.number }}"
  - {trigger: close, from: open, to: done}
"""

USERS = {
    "mia": {"roles": ["manager"], "email": "mia@example.com", "mobile": "13800000001"},
    "max": {"roles": ["manager", "supervisor"], "email": "max@example.com"},
    "paul": {"roles": ["planner"], "email": "paul@example.com", "language": "zh-CN"},
    "sam": {"roles": ["supervisor"]},
}
DEPARTMENTS = [
    {"id": "management", "members": ["mia", "max"], "roles": ["manager"]},
    {"id": "planning", "members": ["paul", "petra"], "roles": ["planner"]},
]


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "ticket.yaml").write_text(TICKET)
    return folder


@pytest.fixture
def write_factory(tmp_path: Path) -> Callable[..., Path]:
    """``write_factory(notify={...}, users={...}, timezone=...)`` -> the factory file."""

    def write(**overrides: Any) -> Path:
        doc: dict[str, Any] = {
            "factory": "plant", "timezone": "Europe/Berlin", "users": USERS,
            "departments": DEPARTMENTS, "notify": {},
        }  # fmt: skip
        doc.update(overrides)
        path = tmp_path / "plant.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
        return path

    return write


@pytest.fixture
def notify_engine(
    crmflow_engine: Callable[..., Any], workflows: Path, write_factory: Callable[..., Path]
) -> Callable[..., Any]:
    """``notify_engine(notify=..., users=...)``: an Engine of the plant on this test's clock."""

    def make(*, inline_outbox: bool = True, database_url: str | None = None,
             plugins: tuple[object, ...] = (), **factory: Any) -> Any:  # fmt: skip
        options: dict[str, Any] = {"inline_outbox": inline_outbox, "plugins": plugins}
        if database_url:
            options["database_url"] = database_url
        return crmflow_engine(workflows=workflows, factory=str(write_factory(**factory)),
                              **options)  # fmt: skip

    return make


@pytest.fixture
def ping(clock: FakeClock) -> Callable[..., int]:
    """``ping(engine, to, urgent=False, channels=None)``: start a ticket and fire `ping`."""

    def fire(engine: Any, to: Any, *, urgent: bool = False, channels: Any = None,
             number: str = "T-1") -> int:  # fmt: skip
        iid = engine.start("ticket", data={"to": to, "number": number, "urgent": urgent,
                                           "channels": channels or []})  # fmt: skip
        assert engine.fire(iid, "ping", actor="system").taken
        return int(iid)

    return fire


def _controller(box: MailBox, **kwargs: Any) -> Controller:
    return Controller(box, hostname="127.0.0.1", port=free_port(), **kwargs)


@pytest.fixture
def smtp() -> Iterator[tuple[MailBox, int]]:
    """A plain SMTP server on a free loopback port: ``(mailbox, port)``."""
    box = MailBox()
    controller = _controller(box)
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@pytest.fixture
def smtp_tls(tmp_path: Path) -> Iterator[tuple[MailBox, int, Path]]:
    """An SMTP server that requires STARTTLS (a certificate made here) and AUTH:
    ``(mailbox, port, ca file)``."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    box = MailBox()
    controller = _controller(
        box, tls_context=context, require_starttls=True, auth_required=True,
        auth_require_tls=True, authenticator=box.authenticate,
    )  # fmt: skip
    controller.start()
    try:
        yield box, controller.port, cafile
    finally:
        controller.stop()


@pytest.fixture
def robots(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[RobotStandIn]:
    """The three robot stand-ins, their hooks and secrets in the environment."""
    with RobotStandIn(clock) as stand_in:
        monkeypatch.setenv("WECOM_HOOK", f"{stand_in.base}/cgi-bin/webhook/send?key=wk-1")
        monkeypatch.setenv("DINGTALK_HOOK", f"{stand_in.base}/robot/send?access_token=dt-1")
        monkeypatch.setenv("DINGTALK_SECRET", "SECdingtalk")
        monkeypatch.setenv("FEISHU_HOOK", f"{stand_in.base}/open-apis/bot/v2/hook/fs-1")
        monkeypatch.setenv("FEISHU_SECRET", "feishu-secret")
        yield stand_in


ROBOT_CONFIG = {
    "wecom": {"webhook_env": "WECOM_HOOK"},
    "dingtalk": {"webhook_env": "DINGTALK_HOOK", "secret_env": "DINGTALK_SECRET"},
    "feishu": {"webhook_env": "FEISHU_HOOK", "secret_env": "FEISHU_SECRET"},
}


# -- the web app: these two fixtures are what changes when the sign-in app is merged --------


@pytest.fixture
def web_app(notify_engine: Callable[..., Any]) -> Iterator[Any]:
    """A Flask app with the notifications blueprint, Flask-Login and the engine."""
    from flask import Flask
    from flask_login import LoginManager, UserMixin, login_user

    from crmflow.plugins.notify.web import bp

    engine = notify_engine()
    app = Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="test")
    app.extensions["crmflow"] = engine
    manager = LoginManager(app)

    class User(UserMixin):
        def __init__(self, name: str) -> None:
            self.id = name
            self.username = name

    manager.user_loader(User)

    @app.post("/test-login/<name>")
    def test_login(name: str) -> str:
        login_user(User(name))
        return "ok"

    app.register_blueprint(bp)
    yield app


@pytest.fixture
def login(web_app: Any) -> Callable[[str], Any]:
    """``login(name)`` -> a test client signed in as that person."""

    def sign_in(name: str) -> Any:
        client = web_app.test_client()
        assert client.post(f"/test-login/{name}").status_code == 200
        return client

    return sign_in
