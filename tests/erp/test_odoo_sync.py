"""`crmflow sync erp` against an Odoo stand-in: first load, changes once, cancellations."""

from __future__ import annotations

import json

import sqlalchemy as sa

from crmflow.plugins.erp.sync import sync_erp

from .conftest import events, seed


def _lines(engine):
    with engine.db.connect() as conn:
        return {(r.order_id, r.sku): r for r in conn.execute(sa.text(
            "select order_id, sku, quantity, requested_date, status from order_lines"))}


def test_first_sync_loads_orders_and_delivers_order_created_once(odoo, erp_engine):
    seed(odoo, orders=4, lines=3)
    engine = erp_engine()
    report = sync_erp(engine, sleep=lambda s: None)
    assert set(odoo.protocols) == {"json2"}  # Odoo 19 found by protocol: auto
    assert report.counts["orders"]["added"] == 12
    assert report.counts["customers"]["added"] == 3
    assert report.counts["products"]["added"] == 5
    created = events(engine, "order.created")
    assert sorted(e["key"] for e in created) == sorted(
        f"erp:order:{i}" for i in [r["id"] for r in odoo.records("sale.order")])
    first = json.loads(created[0]["payload"])
    assert first["customer_id"] == "C000" and len(first["lines"]) == 3
    # Berlin dates: expected_date 2026-01-20 10:00 UTC; date_order 23:30 UTC is the next day
    line = _lines(engine)[("S00001", "P-000")]
    assert str(line.requested_date) == "2026-01-20"
    with engine.db.connect() as conn:
        assert str(conn.execute(sa.text(
            "select order_date from orders where order_id='S00001'")).scalar()) == "2026-01-05"
        made = dict(conn.execute(sa.text("select sku, kind from products")).all())
    assert made["P-001"] == "made" and made["P-000"] == "bought"
    again = sync_erp(engine, sleep=lambda s: None)
    assert again.counts["orders"]["read"] == 0
    assert len(events(engine, "order.created")) == 4


def test_change_in_odoo_is_a_demand_change_with_reason_erp_delivered_once(odoo, erp_engine):
    seed(odoo, orders=2, lines=2)
    engine = erp_engine()
    sync_erp(engine, sleep=lambda s: None)
    line = next(x for x in odoo.records("sale.order.line") if x["order_id"] ==
                odoo.records("sale.order")[0]["id"])
    odoo.now = "2026-01-06 09:00:00"
    odoo.write("sale.order.line", line["id"], product_uom_qty=9.0)
    report = sync_erp(engine, sleep=lambda s: None)
    assert report.counts["orders"]["updated"] == 1
    changed = events(engine, "order.line_changed")
    assert len(changed) == 1
    payload = json.loads(changed[0]["payload"])
    assert payload["reason"] == "erp" and payload["new"] == 9.0 and payload["old"] == 2.0
    assert "@2026-01-06 09:00:00" in changed[0]["key"]
    with engine.db.connect() as conn:
        reasons = conn.execute(sa.text("select reason, source from demand_changes")).all()
    assert reasons == [("erp", "erp")]
    sync_erp(engine, sleep=lambda s: None)
    sync_erp(engine, full=True, sleep=lambda s: None)
    assert len(events(engine, "order.line_changed")) == 1


def test_order_cancelled_in_odoo_is_cancelled_in_crmflow(odoo, erp_engine):
    ids = seed(odoo, orders=2, lines=1)["orders"]
    engine = erp_engine()
    sync_erp(engine, sleep=lambda s: None)
    odoo.now = "2026-01-07 10:00:00"
    odoo.write("sale.order", ids[0], state="cancel")
    sync_erp(engine, sleep=lambda s: None)
    cancelled = events(engine, "order.cancelled")
    assert [json.loads(e["payload"])["order_id"] for e in cancelled] == ["S00001"]
    with engine.db.connect() as conn:
        assert conn.execute(sa.text(
            "select status from orders where order_id='S00001'")).scalar() == "cancelled"
    sync_erp(engine, full=True, sleep=lambda s: None)
    assert len(events(engine, "order.cancelled")) == 1


def test_quotations_are_not_orders_and_rush_tag_makes_a_rush_order(odoo, erp_engine):
    seed(odoo, orders=1, lines=1)
    urgent = odoo.add("crm.tag", name="Urgent")
    partner = odoo.records("res.partner")[0]["id"]
    product = odoo.records("product.product")[0]["id"]
    for name, state in (("Q1", "draft"), ("S9", "sale")):
        oid = odoo.add("sale.order", name=name, partner_id=partner, state=state,
                       date_order="2026-01-05 08:00:00", commitment_date="2026-01-09 08:00:00",
                       expected_date=False, tag_ids=[urgent], user_id=False)
        odoo.add("sale.order.line", order_id=oid, product_id=product, product_uom_qty=1,
                 price_unit=5, display_type=False)
    engine = erp_engine()
    sync_erp(engine, sleep=lambda s: None)
    with engine.db.connect() as conn:
        orders = dict(conn.execute(sa.text("select order_id, priority from orders")).all())
    assert "Q1" not in orders and orders["S9"] == "rush"
    rush = [json.loads(e["payload"]) for e in events(engine, "order.created")]
    assert {p["order_id"]: p["priority"] for p in rush}["S9"] == "rush"


