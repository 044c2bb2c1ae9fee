"""The connectors page shows health; the worker's scheduled round syncs every `every:`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crmflow.admin import create_app
from crmflow.errors import ConnectorError
from crmflow.plugins.connectors.status import connectors_status
from crmflow.plugins.erp.sync import sync_erp

from .conftest import events, seed


def _signed_in(app, engine):
    """A test client signed in as an operator (sign-in guards every page)."""
    import re

    from crmflow.core.people.accounts import add_user

    add_user(engine, "ops", "operator-pass-1", roles=["admin"])
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    done = client.post("/login", data={"username": "ops", "password": "operator-pass-1",
                                       "csrf_token": token})  # fmt: skip
    assert done.status_code == 302
    return client


def test_connectors_page_shows_the_erp_and_its_last_error(odoo, erp_engine):
    engine = erp_engine()
    odoo.fail("500", times=6)
    with pytest.raises(ConnectorError):
        sync_erp(engine, sleep=lambda s: None)
    app = create_app({"TESTING": True, "ENGINE": engine, "SECRET_KEY": "test"})
    client = _signed_in(app, engine)
    page = client.get("/connectors/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "erp" in html and "server exploded" in html and "<script>" not in html
    data = client.get("/connectors/status.json").get_json()
    assert data[0]["name"] == "erp" and data[0]["state"] == "error"


def test_worker_rounds_sync_once_per_period(odoo, erp_engine):
    seed(odoo, orders=2, lines=1)
    engine = erp_engine(every="10m")
    run = engine.hook("run_scheduled")
    clock = engine.clock
    run(engine=engine, now=clock())
    assert len(events(engine, "order.created")) == 2
    calls = len(odoo.calls)
    run(engine=engine, now=clock.advance(minutes=5))  # not due yet: nothing asked
    assert len(odoo.calls) == calls
    odoo.now = "2026-01-06 00:00:00"
    product = odoo.records("product.product")[0]["id"]
    partner = odoo.records("res.partner")[0]["id"]
    oid = odoo.add("sale.order", name="S-NEW", partner_id=partner, state="sale",
                   date_order="2026-01-05 12:00:00", commitment_date=False,
                   expected_date="2026-01-22 12:00:00", tag_ids=[], user_id=False)
    odoo.add("sale.order.line", order_id=oid, product_id=product, product_uom_qty=4,
             price_unit=1, display_type=False)
    run(engine=engine, now=clock.advance(timedelta(minutes=6)))
    assert len(events(engine, "order.created")) == 3
    status = connectors_status(engine)[0]
    assert status["state"] == "ok" and status["records"]["orders"] == 3
