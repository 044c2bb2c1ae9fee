"""Fixtures: an Odoo stand-in on a loopback port, a factory pointing at it, an engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crmflow.core.engine import Engine
from crmflow.testing import FakeClock

from .odoo_standin import OdooStandin

SHIPPED = Path(__file__).resolve().parents[2] / "crmflow" / "workflows"


@pytest.fixture
def odoo() -> Iterator[OdooStandin]:
    server = OdooStandin().start()
    yield server
    server.stop()


def write_factory(folder: Path, url: str, **erp: Any) -> Path:
    lines = ["factory: erp_test", "timezone: Europe/Berlin", "connectors:", "  erp:"]
    settings = {"kind": "odoo", "url": url, "database": "prod", "login": "crmflow@example.com",
                "api_key_env": "ODOO_API_KEY", "protocol": "auto", "every": "5m",
                "timeout": 2, **erp}  # fmt: skip
    lines += [f"    {k}: {v}" for k, v in settings.items() if v is not None]
    path = folder / "factory.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def erp_engine(
    tmp_path: Path, odoo: OdooStandin, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Engine]]:
    monkeypatch.setenv("ODOO_API_KEY", odoo.api_key)
    opened: list[Engine] = []

    def make(**erp: Any) -> Engine:
        factory = write_factory(tmp_path, odoo.url, **erp)
        engine = Engine.open(
            database_url=f"sqlite:///{tmp_path / 'crm.sqlite3'}", workflows=SHIPPED,
            factory=factory, clock=FakeClock(), load_entry_points=False,
        )  # fmt: skip
        opened.append(engine)
        return engine

    yield make
    for engine in opened:
        engine.close()


def seed(odoo: OdooStandin, orders: int = 3, lines: int = 3, products: int = 5) -> dict[str, Any]:
    """Customers, products, a stock location and confirmed orders with ``lines`` lines each."""
    categ = odoo.add("product.category", name="All / Pumps", complete_name="All / Pumps")
    country = odoo.add("res.country", name="Germany")
    industry = odoo.add("res.partner.industry", name="Automotive")
    partners = [odoo.add("res.partner", name=f"Customer {i}", ref=f"C{i:03d}", customer_rank=1,
                         country_id=country, industry_id=industry) for i in range(3)]
    vendor = odoo.add("res.partner", name="Acme Supply", ref="SUP-ACME", customer_rank=0)
    info = odoo.add("product.supplierinfo", partner_id=vendor)
    skus = [odoo.add("product.product", name=f"Pump {i}", default_code=f"P-{i:03d}",
                     categ_id=categ, standard_price=10.0 + i, type="consu",
                     bom_count=1 if i % 2 else 0, seller_ids=[info]) for i in range(products)]
    order_ids = []
    for n in range(orders):
        oid = odoo.add("sale.order", name=f"S{n + 1:05d}", partner_id=partners[n % 3],
                       date_order="2026-01-04 23:30:00", commitment_date=False,
                       expected_date="2026-01-20 10:00:00", state="sale", tag_ids=[],
                       user_id=False)  # fmt: skip
        for k in range(lines):
            odoo.add("sale.order.line", order_id=oid, product_id=skus[(n + k) % len(skus)],
                     product_uom_qty=2.0 + k, price_unit=100.0, display_type=False)
        order_ids.append(oid)
    return {"partners": partners, "products": skus, "orders": order_ids, "vendor": vendor}


def events(engine: Engine, name: str | None = None) -> list[dict[str, Any]]:
    t = sa.table("events", sa.column("name"), sa.column("key"), sa.column("payload"))
    q = sa.select(t.c.name, t.c.key, t.c.payload)
    if name:
        q = q.where(t.c.name == name)
    with engine.db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
