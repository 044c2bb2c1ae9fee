"""The factory's ``connectors.erp`` section: read, checked with file:line errors."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crmflow.core.engine.durations import DurationError, parse_duration
from crmflow.errors import ConnectorError, Problem, ValidationError

__all__ = ["ErpConfig", "erp_config"]

KINDS = ("odoo", "erpnext")
PROTOCOLS = ("auto", "json2", "jsonrpc")
KEYS = (
    "kind", "url", "database", "login", "api_key_env", "api_secret_env", "protocol", "every",
    "timeout", "page_size", "production_line", "warehouse", "company", "description",
)  # fmt: skip
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class ErpConfig:
    """A checked ``connectors.erp`` section."""

    kind: str
    url: str
    api_key_env: str
    timezone: ZoneInfo
    database: str | None = None
    login: str | None = None
    api_secret_env: str | None = None
    protocol: str = "auto"
    every: timedelta = timedelta(minutes=5)
    timeout: float = 30.0
    page_size: int = 500
    production_line: str = "ERP"
    warehouse: str | None = None
    company: str | None = None

    def secret(self, var: str | None) -> str:
        """The value of a secret's environment variable; a clear error when unset."""
        value = os.environ.get(var or "")
        if not value:
            raise ConnectorError(
                f"connectors.erp: the environment variable {var} (named by the factory) is "
                "not set; export it with the ERP's API key before syncing",
                reason="credentials",
            )
        return value


def erp_config(factory: Any) -> ErpConfig | None:
    """The ERP section of a :class:`FactoryConfig`, or None when it has none.

    Raises :class:`ValidationError` listing every problem at its file:line.
    """
    raw = (getattr(factory, "connectors", None) or {}).get("erp")
    if raw is None:
        return None
    problems: list[Problem] = []

    def error(message: str, *at: str, value: bool = True) -> None:
        file, line, column = factory.locate(("connectors", "erp", *at), value)
        problems.append(Problem(file, line, column, f"connectors.erp: {message}"))

    if not isinstance(raw, dict):
        error("must be a mapping with kind, url and api_key_env")
        raise ValidationError(problems)
    for key in raw:
        if key not in KEYS:
            hint = difflib.get_close_matches(str(key), KEYS, n=1, cutoff=0.6)
            error(f"unknown key {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""),
                  str(key), value=False)  # fmt: skip
    kind = raw.get("kind")
    if kind not in KINDS:
        error(f"kind must be one of {', '.join(KINDS)} (got {kind!r})", "kind")
    url = raw.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url):
        error(f"url must be an http(s) URL such as http://127.0.0.1:8069 (got {url!r})", "url")
    for name in ("api_key_env", "api_secret_env"):
        var = raw.get(name)
        if var is not None and not (isinstance(var, str) and _ENV.match(var)):
            error(f"{name} names an environment variable (LIKE_THIS), not a value", name)
    if not raw.get("api_key_env"):
        error("api_key_env is required: the name of the environment variable with the API key",
              value=False)  # fmt: skip
    protocol = raw.get("protocol", "auto")
    if protocol not in PROTOCOLS:
        error(f"protocol must be one of {', '.join(PROTOCOLS)} (got {protocol!r})", "protocol")
    if kind == "odoo" and protocol == "jsonrpc":
        for name in ("database", "login"):
            if not raw.get(name):
                error(f"{name} is required for protocol jsonrpc (Odoo 14-18)", value=False)
    if kind == "erpnext" and not raw.get("api_secret_env"):
        error("api_secret_env is required for ERPNext (token key:secret)", value=False)
    every = timedelta(minutes=5)
    try:
        every = parse_duration(raw.get("every", "5m"))
        if every < timedelta(seconds=10):
            error("every must be at least 10s", "every")
    except DurationError as exc:
        error(f"every: {exc}", "every")
    numbers: dict[str, float] = {}
    for name, default, low in (("timeout", 30.0, 0.1), ("page_size", 500, 1)):
        value = raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
            error(f"{name} must be a number of at least {low:g} (got {value!r})", name)
            value = default
        numbers[name] = value
    if problems:
        raise ValidationError(problems)
    optional = {k: str(raw[k]) for k in ("database", "login", "api_secret_env", "warehouse",
                                           "company", "production_line") if raw.get(k)}  # fmt: skip
    return ErpConfig(
        kind=str(kind), url=str(url).rstrip("/"), api_key_env=str(raw["api_key_env"]),
        timezone=factory.timezone, protocol=str(protocol), every=every,
        timeout=float(numbers["timeout"]), page_size=min(int(numbers["page_size"]), 5000),
        **optional,
    )  # fmt: skip
