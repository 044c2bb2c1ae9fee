"""Odoo pushes: one draft RFQ per approved purchase request, MO quantity and dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from .odoo import OdooClient
from .transport import RemoteError

__all__ = ["odoo_adjust_production", "odoo_purchase_request", "origin_key"]


def origin_key(subject: str) -> str:
    """What crmflow writes in the ERP document's origin: ``crmflow:purchase_request:7``."""
    return f"crmflow:{subject}"


def _datetime(day: date | None, tz: ZoneInfo) -> str | None:
    if day is None:
        return None
    moment = datetime.combine(day, time(0), tz).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _one(client: OdooClient, model: str, domain: list[Any], fields: list[str]) -> dict[str, Any]:
    rows = client.search_read(model, domain, fields, limit=1)
    return rows[0] if rows else {}


def find_rfq(client: OdooClient, subject: str) -> dict[str, Any]:
    """The purchase order crmflow made for ``subject`` earlier, if any."""
    return _one(client, "purchase.order", [("origin", "=", origin_key(subject))], ["name"])


def odoo_purchase_request(
    client: OdooClient, request: dict[str, Any], supplier: str | None, tz: ZoneInfo
) -> tuple[str, str]:
    """Create the draft RFQ unless one with our origin exists; return (id, name)."""
    subject = f"purchase_request:{request['id']}"
    found = find_rfq(client, subject)
    if found:
        return str(found["id"]), str(found["name"])
    product = _one(client, "product.product", [("default_code", "=", request["sku"])],
                   ["id", "seller_ids"])  # fmt: skip
    if not product:
        raise RemoteError(f"Odoo has no product with internal reference {request['sku']!r}")
    partner: dict[str, Any] = {}
    if supplier:
        partner = _one(client, "res.partner", [("ref", "=", supplier)], ["id"])
    if not partner and product.get("seller_ids"):
        info = _one(client, "product.supplierinfo", [("id", "in", product["seller_ids"])],
                    ["partner_id"])  # fmt: skip
        if info.get("partner_id"):
            partner = {"id": info["partner_id"][0]}
    if not partner:
        raise RemoteError(
            f"no supplier for {request['sku']!r}: give the product a vendor in Odoo "
            "(Purchase tab) or a supplier in crmflow"
        )
    line = {"product_id": product["id"], "product_qty": request["quantity"]}
    planned = _datetime(request.get("need_date"), tz)
    if planned:
        line["date_planned"] = planned
    rid = client.create("purchase.order", {
        "partner_id": partner["id"], "origin": origin_key(subject),
        "order_line": [[0, 0, line]],
    })  # fmt: skip
    name = _one(client, "purchase.order", [("id", "=", rid)], ["name"]).get("name") or str(rid)
    return str(rid), str(name)


def odoo_adjust_production(client: OdooClient, plan: dict[str, Any], tz: ZoneInfo) -> str:
    """Write the plan's quantity and dates on the manufacturing order of the same name."""
    mo = _one(client, "mrp.production", [("name", "=", plan["plan_id"])], ["id", "state"])
    if not mo:
        raise RemoteError(f"Odoo has no manufacturing order {plan['plan_id']!r}")
    start = "date_start" if client.version >= (17,) else "date_planned_start"
    values: dict[str, Any] = {"product_qty": plan["quantity"]}
    if plan.get("start_date"):
        values[start] = _datetime(plan["start_date"], tz)
    if plan.get("due_date"):
        values["date_finished"] = _datetime(plan["due_date"], tz)
    client.write("mrp.production", [int(mo["id"])], values)
    return str(mo["id"])
