"""Group robots: WeCom, DingTalk and Feishu webhooks with markdown, signed where documented."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

from .base import Permanent, Transient, env_value

__all__ = ["ROBOTS", "post_robot", "sign_dingtalk", "sign_feishu"]

ROBOTS = ("wecom", "dingtalk", "feishu")

# Answers that a later try can cure; any other non-zero code is a refusal for good.
#   WeCom: 45009 api freq out of limit, -1 system busy.
#   DingTalk: 130101 send too fast (20 a minute), 410100 rate limited, -1 system busy.
#   Feishu: 11232 frequency limited.
RETRYABLE = {"wecom": {45009, -1}, "dingtalk": {130101, 410100, -1}, "feishu": {11232}}


def sign_dingtalk(secret: str, timestamp_ms: int) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")), ms timestamp."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def sign_feishu(secret: str, timestamp_s: int) -> str:
    """Feishu: base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=b"")), s timestamp."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def _request(kind: str, config: dict[str, Any], title: str, text: str, urgent: bool,
             mobiles: list[str], now: datetime) -> tuple[str, dict[str, Any]]:  # fmt: skip
    url = str(env_value(config, "webhook_env", kind))
    secret = env_value(config, "secret_env", kind, required=False)
    if kind == "wecom":
        return url, {"msgtype": "markdown", "markdown": {"content": text}}
    if kind == "dingtalk":
        if mobiles:
            text += "\n\n" + " ".join(f"@{m}" for m in mobiles)
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": text},
                "at": {"atMobiles": mobiles, "isAtAll": False}}  # fmt: skip
        if secret:
            stamp = int(now.timestamp() * 1000)
            signed = {"timestamp": stamp, "sign": sign_dingtalk(secret, stamp)}
            query = urllib.parse.urlencode(signed)
            url += ("&" if "?" in url else "?") + query
        return url, body
    card = {
        "header": {"title": {"tag": "plain_text", "content": title},
                   "template": "red" if urgent else "blue"},
        "elements": [{"tag": "markdown", "content": text}],
    }  # fmt: skip
    body = {"msg_type": "interactive", "card": card}
    if secret:
        stamp = int(now.timestamp())
        body.update(timestamp=str(stamp), sign=sign_feishu(secret, stamp))
    return url, body


def post_robot(
    kind: str, config: dict[str, Any], title: str, text: str, *, urgent: bool = False,
    mobiles: list[str] | None = None, now: datetime,
) -> None:  # fmt: skip
    """Post a markdown message to a group robot; raise Permanent or Transient on failure."""
    url, body = _request(kind, config, title, text, urgent, list(mobiles or ()), now)
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    timeout = float(config.get("timeout") or 10)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        after = exc.headers.get("Retry-After") if exc.headers else None
        exc.close()
        message = f"{kind}: HTTP {exc.code} {exc.reason}"
        if exc.code == 429 or exc.code >= 500:
            raise Transient(message, _seconds(after)) from exc
        raise Permanent(message + " (check the webhook address)") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        raise Transient(f"{kind}: {getattr(exc, 'reason', exc)}") from exc
    try:
        answer = json.loads(raw or b"{}")
    except ValueError as exc:
        raise Transient(f"{kind}: the answer is not JSON: {raw[:200]!r}") from exc
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
    if code in (0, None):
        return
    message = f"{kind}: {code} {answer.get('errmsg') or answer.get('msg') or ''}".strip()
    if code in RETRYABLE[kind]:
        raise Transient(message)
    raise Permanent(message)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
