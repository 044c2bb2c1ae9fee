"""Real servers for the notification tests: SMTP (aiosmtpd) and the three group robots over HTTP.

The robot stand-ins follow the vendors' robot documentation: where the hook
lives, how the request is signed, and the error codes each answers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["MailBox", "RobotStandIn", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MailBox:
    """An aiosmtpd handler keeping what arrives; it can refuse recipients or data."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    rcpt_reply: str | None = None  # e.g. "550 5.1.1 no such user", "451 4.3.0 try later"
    logins: list[str] = field(default_factory=list)
    password: str = "s3cret"
    tls_sessions: list[bool] = field(default_factory=list)
    #: set to make DATA wait (after keeping the mail) until ``release`` is set
    hold: threading.Event | None = None
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:  # fmt: skip
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), msg))
        self.tls_sessions.append(session.ssl is not None)
        if self.hold is not None:
            self.hold.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:  # fmt: skip
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        ok = auth_data.password.decode() == self.password
        if ok:
            self.logins.append(login)
        return AuthResult(success=ok, handled=False)


@dataclass
class Post:
    kind: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    answer: dict[str, Any]
    status: int


class RobotStandIn:
    """WeCom, DingTalk and Feishu robot hooks on one loopback HTTP server.

    - WeCom: ``POST /cgi-bin/webhook/send?key=KEY``; 93000 for an unknown key,
      45009 "api freq out of limit" when rate limited. No signature.
    - DingTalk: ``POST /robot/send?access_token=T&timestamp=MS&sign=S`` with
      ``S = base64(HmacSHA256(key=secret, "MS\\nsecret"))`` (URL-encoded);
      310000 "sign not match" for a bad or stale (over one hour) signature,
      300001 "token is not exist", 130101 "send too fast" when rate limited.
    - Feishu: ``POST /open-apis/bot/v2/hook/ID`` with ``timestamp`` (s) and
      ``sign = base64(HmacSHA256(key="ts\\nsecret", ""))`` in the JSON body;
      19021 "sign match fail or timestamp is not within one hour", 19001 for
      an unknown hook, 11232 "frequency limited".
    """

    def __init__(
        self, clock: Callable[[], datetime], *, wecom_key: str = "wk-1",
        dingtalk_token: str = "dt-1", dingtalk_secret: str = "SECdingtalk",
        feishu_hook: str = "fs-1", feishu_secret: str = "feishu-secret",
    ) -> None:  # fmt: skip
        self.clock = clock
        self.wecom_key, self.dingtalk_token = wecom_key, dingtalk_token
        self.dingtalk_secret, self.feishu_hook, self.feishu_secret = (
            dingtalk_secret, feishu_hook, feishu_secret,
        )  # fmt: skip
        self.posts: list[Post] = []
        self.scripted: dict[str, list[str]] = {"wecom": [], "dingtalk": [], "feishu": []}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RobotStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, kind: str, *answers: str) -> None:
        """Answer the next posts to ``kind`` with ``"rate"`` (rate limited) or ``"503"``."""
        self.scripted[kind].extend(answers)

    def accepted(self, kind: str) -> list[Post]:
        return [p for p in self.posts if p.kind == kind and p.status == 200 and
                p.answer.get("errcode", p.answer.get("code")) == 0]  # fmt: skip

    # -- the vendors' rules --------------------------------------------------------

    def _wecom(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if query.get("key") != self.wecom_key:
            return {"errcode": 93000, "errmsg": "invalid webhook url, hint: [1700000000_1]"}
        if body.get("msgtype") != "markdown" or not body.get("markdown", {}).get("content"):
            return {"errcode": 40008, "errmsg": "invalid message type"}
        return {"errcode": 0, "errmsg": "ok"}

    def _dingtalk(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if query.get("access_token") != self.dingtalk_token:
            return {"errcode": 300001, "errmsg": "token is not exist"}
        stamp = query.get("timestamp", "")
        expected = base64.b64encode(hmac.new(
            self.dingtalk_secret.encode("utf-8"),
            f"{stamp}\n{self.dingtalk_secret}".encode(), digestmod=hashlib.sha256,
        ).digest()).decode()  # fmt: skip
        fresh = stamp.isdigit() and abs(self.clock().timestamp() * 1000 - int(stamp)) < 3600_000
        if query.get("sign") != expected or not fresh:
            return {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc."
                    "dingtalk.com/doc#/serverapi2/qf2nxq]"}  # fmt: skip
        markdown = body.get("markdown") or {}
        if body.get("msgtype") != "markdown" or not markdown.get("title") or not markdown.get(
            "text"
        ):
            return {"errcode": 40035, "errmsg": "缺少参数 json"}
        return {"errcode": 0, "errmsg": "ok"}

    def _feishu(self, hook: str, body: dict[str, Any]) -> dict[str, Any]:
        if hook != self.feishu_hook:
            return {"code": 19001, "data": {}, "msg": "param invalid: incoming webhook access "
                    "token invalid"}  # fmt: skip
        stamp = str(body.get("timestamp", ""))
        key = f"{stamp}\n{self.feishu_secret}".encode()
        expected = base64.b64encode(hmac.new(key, digestmod=hashlib.sha256).digest()).decode()
        fresh = stamp.isdigit() and abs(self.clock().timestamp() - int(stamp)) < 3600
        if body.get("sign") != expected or not fresh:
            return {"code": 19021, "data": {}, "msg": "sign match fail or timestamp is not "
                    "within one hour from current time"}  # fmt: skip
        if body.get("msg_type") not in ("text", "post", "interactive", "share_chat", "image"):
            return {"code": 9499, "data": {}, "msg": "Bad Request"}
        return {"code": 0, "data": {}, "msg": "success"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if url.path == "/cgi-bin/webhook/send":
                    kind = "wecom"
                elif url.path == "/robot/send":
                    kind = "dingtalk"
                elif url.path.startswith("/open-apis/bot/v2/hook/"):
                    kind = "feishu"
                else:
                    self._answer(404, {"error": "not found"}, "none", url.path, query, {})
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._answer(400, {"errcode": 40001, "errmsg": "bad json"}, kind, url.path,
                                 query, {})  # fmt: skip
                    return
                forced = stand_in.scripted[kind].pop(0) if stand_in.scripted[kind] else None
                if forced == "503":
                    self._answer(503, {"errmsg": "busy"}, kind, url.path, query, body)
                    return
                if forced == "rate":
                    answer = {
                        "wecom": {"errcode": 45009, "errmsg": "api freq out of limit"},
                        "dingtalk": {"errcode": 130101, "errmsg": "send too fast, exceed 20 "
                                     "times per minute"},
                        "feishu": {"code": 11232, "data": {}, "msg": "frequency limited "
                                   "psm[lark.oapi.app_platform_runtime]appID[1]"},
                    }[kind]  # fmt: skip
                elif kind == "wecom":
                    answer = stand_in._wecom(query, body)
                elif kind == "dingtalk":
                    answer = stand_in._dingtalk(query, body)
                else:
                    answer = stand_in._feishu(url.path.rsplit("/", 1)[-1], body)
                self._answer(200, answer, kind, url.path, query, body)

            def _answer(self, status: int, answer: dict[str, Any], kind: str, path: str,
                        query: dict[str, str], body: dict[str, Any]) -> None:  # fmt: skip
                stand_in.posts.append(Post(kind, path, query, body, answer, status))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
