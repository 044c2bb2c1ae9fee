"""Odoo models read page by page (write_date, id cursor) into crmflow records."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from .config import ErpConfig
from .odoo import OdooClient
from .source import Batch, Cursor, Page, local_date, name_of
from .transport import RemoteError

__all__ = ["OdooReader", "odoo_sources"]

ORDER_STATES = ["sale", "done", "cancel"]
#: Fields of optional modules or versions: read when the database has them.
OPTIONAL_FIELDS = {"bom_count", "tag_ids", "expected_date", "commitment_date", "industry_id",
                   "seller_ids", "user_id", "country_id", "categ_id", "standard_price"}
log = logging.getLogger("crmflow.erp")
STATUS = {"draft": "planned", "confirmed": "planned", "progress": "released",
          "to_close": "released", "done": "done", "cancel": "cancelled"}  # fmt: skip


def _after(after: Cursor | None) -> list[Any]:
    if after is None:
        return []
    stamp, rid = after
    return ["|", ("write_date", ">", stamp), "&", ("write_date", "=", stamp), ("id", ">", int(rid))]


def _id(many2one: Any) -> int | None:
    return int(many2one[0]) if isinstance(many2one, list | tuple) and many2one else None


def _ids(values: Any) -> set[int]:
    """The ids of many2one values, empty ones left out."""
    return {i for i in (_id(v) for v in values) if i is not None}


class OdooReader:
    """Reads Odoo for one sync; caches the keys of partners, products and tags it met."""

    def __init__(self, client: OdooClient, config: ErpConfig,
                 rush_tags: tuple[str, ...] = ("urgent", "rush")) -> None:  # fmt: skip
        self.client, self.config = client, config
        self.rush = {t.strip().lower() for t in rush_tags}
        self.tz = config.timezone
        self.size = config.page_size
        self.partners: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.tags: dict[int, str] = {}
        self.suppliers: dict[int, str] = {}
        self.lines_start: Cursor | None = None
        self.dropped: dict[str, set[str]] = {}

    # -- paging ---------------------------------------------------------------------------

    def changed(self, model: str, domain: list[Any], fields: list[str], after: Cursor | None,
                limit: int) -> tuple[list[dict[str, Any]], Cursor | None, bool]:  # fmt: skip
        """One page of records written after the cursor, oldest first."""
        rows = self.read(
            model, [*domain, *_after(after)], [*fields, "write_date"], limit=limit,
            order="write_date asc, id asc",
        )  # fmt: skip
        cursor = (str(rows[-1]["write_date"]), str(rows[-1]["id"])) if rows else after
        return rows, cursor, len(rows) >= limit

    def read(self, model: str, domain: list[Any], fields: list[str], *, limit: int,
             offset: int = 0, order: str) -> list[dict[str, Any]]:  # fmt: skip
        """``search_read``; fields of modules a database may lack (mrp's ``bom_count``,
        sale's ``tag_ids`` …) are dropped for the model once Odoo refuses them."""
        wanted = [f for f in fields if f not in self.dropped.get(model, set())]
        try:
            return self.client.search_read(model, domain, wanted, limit=limit, offset=offset,
                                           order=order)  # fmt: skip
        except RemoteError:
            optional = [f for f in wanted if f in OPTIONAL_FIELDS]
            if not optional:
                raise
            self.dropped.setdefault(model, set()).update(optional)
            log.warning("Odoo refused %s on %s; reading without them", optional, model)
            return self.read(model, domain, fields, limit=limit, offset=offset, order=order)

    def all_of(self, model: str, domain: list[Any], fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every record of a domain, read in pages (never one unbounded search_read)."""
        offset = 0
        while True:
            rows = self.read(model, domain, fields, limit=self.size, offset=offset,
                             order="id asc")  # fmt: skip
            yield from rows
            if len(rows) < self.size:
                return
            offset += len(rows)

    def by_ids(self, model: str, ids: set[int], fields: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        ordered = sorted(ids)
        for start in range(0, len(ordered), self.size):
            chunk = ordered[start : start + self.size]
            found.extend(self.all_of(model, [("id", "in", chunk)], fields))
        return found

    # -- referenced records -------------------------------------------------------------

    PARTNER_FIELDS = ["ref", "name", "industry_id", "country_id"]
    PRODUCT_FIELDS = ["default_code", "name", "categ_id", "standard_price", "type", "bom_count"]

    def customer_row(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"customer_id": p.get("ref") or str(p["id"]), "name": p.get("name") or str(p["id"]),
                "industry": name_of(p.get("industry_id")),
                "region": name_of(p.get("country_id"))}  # fmt: skip

    def product_row(self, p: dict[str, Any]) -> dict[str, Any]:
        family = name_of(p.get("categ_id")) or "All"
        return {"sku": p.get("default_code") or str(p["id"]), "name": p.get("name") or p["id"],
                "family": family.split(" / ")[-1],
                "kind": "made" if (p.get("bom_count") or 0) > 0 else "bought",
                "unit_cost": p.get("standard_price") or 0}  # fmt: skip

    def need(
        self, partners: set[int], products: set[int]
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """Read the partners and products not met yet; their rows go in before the page."""
        before: list[tuple[str, list[dict[str, Any]]]] = []
        missing = partners - set(self.partners)
        if missing:
            rows = self.by_ids("res.partner", missing, self.PARTNER_FIELDS)
            self.partners.update({r["id"]: r for r in rows})
            before.append(("customers", [self.customer_row(r) for r in rows]))
        missing = products - set(self.products)
        if missing:
            rows = self.by_ids("product.product", missing, self.PRODUCT_FIELDS)
            self.products.update({r["id"]: r for r in rows})
            before.append(("products", [self.product_row(r) for r in rows]))
        return before

    def sku(self, product: Any) -> str | None:
        pid = _id(product)
        row = self.products.get(pid) if pid is not None else None
        return (row.get("default_code") or str(pid)) if row else None

    def customer(self, partner: Any) -> str | None:
        pid = _id(partner)
        row = self.partners.get(pid) if pid is not None else None
        return (row.get("ref") or str(pid)) if row else None

    # -- orders ---------------------------------------------------------------------------

    ORDER_FIELDS = ["name", "partner_id", "date_order", "commitment_date", "expected_date",
                    "state", "tag_ids", "user_id"]  # fmt: skip

    def orders_batch(self, orders: list[dict[str, Any]]) -> Batch:
        """Orders and their lines; lines of one SKU add up to one crmflow line."""
        batch = Batch("orders")
        live = [o for o in orders if o["state"] != "cancel"]
        lines = self.by_ids_of("sale.order.line", "order_id", {o["id"] for o in live},
                               ["order_id", "product_id", "product_uom_qty", "price_unit",
                                "display_type", "write_date"])  # fmt: skip
        lines = [x for x in lines if not x.get("display_type") and _id(x.get("product_id"))]
        batch.before = self.need(
            _ids(o["partner_id"] for o in orders), _ids(x["product_id"] for x in lines)
        )
        self._tags({t for o in live for t in o.get("tag_ids") or []})
        by_order: dict[int, list[dict[str, Any]]] = {}
        for line in lines:
            by_order.setdefault(_id(line["order_id"]), []).append(line)  # type: ignore[arg-type]
        for order in orders:
            stamp = max([str(order["write_date"])] + [str(x["write_date"])
                         for x in by_order.get(order["id"], [])])  # fmt: skip
            batch.origin[order["name"]] = (str(order["id"]), stamp)
            if order["state"] == "cancel":
                batch.cancelled.append((order["name"], (str(order["id"]), stamp)))
                continue
            batch.records.extend(self._order_rows(order, by_order.get(order["id"], [])))
        return batch

    def by_ids_of(self, model: str, parent: str, ids: set[int], fields: list[str],
                  extra: list[Any] | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Every record whose ``parent`` is one of ``ids``, in pages."""
        found: list[dict[str, Any]] = []
        ordered = sorted(ids)
        for start in range(0, len(ordered), self.size):
            chunk = ordered[start : start + self.size]
            found.extend(self.all_of(model, [(parent, "in", chunk), *(extra or [])], fields))
        return found

    def supplier(self, partner: Any) -> str:
        """A supplier's key: its partner reference, else its name (never written as a customer)."""
        pid = _id(partner)
        if pid is None:
            return ""
        if pid not in self.suppliers:
            for p in self.by_ids("res.partner", {pid}, ["ref", "name"]):
                self.suppliers[p["id"]] = str(p.get("ref") or p.get("name") or p["id"])
        return self.suppliers.get(pid, str(pid))

    def _tags(self, ids: set[int]) -> None:
        missing = ids - set(self.tags)
        if missing:
            try:
                tags = self.by_ids("crm.tag", missing, ["name"])
            except RemoteError:  # no CRM tags in this database: no rush tags either
                tags = [{"id": i, "name": ""} for i in missing]
            for tag in tags:
                self.tags[tag["id"]] = str(tag["name"])

    def _order_rows(
        self, order: dict[str, Any], lines: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        tz = self.tz
        ordered = local_date(order["date_order"], tz)
        wanted = local_date(order.get("commitment_date") or order.get("expected_date"), tz)
        tags = {self.tags.get(t, "").strip().lower() for t in order.get("tag_ids") or []}
        head = {
            "order_id": order["name"], "customer_id": self.customer(order["partner_id"]),
            "order_date": ordered, "priority": "rush" if tags & self.rush else "normal",
            "sales_rep": name_of(order.get("user_id")),
            "requested_date": wanted or ordered, "promised_date": wanted or ordered,
        }  # fmt: skip
        per_sku: dict[str, dict[str, Any]] = {}
        for line in lines:
            sku = self.sku(line["product_id"])
            qty = float(line.get("product_uom_qty") or 0)
            row = per_sku.setdefault(
                sku or "", {**head, "sku": sku, "quantity": 0.0, "_value": 0.0}
            )
            row["quantity"] += qty
            row["_value"] += qty * float(line.get("price_unit") or 0)
        rows = []
        for row in per_sku.values():
            value = row.pop("_value")
            row["unit_price"] = value / row["quantity"] if row["quantity"] else 0.0
            rows.append(row)
        return rows


class _Models:
    """The Odoo model behind each crmflow record kind, read incrementally."""

    def __init__(self, reader: OdooReader) -> None:
        self.r = reader

    def customers(self, after: Cursor | None, limit: int) -> Page:
        rows, cursor, more = self.r.changed("res.partner", [("customer_rank", ">", 0)],
                                            OdooReader.PARTNER_FIELDS, after, limit)  # fmt: skip
        self.r.partners.update({x["id"]: x for x in rows})
        batch = Batch("customers", [self.r.customer_row(x) for x in rows])
        return Page(batch, cursor, more, len(rows))

    def products(self, after: Cursor | None, limit: int) -> Page:
        rows, cursor, more = self.r.changed("product.product", [], OdooReader.PRODUCT_FIELDS,
                                            after, limit)  # fmt: skip
        self.r.products.update({x["id"]: x for x in rows})
        return Page(Batch("products", [self.r.product_row(x) for x in rows]), cursor, more,
                    len(rows))  # fmt: skip

    def orders(self, after: Cursor | None, limit: int) -> Page:
        if after is None and self.r.lines_start is None:
            newest = self.r.client.search_read(
                "sale.order.line", [], ["write_date"], limit=1, order="write_date desc, id desc"
            )
            first = ("1970-01-01 00:00:00", "0")
            self.r.lines_start = (
                (str(newest[0]["write_date"]), str(newest[0]["id"])) if newest else first
            )
        rows, cursor, more = self.r.changed("sale.order", [("state", "in", ORDER_STATES)],
                                            OdooReader.ORDER_FIELDS, after, limit)  # fmt: skip
        return Page(self.r.orders_batch(rows), cursor, more, len(rows))

    def order_lines(self, after: Cursor | None, limit: int) -> Page:
        """Lines written on their own (not through their order) re-read their order.

        The first sync starts after the newest line read before its orders were:
        those orders were read with every line already.
        """
        if after is None and self.r.lines_start is not None:
            after = self.r.lines_start
        rows, cursor, more = self.r.changed("sale.order.line", [("state", "in", ORDER_STATES)],
                                            ["order_id"], after, limit)  # fmt: skip
        orders = self.r.by_ids("sale.order", {_id(x["order_id"]) for x in rows},  # type: ignore[misc]
                               [*OdooReader.ORDER_FIELDS, "write_date"])  # fmt: skip
        return Page(self.r.orders_batch(orders), cursor, more, len(rows))

    def deliveries(self, after: Cursor | None, limit: int) -> Page:
        domain = [("state", "=", "done"), ("picking_type_code", "=", "outgoing")]
        fields = ["name", "origin", "date_done"]
        rows, cursor, more = self.r.changed("stock.picking", domain, fields, after, limit)
        qty = "quantity" if self.r.client.version >= (17,) else "quantity_done"
        moves = self.r.by_ids_of("stock.move", "picking_id", {x["id"] for x in rows},
                                 ["picking_id", "product_id", qty])  # fmt: skip
        batch = Batch("deliveries")
        batch.before = self.r.need(set(), {_id(m["product_id"]) for m in moves})  # type: ignore[misc]
        pickings = {x["id"]: x for x in rows}
        per: dict[tuple[int, str], float] = {}
        for m in moves:
            sku = self.r.sku(m["product_id"])
            if sku and float(m.get(qty) or 0) > 0:
                key = (_id(m["picking_id"]) or 0, sku)
                per[key] = per.get(key, 0.0) + float(m[qty])
        for (pid, sku), amount in per.items():
            p = pickings[pid]
            delivery_id = f"{p['name']}:{sku}"
            batch.records.append(
                {
                    "delivery_id": delivery_id,
                    "order_id": p.get("origin") or "",
                    "sku": sku,
                    "quantity": amount,
                    "delivered_date": local_date(p["date_done"], self.r.tz),
                }
            )
            batch.origin[delivery_id] = (str(pid), str(p["write_date"]))
        return Page(batch, cursor, more, len(rows))

    def inventory(self, after: Cursor | None, limit: int) -> Page:
        """Changed quants re-read every internal quant of their products, summed per location."""
        internal = [("location_id.usage", "=", "internal")]
        rows, cursor, more = self.r.changed("stock.quant", internal, ["product_id"], after, limit)
        products = {_id(x["product_id"]) for x in rows}
        batch = Batch("inventory")
        batch.before = self.r.need(set(), products)  # type: ignore[arg-type]
        quants = self.r.by_ids_of("stock.quant", "product_id", products,  # type: ignore[arg-type]
                                  ["product_id", "location_id", "quantity", "write_date"],
                                  internal)  # fmt: skip
        per: dict[tuple[str, str], dict[str, Any]] = {}
        for q in quants:
            sku, location = self.r.sku(q["product_id"]), name_of(q["location_id"]) or "stock"
            if sku is None:
                continue
            row = per.setdefault((sku, location), {"sku": sku, "location": location,
                                                   "on_hand": 0.0, "_stamp": ""})  # fmt: skip
            row["on_hand"] += float(q.get("quantity") or 0)
            row["_stamp"] = max(row["_stamp"], str(q["write_date"]))
        for row in per.values():
            stamp = row.pop("_stamp")
            row["date"] = local_date(stamp, self.r.tz)
            batch.records.append(row)
        return Page(batch, cursor, more, len(rows))

    def production(self, after: Cursor | None, limit: int) -> Page:
        start = "date_start" if self.r.client.version >= (17,) else "date_planned_start"
        fields = ["name", "product_id", "product_qty", start, "date_finished", "state"]
        rows, cursor, more = self.r.changed("mrp.production", [], fields, after, limit)
        batch = Batch("production")
        batch.before = self.r.need(set(), {_id(x["product_id"]) for x in rows})  # type: ignore[misc]
        for x in rows:
            begin = local_date(x.get(start), self.r.tz)
            due = local_date(x.get("date_finished"), self.r.tz) or begin
            batch.records.append({"plan_id": x["name"], "sku": self.r.sku(x["product_id"]),
                                  "line": self.r.config.production_line, "start_date": begin,
                                  "due_date": due, "quantity": x.get("product_qty"),
                                  "status": STATUS.get(str(x["state"]), "planned")})  # fmt: skip
            batch.origin[x["name"]] = (str(x["id"]), str(x["write_date"]))
        return Page(batch, cursor, more, len(rows))

    def purchases(self, after: Cursor | None, limit: int) -> Page:
        fields = ["order_id", "partner_id", "product_id", "product_qty", "date_planned",
                  "qty_received", "date_order"]  # fmt: skip
        confirmed = [("state", "in", ["purchase", "done"])]
        changed, cursor, more = self.r.changed("purchase.order.line", confirmed, ["order_id"],
                                               after, limit)  # fmt: skip
        # A changed line re-reads every line of its order: lines of one SKU add up.
        rows = self.r.by_ids_of("purchase.order.line", "order_id",
                                {_id(x["order_id"]) for x in changed},  # type: ignore[misc]
                                fields, confirmed)  # fmt: skip
        batch = Batch("purchases")
        batch.before = self.r.need(set(), {_id(x["product_id"]) for x in rows})  # type: ignore[misc]
        per: dict[tuple[str, str], dict[str, Any]] = {}
        for x in rows:
            sku, po = self.r.sku(x["product_id"]), name_of(x["order_id"])
            if not sku or not po:
                continue
            row = per.setdefault((po, sku), {
                "po_id": po, "supplier": self.r.supplier(x["partner_id"]), "sku": sku,
                "quantity": 0.0, "received_quantity": 0.0,
                "order_date": local_date(x.get("date_order"), self.r.tz),
                "due_date": local_date(x.get("date_planned"), self.r.tz)})  # fmt: skip
            row["quantity"] += float(x.get("product_qty") or 0)
            row["received_quantity"] += float(x.get("qty_received") or 0)
        batch.records = list(per.values())
        return Page(batch, cursor, more, len(changed))


def odoo_sources(reader: OdooReader) -> list[tuple[str, str, Any]]:
    """``(model, kind, page function)`` in the order a sync reads them."""
    m = _Models(reader)
    return [
        ("res.partner", "customers", m.customers),
        ("product.product", "products", m.products),
        ("sale.order", "orders", m.orders),
        ("sale.order.line", "orders", m.order_lines),
        ("stock.picking", "deliveries", m.deliveries),
        ("stock.quant", "inventory", m.inventory),
        ("mrp.production", "production", m.production),
        ("purchase.order.line", "purchases", m.purchases),
    ]
