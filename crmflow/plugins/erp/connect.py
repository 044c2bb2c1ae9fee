"""Open the configured ERP: the vendor client, its readers in sync order, its pusher."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .config import ErpConfig
from .transport import Http

__all__ = ["Connection", "connect"]


@dataclass
class Connection:
    """A live connection to the ERP for one sync or push round."""

    config: ErpConfig
    http: Http
    client: Any  # OdooClient or ErpNextClient
    sources: list[tuple[str, str, Callable[..., Any]]]

    def close(self) -> None:
        self.http.close()


def connect(
    config: ErpConfig, *, sleep: Callable[[float], None] | None = None,
    rush_tags: tuple[str, ...] = ("urgent", "rush"),
) -> Connection:  # fmt: skip
    """Connect as the config says (``protocol: auto`` asks Odoo's /web/version).

    ``rush_tags``: order tags (Odoo) or priorities (ERPNext) that mean a rush order.
    """
    http = Http(config.url, timeout=config.timeout, sleep=sleep or time.sleep,
                what="ERPNext" if config.kind == "erpnext" else "Odoo")  # fmt: skip
    try:
        if config.kind == "erpnext":
            from .erpnext import ErpNextClient, erpnext_sources

            client: Any = ErpNextClient(
                http, config.secret(config.api_key_env), config.secret(config.api_secret_env)
            )
            return Connection(config, http, client, erpnext_sources(client, config, rush_tags))
        from .odoo import OdooJson2, OdooJsonRpc, detect_version
        from .odoo_read import OdooReader, odoo_sources

        key = config.secret(config.api_key_env)
        protocol, version = config.protocol, (19, 0)  # type: tuple[str, tuple[int, ...]]
        if protocol == "auto":
            version = detect_version(http)
            protocol = "json2" if version >= (19,) else "jsonrpc"
        if protocol == "json2":
            client = OdooJson2(http, key, config.database, version)
        else:
            if not (config.database and config.login):
                from crmflow.errors import ConnectorError

                raise ConnectorError(
                    f"Odoo {'.'.join(map(str, version))} speaks JSON-RPC, which needs "
                    "connectors.erp database and login", reason="credentials",
                )  # fmt: skip
            client = OdooJsonRpc(http, config.database, config.login, key,
                                 version if config.protocol == "auto" else (17, 0))  # fmt: skip
        reader = OdooReader(client, config, rush_tags)
        return Connection(config, http, client, odoo_sources(reader))
    except BaseException:
        http.close()
        raise
