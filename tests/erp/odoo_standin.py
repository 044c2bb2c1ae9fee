"""An Odoo server stand-in over real HTTP, written from Odoo's External (JSON-2 / RPC) API docs.

Speaks ``POST /json/2/<model>/<method>`` (bearer key, ``X-Odoo-Database``,
errors as 4xx/5xx ``{"name", "message", ...}``), ``POST /jsonrpc``
(``common.version``/``authenticate``, ``object.execute_kw``; errors as HTTP 200
``{"error": {"data": {"name", "message"}}}``) and ``/web/version``. Keeps
records with ``write_date``, pages ``search_read`` by limit/offset/order and
fails on demand (429 with Retry-After, 500, 401, a dropped answer after the
call committed, a held answer the client times out on).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["OdooStandin"]

M2O = {
    "partner_id": "res.partner", "product_id": "product.product", "categ_id": "product.category",
    "industry_id": "res.partner.industry", "country_id": "res.country", "user_id": "res.users",
    "location_id": "stock.location", "picking_id": "stock.picking",
}  # fmt: skip
PARENT = {"sale.order.line": "sale.order", "purchase.order.line": "purchase.order"}


class _Fault(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


def _error(status: int, name: str, message: str) -> _Fault:
    return _Fault(status, {"name": name, "message": message, "arguments": [message],
                           "context": {}, "debug": ""})  # fmt: skip


class OdooStandin:
    """In-memory Odoo: ``add``/``write`` records, ``fail`` on demand, serve on a free port."""

    def __init__(self, *, version: tuple[int, int] = (19, 0), api_key: str = "secret-key",
                 database: str = "prod", login: str = "crmflow@example.com") -> None:  # fmt: skip
        self.version, self.api_key, self.database, self.login = version, api_key, database, login
        self.models: dict[str, dict[int, dict[str, Any]]] = {}
        self.next_id = 1
        self.now = "2026-01-05 08:00:00"
        self.faults: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.protocols: list[str] = []  # "json2" / "jsonrpc" per ORM call
        self.on_call: Callable[[int], None] | None = None
        self.lock = threading.RLock()
        self.release = threading.Event()
        self.absent: dict[str, set[str]] = {}  # model -> fields a module would add ("*": model)
        self._index: dict[tuple[str, str], dict[Any, list[int]]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        # a client killed or timed out mid-answer is part of the tests, not a server error
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- data ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> OdooStandin:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def add(self, model: str, **values: Any) -> int:
        with self.lock:
            rid = self.next_id
            self.next_id += 1
            self.models.setdefault(model, {})[rid] = {"id": rid, **values, "write_date": self.now}
            self._index = {k: v for k, v in self._index.items() if k[0] != model}
            return rid

    def write(self, model: str, rid: int, **values: Any) -> None:
        with self.lock:
            self.models[model][rid].update(values, write_date=self.now)
            self._index = {k: v for k, v in self._index.items() if k[0] != model}

    def records(self, model: str) -> list[dict[str, Any]]:
        return list(self.models.get(model, {}).values())

    def fail(self, kind: str, *, method: str | None = None, times: int = 1,
             retry_after: int | None = None) -> None:  # fmt: skip
        """Fail the next ``times`` calls (of ``model.method`` when given): ``429``, ``500``,
        ``401``, ``drop`` (do the call, then close without answering), ``hold`` (answer
        nothing until the client gives up) or ``validation`` (Odoo's ValidationError)."""
        self.faults.append({"kind": kind, "method": method, "times": times,
                            "retry_after": retry_after})  # fmt: skip

    def exp_version(self) -> dict[str, Any]:
        """What Odoo's ``common.version`` answers."""
        major, minor = self.version
        return {"server_version": f"{major}.{minor}", "server_serie": f"{major}.{minor}",
                "server_version_info": [major, minor, 0, "final", 0, ""],
                "protocol_version": 1}

    # -- ORM -------------------------------------------------------------------------------

    def _value(self, model: str, rec: dict[str, Any], path: str) -> Any:
        head, _, rest = path.partition(".")
        if head == "state" and model in PARENT and "state" not in rec:
            parent = self.models[PARENT[model]].get(rec["order_id"], {})
            return parent.get("state")
        value = rec.get(head, False)
        if rest:
            target = M2O.get(head)
            sub = self.models.get(target or "", {}).get(value) if value else None
            return self._value(target or "", sub, rest) if sub else False
        return value

    def _match(self, model: str, rec: dict[str, Any], domain: list[Any]) -> bool:
        def leaf(term: list[Any]) -> bool:
            field, op, want = term
            have = self._value(model, rec, field)
            if op == "=":
                return bool(have == want)
            if op == "!=":
                return bool(have != want)
            if op == "in":
                return have in want
            if op == "not in":
                return have not in want
            if op in ("like", "ilike"):
                return str(want).lower() in str(have or "").lower()
            if have is False or have is None:
                return False
            return bool({">": have > want, ">=": have >= want, "<": have < want,
                         "<=": have <= want}[op])  # fmt: skip

        def parse(i: int) -> tuple[bool, int]:
            token = domain[i]
            if token == "!":
                value, j = parse(i + 1)
                return not value, j
            if token in ("&", "|"):
                a, j = parse(i + 1)
                b, k = parse(j)
                return (a and b) if token == "&" else (a or b), k
            return leaf(list(token)), i + 1

        i = 0
        while i < len(domain):
            value, i = parse(i)
            if not value:
                return False
        return True

    def _candidates(self, model: str, domain: list[Any]) -> list[dict[str, Any]]:
        table = self.models.get(model, {})
        first = domain[0] if domain else None
        if isinstance(first, list | tuple) and first[1] == "in" and first[0].endswith("_id") \
                and "." not in first[0]:  # fmt: skip
            index = self._index.get((model, first[0]))
            if index is None:
                index = {}
                for rec in table.values():
                    index.setdefault(rec.get(first[0]), []).append(rec["id"])
                self._index[(model, first[0])] = index
            return [table[i] for v in first[2] for i in index.get(v, [])]
        if isinstance(first, list | tuple) and first[0] == "id" and first[1] in ("in", "="):
            ids = first[2] if first[1] == "in" else [first[2]]
            return [table[i] for i in ids if i in table]
        return list(table.values())

    def _render(self, model: str, rec: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": rec["id"]}
        for f in fields or list(rec):
            value = self._value(model, rec, f)
            if f in M2O or (f == "order_id" and model in PARENT):
                target = M2O.get(f) or PARENT[model]
                other = self.models.get(target, {}).get(value) if value else None
                value = [value, other.get("complete_name") or other.get("name")] if other else False
            out[f] = value
        return out

    def search_read(self, model: str, domain: list[Any] | None = None,
                    fields: list[str] | None = None, limit: int | None = None, offset: int = 0,
                    order: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        found = self._search(model, domain or [], limit, offset, order)
        return [self._render(model, r, fields or []) for r in found]

    def _search(self, model: str, domain: list[Any], limit: int | None, offset: int,
                order: str | None) -> list[dict[str, Any]]:  # fmt: skip
        found = [r for r in self._candidates(model, domain) if self._match(model, r, domain)]
        keys = [p.split() for p in (order or "id asc").split(",")]
        for spec in reversed(keys):
            found.sort(key=lambda r, f=spec[0]: (r.get(f) is None, r.get(f) or 0),
                       reverse=len(spec) > 1 and spec[1].lower() == "desc")  # fmt: skip
        return found[offset:][:limit] if limit else found[offset:]

    def call(self, model: str, method: str, args: list[Any], kw: dict[str, Any]) -> Any:
        absent = self.absent.get(model, set())
        if "*" in absent:
            raise _error(404, "builtins.KeyError", f"Object {model} doesn't exist")
        for f in kw.get("fields") or []:
            if f in absent:
                raise _error(422, "builtins.ValueError", f"Invalid field {f!r} on model {model!r}")
        with self.lock:
            if method == "search_read":
                domain = args[0] if args else kw.pop("domain", [])
                return self.search_read(model, domain, **kw)
            if method == "search":
                domain = args[0] if args else kw.pop("domain", [])
                return [r["id"] for r in self._search(model, domain, kw.get("limit"),
                                                      kw.get("offset", 0), kw.get("order"))]
            if method == "search_count":
                return len(self._search(model, args[0] if args else kw["domain"], None, 0, None))
            if method == "read":
                ids = args[0] if args else kw["ids"]
                return [self._render(model, self.models[model][i], kw.get("fields") or [])
                        for i in ids]  # fmt: skip
            if method == "create":
                vals_list = args[0] if args else kw["vals_list"]
                single = isinstance(vals_list, dict)
                ids = [self._create(model, v) for v in ([vals_list] if single else vals_list)]
                return ids[0] if single else ids
            if method == "write":
                ids, vals = (args[0], args[1]) if args else (kw["ids"], kw["vals"])
                for i in ids:
                    self.write(model, i, **vals)
                return True
        raise _error(400, "builtins.AttributeError",
                     f"The method '{method}' does not exist on the model '{model}'")

    def _create(self, model: str, vals: dict[str, Any]) -> int:
        vals = dict(vals)
        lines = vals.pop("order_line", [])
        if model == "purchase.order":
            if not vals.get("partner_id"):
                raise _error(422, "odoo.exceptions.ValidationError", "Vendor is required")
            n = len(self.models.get(model, {})) + 1
            vals.setdefault("name", f"P{n:05d}")
            vals.setdefault("state", "draft")
        rid = self.add(model, **vals)
        for _zero, _none, line in lines:
            self.add(f"{model}.line", order_id=rid, **line)
        return rid

    # -- HTTP ------------------------------------------------------------------------------

    def _fault_for(self, what: str) -> dict[str, Any] | None:
        with self.lock:
            for fault in self.faults:
                if fault["times"] > 0 and (fault["method"] is None or fault["method"] == what):
                    fault["times"] -= 1
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path == "/web/version" and standin.version >= (17, 0):
                    self._send(200, standin.exp_version())
                else:
                    self._send(404, {"name": "werkzeug.exceptions.NotFound", "message": "404"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.startswith("/json/2/") and standin.version >= (19, 0):
                    self._json2(body)
                elif self.path == "/jsonrpc":
                    self._jsonrpc(body)
                elif self.path == "/web/webclient/version_info":
                    self._send(200, {"jsonrpc": "2.0", "id": body.get("id"),
                                     "result": standin.exp_version()})
                else:
                    self._send(404, {"name": "werkzeug.exceptions.NotFound", "message": "404"})

            def _run(self, what: str, work: Callable[[], Any]) -> tuple[bool, Any]:
                """Apply faults around ``work``; False when the answer was already sent/dropped."""
                standin.calls.append(what)
                if standin.on_call is not None:
                    standin.on_call(len(standin.calls))
                fault = standin._fault_for(what)
                kind = fault["kind"] if fault else None
                if kind == "429":
                    headers = {"Retry-After": str(fault["retry_after"])} \
                        if fault["retry_after"] is not None else {}  # type: ignore[index]
                    self._send(429, {"name": "TooManyRequests", "message": "slow down"}, headers)
                    return False, None
                if kind == "500":
                    self._send(500, {"name": "builtins.Exception", "message": "server exploded"})
                    return False, None
                if kind == "401":
                    self._send(401, {"name": "werkzeug.exceptions.Unauthorized",
                                     "message": "Invalid apikey"})
                    return False, None
                if kind == "validation":
                    raise _error(422, "odoo.exceptions.ValidationError",
                                 "The product is archived")
                result = work()
                if kind in ("drop", "hold"):
                    if kind == "hold":
                        standin.release.wait(5)
                    self.close_connection = True
                    return False, None
                return True, result

            def _json2(self, body: dict[str, Any]) -> None:
                standin.protocols.append("json2")
                auth = self.headers.get("Authorization") or ""
                if auth.lower() != f"bearer {standin.api_key}":
                    self._send(401, {"name": "werkzeug.exceptions.Unauthorized",
                                     "message": "Invalid apikey"})
                    return
                db = self.headers.get("X-Odoo-Database")
                if db is not None and db != standin.database:
                    self._send(404, {"name": "werkzeug.exceptions.NotFound",
                                     "message": f"database {db!r} not found"})
                    return
                parts = self.path.split("/")
                model, method = parts[3], parts[4]
                kw = dict(body)
                kw.pop("context", None)
                try:
                    ok, result = self._run(f"{model}.{method}",
                                           lambda: standin.call(model, method, [], kw))
                except _Fault as fault:
                    self._send(fault.status, fault.body)
                    return
                if ok:
                    self._send(200, result)

            def _jsonrpc(self, body: dict[str, Any]) -> None:
                params = body.get("params") or {}
                service, method, args = params.get("service"), params.get("method"), \
                    list(params.get("args") or [])  # fmt: skip

                def answer(result: Any = None, error: tuple[str, str] | None = None) -> None:
                    out: dict[str, Any] = {"jsonrpc": "2.0", "id": body.get("id")}
                    if error:
                        out["error"] = {"code": 200, "message": "Odoo Server Error",
                                        "data": {"name": error[0], "message": error[1],
                                                 "arguments": [error[1]], "debug": ""}}
                    else:
                        out["result"] = result
                    self._send(200, out)

                if service == "common" and method == "version":
                    answer(standin.exp_version())
                    return
                if service == "common" and method == "authenticate":
                    db, login, key = args[0], args[1], args[2]
                    good = (db, login, key) == (standin.database, standin.login, standin.api_key)
                    answer(2 if good else False)
                    return
                if service != "object" or method != "execute_kw":
                    answer(error=("builtins.NameError", f"unknown {service}.{method}"))
                    return
                standin.protocols.append("jsonrpc")
                db, uid, key, model, meth = args[:5]
                call_args = args[5] if len(args) > 5 else []
                kw = dict(args[6]) if len(args) > 6 else {}
                kw.pop("context", None)
                if key != standin.api_key or uid != 2 or db != standin.database:
                    answer(error=("odoo.exceptions.AccessDenied", "Access Denied"))
                    return
                try:
                    ok, result = self._run(f"{model}.{meth}",
                                           lambda: standin.call(model, meth, call_args, kw))
                except _Fault as fault:
                    answer(error=(fault.body["name"], fault.body["message"]))
                    return
                if ok:
                    answer(result)

        return Handler
