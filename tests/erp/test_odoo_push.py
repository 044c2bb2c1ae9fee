"""Pushes: exactly one draft RFQ per approved purchase request; MO quantity and dates."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from crmflow.core.domain import planning
from crmflow.plugins.connectors.status import failures, retry_failures
from crmflow.plugins.erp.push import push_pending
from crmflow.plugins.erp.sync import sync_erp

from .conftest import seed

NOW = dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)


def _approved_request(engine, sku="P-000", qty=40):
    with engine.db.begin() as conn:
        made = planning.create_proposal(conn, sku=sku, kind="purchase_request", quantity=qty,
                                        by="planner", now=NOW, need_date="2026-02-01")
        planning.decide_proposal(conn, made["subject"], approve=True, by="boss", now=NOW)
    return made["subject"]


def _rfqs(odoo, subject):
    return [p for p in odoo.records("purchase.order") if p["origin"] == f"crmflow:{subject}"]


def test_approved_request_becomes_one_draft_rfq_even_when_synced_twice(odoo, erp_engine):
    seed(odoo, orders=1)
    engine = erp_engine()
    sync_erp(engine, sleep=lambda s: None)
    subject = _approved_request(engine)
    report = sync_erp(engine, sleep=lambda s: None)
    assert [p["status"] for p in report.pushed] == ["done"]
    sync_erp(engine, sleep=lambda s: None)
    rfqs = _rfqs(odoo, subject)
    assert len(rfqs) == 1 and rfqs[0]["state"] == "draft"
    line = [x for x in odoo.records("purchase.order.line") if x["order_id"] == rfqs[0]["id"]]
    assert line[0]["product_qty"] == 40 and line[0]["date_planned"] == "2026-01-31 23:00:00"
    with engine.db.connect() as conn:
        assert conn.execute(sa.text("select status, po_id from purchase_requests")).one() == (
            "ordered", rfqs[0]["name"])


def test_a_create_whose_answer_was_lost_is_found_not_created_again(odoo, erp_engine):
    seed(odoo, orders=1)
    engine = erp_engine()
    sync_erp(engine, sleep=lambda s: None)
    subject = _approved_request(engine)
    odoo.fail("drop", method="purchase.order.create")  # Odoo committed, the answer was lost
    waited: list[float] = []
    report = sync_erp(engine, sleep=waited.append)
    assert [p["status"] for p in report.pushed] == ["done"] and len(waited) == 1
    assert len(_rfqs(odoo, subject)) == 1
    assert odoo.calls.count("purchase.order.create") == 1


def test_a_push_killed_after_odoo_created_the_rfq_links_it_on_the_next_round(odoo, erp_engine):
    ids = seed(odoo, orders=1)
    engine = erp_engine()
    sync_erp(engine, sleep=lambda s: None)
    subject = _approved_request(engine)
    # the worker died after Odoo created the RFQ, before crmflow recorded it
    odoo.add("purchase.order", name="P00077", origin=f"crmflow:{subject}", state="draft",
             partner_id=ids["vendor"])
    sync_erp(engine, sleep=lambda s: None)
    assert len(_rfqs(odoo, subject)) == 1 and "purchase.order.create" not in odoo.calls
    with engine.db.connect() as conn:
        assert conn.execute(sa.text("select po_id from purchase_requests")).scalar() == "P00077"


def test_approval_fired_twice_still_one_rfq(odoo, erp_engine):
    seed(odoo, orders=1)
    engine = erp_engine()
    subject = _approved_request(engine)
    sync_erp(engine, sleep=lambda s: None)
    push = engine.registry.actions["erp.push"].obj

    class Ctx:
        pass

    ctx = Ctx()
    ctx.engine = engine
    push(ctx, subject)
    push(ctx, subject)
    assert len(_rfqs(odoo, subject)) == 1


def test_odoo_validation_error_goes_to_dead_letter_with_its_message_and_retry_works(
    odoo, erp_engine
):
    seed(odoo, orders=1)
    engine = erp_engine()
    subject = _approved_request(engine)
    odoo.fail("validation", method="purchase.order.create")
    report = sync_erp(engine, sleep=lambda s: None)
    assert report.pushed[0]["status"] == "failed"
    dead = failures(engine, "erp")
    assert [d["key"] for d in dead] == [subject] and "The product is archived" in dead[0]["error"]
    sync_erp(engine, sleep=lambda s: None)  # a dead letter waits for the operator
    assert _rfqs(odoo, subject) == []
    handlers = {n: r.option("retry") for n, r in engine.registry.connectors.items()}
    done = retry_failures(engine, dead[0]["id"], handlers=handlers)
    assert done[0]["status"] == "resolved" and len(_rfqs(odoo, subject)) == 1
    assert failures(engine, "erp") == []


def test_approved_production_adjustment_writes_the_manufacturing_order(odoo, erp_engine):
    ids = seed(odoo, orders=0)
    mo = odoo.add("mrp.production", name="WH/MO/00001", product_id=ids["products"][1],
                  product_qty=10.0, date_start="2026-01-10 07:00:00",
                  date_finished="2026-01-12 15:00:00", state="confirmed")
    engine = erp_engine()
    sync_erp(engine, sleep=lambda s: None)
    with engine.db.begin() as conn:
        conn.execute(sa.text(
            "insert into plan_adjustments (plan_id, sku, quantity_delta, new_due_date, amount, "
            "reason, status, requested_by, created_at) values ('WH/MO/00001', 'P-001', 5, "
            "'2026-01-15', 0, 'rush', 'proposed', 'planner', :now)"), {"now": NOW})
        aid = conn.execute(sa.text("select id from plan_adjustments")).scalar()
        planning.decide_proposal(conn, f"plan_adjustment:{aid}", approve=True, by="boss", now=NOW)
    sync_erp(engine, sleep=lambda s: None)
    record = odoo.models["mrp.production"][mo]
    assert record["product_qty"] == 15.0
    assert record["date_finished"] == "2026-01-14 23:00:00"
    from .conftest import write_factory  # noqa: F401 - same engine, second round pushes nothing

    before = len(odoo.calls)
    push_pending(engine, None)  # nothing waits: no connection needed
    assert len(odoo.calls) == before