def test_stock_quants_of_internal_locations_add_up(odoo, erp_engine):
    seed(odoo, orders=0)
    stock = odoo.add("stock.location", name="WH/Stock", complete_name="WH/Stock", usage="internal")
    customer = odoo.add("stock.location", name="Customers", usage="customer")
    product = odoo.records("product.product")[0]["id"]
    for qty, loc in ((5.0, stock), (7.0, stock), (100.0, customer)):
        odoo.add("stock.quant", product_id=product, location_id=loc, quantity=qty)
    engine = erp_engine()
    sync_erp(engine, sleep=lambda s: None)
    with engine.db.connect() as conn:
        rows = conn.execute(sa.text("select sku, location, on_hand from inventory_positions")).all()
    assert rows == [("P-000", "WH/Stock", 12.0)]
    changed = [json.loads(e["payload"]) for e in events(engine, "inventory.changed")]
    assert [(c["sku"], c["on_hand"]) for c in changed] == [("P-000", 12.0)]


def test_urgent_erp_order_starts_rush_order_and_a_stock_drop_opens_one_alert(
    odoo, erp_engine, tmp_path
):
    seed(odoo, orders=1, lines=1)
    urgent = odoo.add("crm.tag", name="Urgent")
    stock = odoo.add("stock.location", name="WH/Stock", complete_name="WH/Stock", usage="internal")
    product = odoo.records("product.product")[0]["id"]
    quant = odoo.add("stock.quant", product_id=product, location_id=stock, quantity=500.0)
    engine = erp_engine()
    sync_erp(engine, sleep=lambda s: None)
    # planners keep safety stock and lead times in crmflow; a sync must not wipe them
    csv = tmp_path / "products.csv"
    csv.write_text("sku,name,family,kind,unit_cost,safety_stock,lead_time_days\n"
                   "P-000,Pump 0,Pumps,bought,10,100,10\n", encoding="utf-8")
    from crmflow.core.domain.imports import import_csv

    import_csv(engine, "products", csv, actor="planner")
    odoo.now = "2026-01-06 07:00:00"
    partner = odoo.records("res.partner")[0]["id"]
    oid = odoo.add("sale.order", name="S-RUSH", partner_id=partner, state="sale",
                   date_order="2026-01-06 06:00:00", commitment_date="2026-01-08 06:00:00",
                   expected_date=False, tag_ids=[urgent], user_id=False)
    odoo.add("sale.order.line", order_id=oid, product_id=product, product_uom_qty=3,
             price_unit=10, display_type=False)
    odoo.write("stock.quant", quant, quantity=20.0)
    odoo.write("product.product", product, standard_price=11.0)
    sync_erp(engine, sleep=lambda s: None)
    sync_erp(engine, sleep=lambda s: None)
    with engine.db.connect() as conn:
        safety = conn.execute(sa.text(
            "select safety_stock, unit_cost from products where sku='P-000'")).one()
    assert safety == (100.0, 11.0)
    rush = engine.list(workflow="rush_order")
    assert len(rush) == 1 and "S-RUSH" in json.dumps(rush[0].data, default=str)
    alerts = engine.list(workflow="inventory_alert")
    assert len(alerts) == 1


def test_deliveries_manufacturing_and_purchase_orders_are_read(odoo, erp_engine):
    ids = seed(odoo, orders=1, lines=2)
    product = ids["products"][0]
    out = odoo.add("stock.picking", name="WH/OUT/00001", origin="S00001", state="done",
                   picking_type_code="outgoing", date_done="2026-01-06 10:00:00")
    odoo.add("stock.move", picking_id=out, product_id=product, quantity=1.5)
    odoo.add("stock.move", picking_id=out, product_id=product, quantity=0.5)
    odoo.add("stock.picking", name="WH/IN/00001", origin="P1", state="done",
             picking_type_code="incoming", date_done="2026-01-06 10:00:00")
    odoo.add("mrp.production", name="WH/MO/00007", product_id=ids["products"][1],
             product_qty=30.0, date_start="2026-01-07 06:00:00",
             date_finished="2026-01-09 16:00:00", state="progress")
    po = odoo.add("purchase.order", name="P00009", partner_id=ids["vendor"], state="purchase",
                  origin=False)
    for qty in (10.0, 5.0):
        odoo.add("purchase.order.line", order_id=po, partner_id=ids["vendor"],
                 product_id=product, product_qty=qty, qty_received=2.0,
                 date_planned="2026-01-20 08:00:00", date_order="2026-01-05 08:00:00")
    engine = erp_engine()
    report = sync_erp(engine, sleep=lambda s: None)
    assert report.rejected == []
    with engine.db.connect() as conn:
        deliveries = conn.execute(sa.text(
            "select delivery_id, order_id, sku, quantity, delivered_date from deliveries")).all()
        plans = conn.execute(sa.text(
            "select plan_id, sku, start_date, due_date, quantity, status from production_plans"
        )).all()
        purchases = conn.execute(sa.text(
            "select po_id, supplier, sku, quantity, received_quantity, due_date from purchases"
        )).all()
    assert [tuple(map(str, d)) for d in deliveries] == [
        ("WH/OUT/00001:P-000", "S00001", "P-000", "2.0", "2026-01-06")]
    assert [tuple(map(str, p)) for p in plans] == [
        ("WH/MO/00007", "P-001", "2026-01-07", "2026-01-09", "30.0", "released")]
    assert [tuple(map(str, p)) for p in purchases] == [
        ("P00009", "SUP-ACME", "P-000", "15.0", "4.0", "2026-01-20")]
    assert [json.loads(e["payload"])["quantity"] for e in events(engine, "delivery.recorded")] \
        == [2.0]


def test_a_read_that_times_out_is_retried(odoo, erp_engine):
    seed(odoo, orders=1, lines=1)
    engine = erp_engine(timeout=0.3)
    odoo.fail("hold", method="res.partner.search_read")
    waited: list[float] = []
    report = sync_erp(engine, sleep=waited.append)
    assert report.counts["orders"]["added"] == 1 and len(waited) == 1
