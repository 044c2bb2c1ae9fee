"""ERPNext 15 over Frappe's REST API: ``/api/resource/<DocType>``, token key:secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from .config import ErpConfig
from .source import Batch, Cursor, Page, local_date
from .transport import Http, RemoteError

__all__ = [
    "ErpNextClient",
    "erpnext_adjust_production",
    "erpnext_material_request",
    "erpnext_sources",
]


class ErpNextClient:
    """Lists, documents, inserts and updates; answers are ``{"data": ...}``."""

    version = (15, 0)

    def __init__(self, http: Http, key: str, secret: str) -> None:
        self.http = http
        http.client.headers["Authorization"] = f"token {key}:{secret}"

    def list(self, doctype: str, *, fields: list[str], filters: list[Any],
             order_by: str, start: int, length: int) -> list[dict[str, Any]]:  # fmt: skip
        params = {
            "fields": json.dumps(fields),
            "filters": json.dumps(filters),
            "order_by": order_by,
            "limit_start": start,
            "limit_page_length": length,
        }
        return list(self.http.request("GET", f"/api/resource/{doctype}", params=params)
                    .json()["data"])  # fmt: skip

    def get(self, doctype: str, name: str) -> dict[str, Any]:
        return dict(self.http.request("GET", f"/api/resource/{doctype}/{name}").json()["data"])

    def insert(self, doctype: str, doc: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.request("POST", f"/api/resource/{doctype}", json=doc, retries=0)
        return dict(answer.json()["data"])

    def update(self, doctype: str, name: str, values: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.request("PUT", f"/api/resource/{doctype}/{name}", json=values)
        return dict(answer.json()["data"])


class _Reader:
    def __init__(self, client: ErpNextClient, config: ErpConfig, rush: tuple[str, ...]) -> None:
        self.c, self.config, self.tz = client, config, config.timezone
        self.rush = {t.strip().lower() for t in rush}

    def changed(self, doctype: str, filters: list[Any], fields: list[str], after: Cursor | None,
                limit: int) -> tuple[list[dict[str, Any]], Cursor | None, bool]:  # fmt: skip
        """Records modified at or after the cursor, past it, oldest first (paged by offset
        only when more than a page share the cursor's ``modified``)."""
        where = [*filters, ["modified", ">=", after[0]]] if after else filters
        start = 0
        while True:
            rows = self.c.list(
                doctype,
                fields=[*fields, "name", "modified"],
                filters=where,
                order_by="modified asc, name asc",
                start=start,
                length=limit,
            )
            fresh = [r for r in rows if after is None
                     or (str(r["modified"]), str(r["name"])) > after]  # fmt: skip
            if fresh or len(rows) < limit:
                break
            start += len(rows)
        cursor = (str(fresh[-1]["modified"]), str(fresh[-1]["name"])) if fresh else after
        return fresh, cursor, len(rows) >= limit

    def customers(self, after: Cursor | None, limit: int) -> Page:
        rows, cursor, more = self.changed(
            "Customer", [], ["customer_name", "industry", "territory"], after, limit
        )
        batch = Batch("customers", [{"customer_id": r["name"], "name": r.get("customer_name")
                                     or r["name"], "industry": r.get("industry"),
                                     "region": r.get("territory")} for r in rows])  # fmt: skip
        return Page(batch, cursor, more, len(rows))

    def products(self, after: Cursor | None, limit: int) -> Page:
        rows, cursor, more = self.changed(
            "Item", [], ["item_name", "item_group", "valuation_rate", "default_bom"], after, limit
        )
        batch = Batch("products", [{"sku": r["name"], "name": r.get("item_name") or r["name"],
                                    "family": r.get("item_group") or "All",
                                    "kind": "made" if r.get("default_bom") else "bought",
                                    "unit_cost": r.get("valuation_rate") or 0}
                                   for r in rows])  # fmt: skip
        return Page(batch, cursor, more, len(rows))

    def orders(self, after: Cursor | None, limit: int) -> Page:
        rows, cursor, more = self.changed("Sales Order", [["docstatus", "in", [1, 2]]],
                                          ["docstatus"], after, limit)  # fmt: skip
        batch = Batch("orders")
        for head in rows:
            doc = self.c.get("Sales Order", head["name"])
            batch.origin[doc["name"]] = (doc["name"], str(doc["modified"]))
            if doc.get("docstatus") == 2:
                batch.cancelled.append((doc["name"], batch.origin[doc["name"]]))
                continue
            per: dict[str, dict[str, Any]] = {}
            for item in doc.get("items") or []:
                when = local_date(item.get("delivery_date") or doc.get("delivery_date"), self.tz)
                row = per.setdefault(item["item_code"], {
                    "order_id": doc["name"], "customer_id": doc["customer"],
                    "order_date": local_date(doc["transaction_date"], self.tz),
                    "sku": item["item_code"], "quantity": 0.0, "_value": 0.0,
                    "requested_date": when, "promised_date": when,
                    "priority": "rush" if self._rush(doc) else "normal",
                })  # fmt: skip
                row["quantity"] += float(item.get("qty") or 0)
                row["_value"] += float(item.get("qty") or 0) * float(item.get("rate") or 0)
            for row in per.values():
                value = row.pop("_value")
                row["unit_price"] = value / row["quantity"] if row["quantity"] else 0.0
                batch.records.append(row)
        return Page(batch, cursor, more, len(rows))

    def _rush(self, doc: dict[str, Any]) -> bool:
        """A Sales Order tagged (``_user_tags``) with one of the rush tags."""
        tags = {t.strip().lower() for t in str(doc.get("_user_tags") or "").split(",")}
        return bool(tags & self.rush)

    def inventory(self, after: Cursor | None, limit: int) -> Page:
        rows, cursor, more = self.changed("Bin", [], ["item_code", "warehouse", "actual_qty"],
                                          after, limit)  # fmt: skip
        batch = Batch("inventory", [{"sku": r["item_code"], "location": r["warehouse"],
                                     "on_hand": r.get("actual_qty") or 0,
                                     "date": local_date(r["modified"], self.tz)}
                                    for r in rows])  # fmt: skip
        return Page(batch, cursor, more, len(rows))

    def deliveries(self, after: Cursor | None, limit: int) -> Page:
        """Submitted Delivery Notes: per item, against its Sales Order."""
        rows, cursor, more = self.changed("Delivery Note", [["docstatus", "=", 1]], [], after,
                                          limit)  # fmt: skip
        batch = Batch("deliveries")
        for head in rows:
            doc = self.c.get("Delivery Note", head["name"])
            per: dict[tuple[str, str], float] = {}
            for item in doc.get("items") or []:
                order = item.get("against_sales_order")
                if order:
                    key = (str(order), str(item["item_code"]))
                    per[key] = per.get(key, 0.0) + float(item.get("qty") or 0)
            for (order, sku), qty in per.items():
                delivery_id = f"{doc['name']}:{order}:{sku}"
                batch.records.append({"delivery_id": delivery_id, "order_id": order, "sku": sku,
                                      "quantity": qty,
                                      "delivered_date": local_date(doc.get("posting_date"),
                                                                   self.tz)})  # fmt: skip
                batch.origin[delivery_id] = (doc["name"], str(doc["modified"]))
        return Page(batch, cursor, more, len(rows))

    def purchases(self, after: Cursor | None, limit: int) -> Page:
        """Submitted Purchase Orders with their items (received quantities included)."""
        rows, cursor, more = self.changed("Purchase Order", [["docstatus", "=", 1]], [], after,
                                          limit)  # fmt: skip
        batch = Batch("purchases")
        for head in rows:
            doc = self.c.get("Purchase Order", head["name"])
            per: dict[str, dict[str, Any]] = {}
            for item in doc.get("items") or []:
                row = per.setdefault(str(item["item_code"]), {
                    "po_id": doc["name"], "supplier": doc.get("supplier") or "",
                    "sku": item["item_code"], "quantity": 0.0, "received_quantity": 0.0,
                    "order_date": local_date(doc.get("transaction_date"), self.tz),
                    "due_date": local_date(item.get("schedule_date")
                                           or doc.get("schedule_date"), self.tz)})  # fmt: skip
                row["quantity"] += float(item.get("qty") or 0)
                row["received_quantity"] += float(item.get("received_qty") or 0)
            batch.records.extend(per.values())
        return Page(batch, cursor, more, len(rows))

    def production(self, after: Cursor | None, limit: int) -> Page:
        status = {
            "Draft": "planned",
            "Not Started": "planned",
            "In Process": "released",
            "Completed": "done",
            "Stopped": "cancelled",
            "Cancelled": "cancelled",
        }
        rows, cursor, more = self.changed("Work Order", [], [
            "production_item", "qty", "planned_start_date", "expected_delivery_date", "status"],
            after, limit)  # fmt: skip
        batch = Batch("production")
        for r in rows:
            start = local_date(r.get("planned_start_date"), self.tz)
            batch.records.append(
                {
                    "plan_id": r["name"],
                    "sku": r["production_item"],
                    "line": self.config.production_line,
                    "start_date": start,
                    "due_date": local_date(r.get("expected_delivery_date"), self.tz) or start,
                    "quantity": r.get("qty"),
                    "status": status.get(r.get("status") or "", "planned"),
                }
            )
        return Page(batch, cursor, more, len(rows))


def erpnext_sources(
    client: ErpNextClient, config: ErpConfig, rush: tuple[str, ...] = ("urgent", "rush")
) -> list[tuple[str, str, Callable[..., Page]]]:
    """``(doctype, kind, page function)`` in the order a sync reads them."""
    r = _Reader(client, config, rush)
    return [
        ("Customer", "customers", r.customers),
        ("Item", "products", r.products),
        ("Sales Order", "orders", r.orders),
        ("Delivery Note", "deliveries", r.deliveries),
        ("Bin", "inventory", r.inventory),
        ("Work Order", "production", r.production),
        ("Purchase Order", "purchases", r.purchases),
    ]


def erpnext_material_request(
    client: ErpNextClient, request: dict[str, Any], supplier: str | None, tz: ZoneInfo
) -> tuple[str, str]:
    """One Material Request per purchase request: found by the crmflow key in remarks."""
    origin = f"crmflow:purchase_request:{request['id']}"
    found = client.list("Material Request", fields=["name"], filters=[["remarks", "=", origin]],
                        order_by="name asc", start=0, length=1)  # fmt: skip
    if found:
        return str(found[0]["name"]), str(found[0]["name"])
    need: date = request.get("need_date") or date.today()
    item = {
        "item_code": request["sku"],
        "qty": request["quantity"],
        "schedule_date": need.isoformat(),
    }
    doc = client.insert("Material Request", {
        "material_request_type": "Purchase", "schedule_date": need.isoformat(),
        "remarks": origin, "items": [item],
    })  # fmt: skip
    return str(doc["name"]), str(doc["name"])


def erpnext_adjust_production(client: ErpNextClient, plan: dict[str, Any], tz: ZoneInfo) -> str:
    """Write the plan's quantity and dates on the Work Order of the same name."""
    values: dict[str, Any] = {"qty": plan["quantity"]}
    if plan.get("start_date"):
        values["planned_start_date"] = f"{plan['start_date'].isoformat()} 00:00:00"
    if plan.get("due_date"):
        values["expected_delivery_date"] = plan["due_date"].isoformat()
    try:
        client.update("Work Order", plan["plan_id"], values)
    except RemoteError as exc:
        raise RemoteError(f"ERPNext Work Order {plan['plan_id']}: {exc}") from None
    return str(plan["plan_id"])
