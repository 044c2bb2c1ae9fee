"""Odoo clients: JSON-2 (Odoo 19+), JSON-RPC ``execute_kw`` (Odoo 14-18), chosen by /web/version."""

from __future__ import annotations

import itertools
from typing import Any, Protocol

from crmflow.errors import ConnectorError

from .transport import Http, RemoteError, vendor_message

__all__ = ["OdooClient", "OdooJson2", "OdooJsonRpc", "detect_version"]

Domain = list[Any]


class OdooClient(Protocol):
    """The ORM calls the connector needs, whatever the protocol."""

    version: tuple[int, ...]

    def search_read(
        self,
        model: str,
        domain: Domain,
        fields: list[str],
        *,
        limit: int,
        offset: int = 0,
        order: str | None = None,
    ) -> list[dict[str, Any]]: ...
    def search(self, model: str, domain: Domain, *, limit: int | None = None) -> list[int]: ...
    def create(self, model: str, values: dict[str, Any]) -> int: ...
    def write(self, model: str, ids: list[int], values: dict[str, Any]) -> bool: ...


def _info(body: Any) -> Any:
    """``version_info`` or ``server_version_info`` of a version answer, if any."""
    if isinstance(body, dict):
        return body.get("server_version_info") or body.get("version_info")
    return None


def detect_version(http: Http) -> tuple[int, ...]:
    """The server's version: ``GET /web/version`` (Odoo 17+), else the JSON-RPC
    ``/web/webclient/version_info``, else ``common.version`` of ``/jsonrpc``."""
    info = None
    response = http.request("GET", "/web/version", accept=(404, 405))
    if response.status_code < 400:
        info = _info(response.json())
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": "call", "params": {}, "id": 0}
    if info is None:
        response = http.request("POST", "/web/webclient/version_info", json=body,
                                accept=(404, 405))  # fmt: skip
        if response.status_code < 400:
            info = _info(response.json().get("result"))
    if info is None:
        body["params"] = {"service": "common", "method": "version", "args": []}
        info = _info(http.request("POST", "/jsonrpc", json=body).json().get("result"))
    try:
        return tuple(int(x) for x in list(info or [])[:2])
    except (TypeError, ValueError):
        raise ConnectorError(
            f"could not tell the Odoo version from /web/version ({info!r}); set protocol: "
            "json2 (Odoo 19+) or jsonrpc (Odoo 14-18)",
            reason="remote",
        ) from None


class OdooJson2:
    """``POST /json/2/<model>/<method>`` with a bearer API key (Odoo 19+)."""

    def __init__(self, http: Http, api_key: str, database: str | None,
                 version: tuple[int, ...] = (19, 0)) -> None:  # fmt: skip
        self.http = http
        self.version = version
        http.client.headers["Authorization"] = f"bearer {api_key}"
        if database:
            http.client.headers["X-Odoo-Database"] = database

    def call(self, model: str, method: str, body: dict[str, Any], *, retries: int = 5) -> Any:
        path = f"/json/2/{model}/{method}"
        try:
            return self.http.request("POST", path, json=body, retries=retries).json()
        except RemoteError as exc:
            raise RemoteError(f"Odoo {model}.{method}: {exc}", status=exc.status) from None

    def search_read(self, model: str, domain: Domain, fields: list[str], *, limit: int,
                    offset: int = 0, order: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        body = {"domain": domain, "fields": fields, "limit": limit, "offset": offset}
        if order:
            body["order"] = order
        return list(self.call(model, "search_read", body))

    def search(self, model: str, domain: Domain, *, limit: int | None = None) -> list[int]:
        body: dict[str, Any] = {"domain": domain}
        if limit:
            body["limit"] = limit
        return [int(i) for i in self.call(model, "search", body)]

    def create(self, model: str, values: dict[str, Any]) -> int:
        ids = self.call(model, "create", {"vals_list": [values]}, retries=0)
        return int(ids[0] if isinstance(ids, list) else ids)

    def write(self, model: str, ids: list[int], values: dict[str, Any]) -> bool:
        return bool(self.call(model, "write", {"ids": ids, "vals": values}))


class OdooJsonRpc:
    """``POST /jsonrpc`` ``object.execute_kw`` with login + API key as password (14-18)."""

    def __init__(self, http: Http, database: str, login: str, api_key: str,
                 version: tuple[int, ...] = (17, 0)) -> None:  # fmt: skip
        self.http = http
        self.db, self.key = database, api_key
        self.version = version
        self._ids = itertools.count(1)
        uid = self._call("common", "authenticate", [database, login, api_key, {}])
        if not uid:
            raise ConnectorError(
                f"Odoo refused the login {login!r} on database {database!r} "
                "(authenticate answered false); check login and api_key_env",
                reason="credentials",
            )
        self.uid = int(uid)

    def _call(self, service: str, method: str, args: list[Any], *, retries: int = 5) -> Any:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(self._ids),
        }
        answer = self.http.request("POST", "/jsonrpc", json=body, retries=retries)
        try:
            data = answer.json()
        except ValueError:
            raise RemoteError(f"Odoo answered non-JSON: {vendor_message(answer)}") from None
        error = data.get("error")
        if error:
            detail = error.get("data") or {}
            name = str(detail.get("name") or "")
            message = str(detail.get("message") or error.get("message") or error)
            if name.endswith("AccessDenied"):
                raise ConnectorError(
                    f"Odoo refused the credentials: {message} ({name})", reason="credentials"
                )
            raise RemoteError(f"Odoo: {message}" + (f" ({name})" if name else ""), name=name)
        return data.get("result")

    def execute_kw(self, model: str, method: str, args: list[Any],
                   kwargs: dict[str, Any] | None = None, *, retries: int = 5) -> Any:  # fmt: skip
        return self._call(
            "object",
            "execute_kw",
            [self.db, self.uid, self.key, model, method, args, kwargs or {}],
            retries=retries,
        )  # fmt: skip

    def search_read(self, model: str, domain: Domain, fields: list[str], *, limit: int,
                    offset: int = 0, order: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        kwargs: dict[str, Any] = {"fields": fields, "limit": limit, "offset": offset}
        if order:
            kwargs["order"] = order
        return list(self.execute_kw(model, "search_read", [domain], kwargs))

    def search(self, model: str, domain: Domain, *, limit: int | None = None) -> list[int]:
        kwargs = {"limit": limit} if limit else {}
        return [int(i) for i in self.execute_kw(model, "search", [domain], kwargs)]

    def create(self, model: str, values: dict[str, Any]) -> int:
        result = self.execute_kw(model, "create", [values], retries=0)
        return int(result[0] if isinstance(result, list) else result)

    def write(self, model: str, ids: list[int], values: dict[str, Any]) -> bool:
        return bool(self.execute_kw(model, "write", [ids, values]))
