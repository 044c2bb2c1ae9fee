"""ERPNext 15 over Frappe's REST API: paging by modified, Sales Orders, Bins, Material Requests."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from crmflow.core.domain import planning
from crmflow.core.engine import Engine
from crmflow.errors import ConnectorError
from crmflow.plugins.connectors.status import failures
from crmflow.plugins.erp.sync import sync_erp
from crmflow.testing import FakeClock

from .conftest import SHIPPED, events
from .erpnext_standin import ErpNextStandin

NOW = dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)


@pytest.fixture
def site():
    server = ErpNextStandin().start()
    yield server
    server.stop()


@pytest.fixture
def engine(site, tmp_path, monkeypatch):
    monkeypatch.setenv("ERP_KEY", site.key)
    monkeypatch.setenv("ERP_SECRET", site.secret)
    (tmp_path / "factory.yaml").write_text(
        "factory: e\ntimezone: Asia/Shanghai\nconnectors:\n  erp:\n    kind: erpnext\n"
        f"    url: {site.url}\n    api_key_env: ERP_KEY\n    api_secret_env: ERP_SECRET\n"
        "    page_size: 7\n    timeout: 2\n", encoding="utf-8")
    opened = Engine.open(database_url=f"sqlite:///{tmp_path / 'e.sqlite3'}", workflows=SHIPPED,
                         factory=tmp_path / "factory.yaml", clock=FakeClock(),
                         load_entry_points=False)  # fmt: skip
    yield opened
    opened.close()


def _seed(site, orders=20):
    for i in range(3):
        site.add("Customer", f"CUST-{i}", customer_name=f"Customer {i}", territory="China",
                 industry="Machinery")
    for i in range(4):
        site.add("Item", f"ITEM-{i}", item_name=f"Item {i}", item_group="Valves",
                 valuation_rate=5.0, default_bom="BOM-1" if i == 0 else None)
    for n in range(orders):
        site.add("Sales Order", f"SO-{n:05d}", customer=f"CUST-{n % 3}", docstatus=1,
                 transaction_date="2026-01-05", delivery_date="2026-01-30",
                 items=[{"item_code": f"ITEM-{n % 4}", "qty": 2, "rate": 10.0},
                        {"item_code": f"ITEM-{n % 4}", "qty": 3, "rate": 20.0},
                        {"item_code": f"ITEM-{(n + 1) % 4}", "qty": 1, "rate": 5.0}])
    site.add("Sales Order", "SO-DRAFT", customer="CUST-0", docstatus=0,
             transaction_date="2026-01-05", items=[{"item_code": "ITEM-1", "qty": 1}])


def test_sales_orders_page_by_modified_and_lines_of_one_item_add_up(site, engine):
    _seed(site, orders=20)  # 20 orders sharing one `modified`, pages of 7
    report = sync_erp(engine, sleep=lambda s: None)
    assert report.counts["orders"]["added"] == 40
    with engine.db.connect() as conn:
        line = conn.execute(sa.text("select quantity, unit_price from order_lines where "
                                    "order_id='SO-00000' and sku='ITEM-0'")).one()
        kinds = dict(conn.execute(sa.text("select sku, kind from products")).all())
    assert line == (5.0, 16.0) and kinds["ITEM-0"] == "made" and kinds["ITEM-1"] == "bought"
    assert len(events(engine, "order.created")) == 20
    assert "SO-DRAFT" not in {json.loads(e["payload"])["order_id"]
                              for e in events(engine, "order.created")}
    site.now = "2026-01-06 09:00:00.000000"
    doc = site.docs["Sales Order"]["SO-00003"]
    site.update("Sales Order", "SO-00003", items=[{**doc["items"][0], "qty": 9}, doc["items"][2]])
    site.update("Sales Order", "SO-00004", docstatus=2)
    again = sync_erp(engine, sleep=lambda s: None)
    assert again.counts["orders"]["read"] == 2
    changed = [json.loads(e["payload"]) for e in events(engine, "order.line_changed")]
    assert [(c["order_id"], c["old"], c["new"], c["reason"]) for c in changed] == [
        ("SO-00003", 5.0, 9.0, "erp")]
    assert [json.loads(e["payload"])["order_id"] for e in events(engine, "order.cancelled")] \
        == ["SO-00004"]


def test_bins_become_inventory_positions(site, engine):
    _seed(site, orders=0)
    site.add("Bin", item_code="ITEM-2", warehouse="Stores - F", actual_qty=42.0)
    sync_erp(engine, sleep=lambda s: None)
    with engine.db.connect() as conn:
        assert conn.execute(sa.text("select sku, location, on_hand from inventory_positions")
                            ).all() == [("ITEM-2", "Stores - F", 42.0)]


def test_material_request_is_created_once_even_when_the_answer_is_lost(site, engine):
    _seed(site, orders=0)
    sync_erp(engine, sleep=lambda s: None)
    with engine.db.begin() as conn:
        made = planning.create_proposal(conn, sku="ITEM-1", kind="purchase_request", quantity=8,
                                        by="planner", now=NOW, need_date="2026-02-01")
        planning.decide_proposal(conn, made["subject"], approve=True, by="boss", now=NOW)
    calls = len(site.calls)
    original = site.add  # lose the answer of the insert, after ERPNext committed it

    def add_and_lose(doctype, name=None, **values):
        if doctype == "Material Request" and not site.docs.get(doctype):
            site.fail("drop")
        return original(doctype, name, **values)

    site.add = add_and_lose
    waited: list[float] = []
    report = sync_erp(engine, sleep=waited.append)
    site.add = original
    requests = [d for d in site.docs.get("Material Request", {}).values()
                if d["remarks"] == f"crmflow:{made['subject']}"]
    assert len(requests) == 1 and report.pushed[0]["status"] == "done" and len(site.calls) > calls
    sync_erp(engine, sleep=lambda s: None)
    assert len(site.docs["Material Request"]) == 1


def test_validation_error_keeps_frappes_message_and_401_is_a_credentials_error(
    site, engine, monkeypatch
):
    _seed(site, orders=0)
    with engine.db.begin() as conn:
        made = planning.create_proposal(conn, sku="ITEM-9", kind="purchase_request", quantity=1,
                                        by="planner", now=NOW)
        planning.decide_proposal(conn, made["subject"], approve=True, by="boss", now=NOW)
    site.fail("429", retry_after=4)
    waited: list[float] = []
    report = sync_erp(engine, sleep=waited.append)
    assert waited == [4.0] and report.pushed[0]["status"] == "failed"
    dead = failures(engine, "erp")
    assert [d["key"] for d in dead] == [made["subject"]]
    assert "Could not find Item: ITEM-9" in dead[0]["error"]
    monkeypatch.setenv("ERP_SECRET", "wrong")
    with pytest.raises(ConnectorError) as err:
        sync_erp(engine, sleep=lambda s: None)
    assert err.value.reason == "credentials" and "AuthenticationError" in str(err.value)


def test_delivery_notes_work_orders_and_purchase_orders_are_read(site, engine):
    _seed(site, orders=1)
    site.add("Delivery Note", "DN-0001", docstatus=1, posting_date="2026-01-08",
             items=[{"item_code": "ITEM-0", "qty": 2, "against_sales_order": "SO-00000"},
                    {"item_code": "ITEM-0", "qty": 1, "against_sales_order": "SO-00000"}])
    site.add("Work Order", "MFG-WO-0001", production_item="ITEM-0", qty=12, status="Not Started",
             planned_start_date="2026-01-10 08:00:00", expected_delivery_date="2026-01-12")
    site.add("Purchase Order", "PUR-ORD-0001", docstatus=1, supplier="Acme",
             transaction_date="2026-01-05",
             items=[{"item_code": "ITEM-1", "qty": 10, "received_qty": 4,
                     "schedule_date": "2026-01-25"}])
    report = sync_erp(engine, sleep=lambda s: None)
    assert report.rejected == []
    with engine.db.connect() as conn:
        assert conn.execute(sa.text("select delivery_id, quantity from deliveries")).all() == [
            ("DN-0001:SO-00000:ITEM-0", 3.0)]
        assert conn.execute(sa.text(
            "select plan_id, quantity, status from production_plans")).all() == [
            ("MFG-WO-0001", 12.0, "planned")]
        assert conn.execute(sa.text(
            "select po_id, supplier, quantity, received_quantity from purchases")).all() == [
            ("PUR-ORD-0001", "Acme", 10.0, 4.0)]


def test_approved_adjustment_updates_the_work_order(site, engine):
    _seed(site, orders=0)
    site.add("Work Order", "MFG-WO-0002", production_item="ITEM-0", qty=10, status="Not Started",
             planned_start_date="2026-01-10 08:00:00", expected_delivery_date="2026-01-12")
    sync_erp(engine, sleep=lambda s: None)
    with engine.db.begin() as conn:
        conn.execute(sa.text(
            "insert into plan_adjustments (plan_id, sku, quantity_delta, amount, reason, status, "
            "requested_by, created_at) values ('MFG-WO-0002', 'ITEM-0', 6, 0, 'rush', "
            "'proposed', 'planner', :now)"), {"now": NOW})
        aid = conn.execute(sa.text("select id from plan_adjustments")).scalar()
        planning.decide_proposal(conn, f"plan_adjustment:{aid}", approve=True, by="boss", now=NOW)
    sync_erp(engine, sleep=lambda s: None)
    assert site.docs["Work Order"]["MFG-WO-0002"]["qty"] == 16.0
