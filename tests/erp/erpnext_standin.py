"""An ERPNext 15 stand-in over real HTTP, written from Frappe's REST API docs.

``/api/resource/<DocType>`` lists (``fields``, ``filters`` as JSON lists of
``[field, op, value]``, ``order_by``, ``limit_start``/``limit_page_length``,
default page 20) answer ``{"data": [...]}``; ``/api/resource/<DocType>/<name>``
reads (with child tables), ``POST`` inserts and ``PUT`` updates a document.
``Authorization: token key:secret``; errors as Frappe sends them (401
AuthenticationError, 404 DoesNotExistError, 417 ValidationError with
``_server_messages``). Documents keep ``modified``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["ErpNextStandin"]


def _compare(op: str, have: Any, want: Any) -> bool:
    if op == "=":
        return bool(have == want)
    if op == "!=":
        return bool(have != want)
    if op == "in":
        return have in want
    if op == "not in":
        return have not in want
    if op == "like":
        return str(want).strip("%").lower() in str(have or "").lower()
    if have is None:
        return False
    return bool({">": have > want, ">=": have >= want, "<": have < want, "<=": have <= want}[op])


class ErpNextStandin:
    """In-memory Frappe site: ``add``/``update`` documents, ``fail`` on demand."""

    def __init__(self, key: str = "api-key", secret: str = "api-secret") -> None:
        self.key, self.secret = key, secret
        self.docs: dict[str, dict[str, dict[str, Any]]] = {}
        self.now = "2026-01-05 08:00:00.000000"
        self.faults: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.lock = threading.RLock()
        self.counter = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        # a client killed or timed out mid-answer is part of the tests, not a server error
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> ErpNextStandin:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, doctype: str, name: str | None = None, **values: Any) -> str:
        with self.lock:
            if name is None:
                self.counter += 1
                name = f"{''.join(w[0] for w in doctype.split()).upper()}-{self.counter:05d}"
            self.docs.setdefault(doctype, {})[name] = {
                "name": name, "docstatus": 0, **values, "modified": self.now}
            return name

    def update(self, doctype: str, name: str, **values: Any) -> None:
        with self.lock:
            self.docs[doctype][name].update(values, modified=self.now)

    def fail(self, kind: str, *, times: int = 1, retry_after: int | None = None) -> None:
        """Fail the next calls: ``429``, ``500``, ``401`` or ``drop`` (after committing)."""
        self.faults.append({"kind": kind, "times": times, "retry_after": retry_after})

    def _match(self, doc: dict[str, Any], filters: Any) -> bool:
        if isinstance(filters, dict):
            filters = [[k, "=", v] for k, v in filters.items()]
        for cond in filters:
            field, op, want = cond[-3:]
            if not _compare(op, doc.get(field), want):
                return False
        return True


    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _gate(self) -> tuple[bool, str | None]:
                site.calls.append(f"{self.command} {unquote(urlsplit(self.path).path)}")
                if self.headers.get("Authorization") != f"token {site.key}:{site.secret}":
                    self._send(401, {"exc_type": "AuthenticationError",
                                     "exception": "frappe.exceptions.AuthenticationError"})
                    return False, None
                with site.lock:
                    fault = next((f for f in site.faults if f["times"] > 0), None)
                    if fault:
                        fault["times"] -= 1
                kind = fault["kind"] if fault else None
                if kind == "429":
                    extra = {"Retry-After": str(fault["retry_after"])} if fault and \
                        fault["retry_after"] is not None else {}  # fmt: skip
                    self._send(429, {"exc_type": "TooManyRequests"}, extra)
                    return False, None
                if kind == "500":
                    self._send(500, {"exc_type": "Exception", "exception": "Internal Error"})
                    return False, None
                if kind == "401":
                    self._send(401, {"exc_type": "AuthenticationError"})
                    return False, None
                return True, kind

            def _parts(self) -> tuple[str, str | None, dict[str, list[str]]]:
                split = urlsplit(self.path)
                parts = [unquote(p) for p in split.path.split("/")[3:]]
                return parts[0], (parts[1] if len(parts) > 1 else None), parse_qs(split.query)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                ok, _ = self._gate()
                if not ok:
                    return
                doctype, name, query = self._parts()
                table = site.docs.get(doctype, {})
                if name is not None:
                    if name not in table:
                        self._send(404, {"exc_type": "DoesNotExistError",
                                         "exception": f"{doctype} {name} not found"})
                        return
                    self._send(200, {"data": table[name]})
                    return
                fields = json.loads(query.get("fields", ['["name"]'])[0])
                filters = json.loads(query.get("filters", ["[]"])[0])
                start = int(query.get("limit_start", ["0"])[0])
                length = int(query.get("limit_page_length", ["20"])[0])
                found = [d for d in table.values() if site._match(d, filters)]
                for spec in reversed(query.get("order_by", ["modified desc"])[0].split(",")):
                    field, _, way = spec.strip().partition(" ")
                    found.sort(key=lambda d, f=field: str(d.get(f) or ""),
                               reverse=way.strip().lower() == "desc")
                page = found[start:start + length] if length else found[start:]
                rows = [d if fields == ["*"] else {f: d.get(f) for f in fields} for d in page]
                self._send(200, {"data": rows})

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                return dict(json.loads(self.rfile.read(length) or b"{}"))

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                ok, kind = self._gate()
                if not ok:
                    return
                doctype, _, _ = self._parts()
                items = body.get("items") or []
                unknown = [i.get("item_code") for i in items
                           if i.get("item_code") not in site.docs.get("Item", {})]
                if doctype == "Material Request" and (not items or unknown):
                    text = f"Could not find Item: {unknown[0]}" if unknown else "Items are required"
                    msg = json.dumps([json.dumps({"message": text})])
                    self._send(417, {"exc_type": "ValidationError", "_server_messages": msg})
                    return
                name = site.add(doctype, **body)
                if kind == "drop":
                    self.close_connection = True
                    return
                self._send(200, {"data": site.docs[doctype][name]})

            def do_PUT(self) -> None:  # noqa: N802
                body = self._body()
                ok, _ = self._gate()
                if not ok:
                    return
                doctype, name, _ = self._parts()
                if name not in site.docs.get(doctype, {}):
                    self._send(404, {"exc_type": "DoesNotExistError"})
                    return
                site.update(doctype, name, **body)
                self._send(200, {"data": site.docs[doctype][name]})

        return Handler
