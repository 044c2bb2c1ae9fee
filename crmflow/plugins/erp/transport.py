"""HTTP to the ERP: one reused httpx client, timeouts, retries with backoff, vendor errors."""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from crmflow.errors import ConnectorError

__all__ = ["MAX_RETRIES", "Http", "RemoteError", "backoff_delay", "vendor_message"]

MAX_RETRIES = 5
_CAP = 20.0  # seconds; 1+2+4+8+16 ≈ 31 s of backoff in all, within about a minute


class RemoteError(ConnectorError):
    """The ERP answered with its own error (a validation error, a missing field …)."""

    def __init__(self, message: str, *, name: str | None = None, status: int | None = None):
        super().__init__(message, reason="remote", status=status)
        self.name = name


def backoff_delay(attempt: int, retry_after: float | None, rand: Callable[[], float]) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``Retry-After`` when the
    server gave one, else exponential from 1 s with full jitter in [50 %, 100 %]."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), 60.0)
    return min(_CAP, 2.0 ** (attempt - 1)) * (0.5 + rand() / 2)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def vendor_message(response: httpx.Response) -> str:
    """The ERP's own words for an error response (Odoo JSON-2, Frappe, or the raw text)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):  # Odoo JSON-2: {"name", "message", ...}
            name = body.get("name")
            return f"{body['message']} ({name})" if name else str(body["message"])
        server = body.get("_server_messages")  # Frappe: a JSON list of JSON messages
        if isinstance(server, str):
            try:
                texts = [json.loads(m).get("message", m) for m in json.loads(server)]
                return "; ".join(str(t) for t in texts)[:500]
            except (ValueError, AttributeError, TypeError):
                return server[:500]
        for key in ("exception", "_error_message", "exc_type"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return str(body)[:500]


class Http:
    """A keep-alive client for one ERP base URL.

    Every call has a timeout. 401/403 raise :class:`ConnectorError` with
    ``reason="credentials"`` at once; 429, 5xx, timeouts and lost connections
    are retried up to :data:`MAX_RETRIES` times (``retries=0`` for calls that
    must not be repeated blindly), waiting through ``sleep`` so tests pass a
    fake. Other 4xx raise :class:`RemoteError` with the vendor's message.
    """

    def __init__(
        self, base_url: str, *, headers: dict[str, str] | None = None, timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep, rand: Callable[[], float] = random.random,
        what: str = "the ERP",
    ) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.what = what
        self.sleep = sleep
        self.rand = rand
        self.waited: list[float] = []
        self.client = httpx.Client(
            base_url=self.base_url,
            headers={"User-Agent": "crmflow-erp", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_keepalive_connections=4, max_connections=8),
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
        retries: int = MAX_RETRIES, accept: tuple[int, ...] = (),
    ) -> httpx.Response:  # fmt: skip
        """Send one request with the retry rules above; return the successful response.

        ``accept`` lists extra statuses returned to the caller instead of raised.
        """
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = self.client.request(method, path, json=json, params=params)
            except httpx.TimeoutException as exc:
                reason = f"{self.what} did not answer in time ({type(exc).__name__})"
            except httpx.TransportError as exc:
                reason = f"{self.what} could not be reached at {self.base_url}: {exc}"
            else:
                status = response.status_code
                if status < 400 or status in accept:
                    return response
                if status in (401, 403):
                    raise ConnectorError(
                        f"{self.what} refused the credentials (HTTP {status}: "
                        f"{vendor_message(response)}); check the api key / login settings",
                        reason="credentials",
                        status=status,
                    )
                if status != 429 and status < 500:
                    raise RemoteError(
                        f"{self.what} answered HTTP {status}: {vendor_message(response)}",
                        status=status,
                    )
                retry_after = _retry_after(response)
                reason = f"{self.what} answered HTTP {status}: {vendor_message(response)}"
            if attempt > retries:
                raise ConnectorError(
                    f"{reason} (gave up after {attempt} attempt{'s' * (attempt > 1)})",
                    reason="unavailable",
                )
            delay = backoff_delay(attempt, retry_after, self.rand)
            self.waited.append(delay)
            self.sleep(delay)
