"""ERP sync speed: orders/lines per second from an Odoo stand-in, against a CSV import baseline.

    python bench/erp.py [--orders 20000] [--lines 3]

Both runs load the same orders into a fresh SQLite database in this process
with no workflows (the connector's cost, not the workflows'): the baseline
is ``crmflow import orders`` of the same rows as CSV; the ERP run is
``sync_erp`` over real HTTP (JSON-2) with paging, cursors and the event inbox.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crmflow.core.domain.imports import import_csv  # noqa: E402
from crmflow.core.engine import Engine  # noqa: E402
from crmflow.plugins.erp.sync import sync_erp  # noqa: E402
from tests.erp.conftest import seed, write_factory  # noqa: E402
from tests.erp.odoo_standin import OdooStandin  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--lines", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    (folder / "wf").mkdir()
    odoo = OdooStandin().start()
    seed(odoo, orders=args.orders, lines=args.lines, products=50)
    os.environ["ODOO_API_KEY"] = odoo.api_key
    factory = write_factory(folder, odoo.url, page_size=1000, timeout=60)

    base = Engine.open(database_url=f"sqlite:///{folder / 'csv.db'}", workflows=folder / "wf",
                       factory=factory, load_entry_points=False)  # fmt: skip
    sync_erp(base, push=False)  # customers and products; orders come from the CSV below
    with base.db.begin() as conn:
        conn.exec_driver_sql("delete from order_lines")
        conn.exec_driver_sql("delete from orders")
    path = folder / "orders.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["order_id", "customer_id", "order_date", "sku", "quantity", "unit_price",
                      "requested_date"])  # fmt: skip
        lines_by: dict[int, list[dict]] = {}
        for x in odoo.records("sale.order.line"):
            lines_by.setdefault(x["order_id"], []).append(x)
        partners = {p["id"]: p["ref"] for p in odoo.records("res.partner")}
        skus = {p["id"]: p["default_code"] for p in odoo.records("product.product")}
        for o in odoo.records("sale.order"):
            for x in lines_by.get(o["id"], []):
                out.writerow([o["name"], partners[o["partner_id"]], "2026-01-05",
                              skus[x["product_id"]], x["product_uom_qty"], x["price_unit"],
                              "2026-01-20"])  # fmt: skip
    started = time.perf_counter()
    done = import_csv(base, "orders", path, actor="bench")
    csv_s = time.perf_counter() - started
    base.close()

    engine = Engine.open(database_url=f"sqlite:///{folder / 'erp.db'}", workflows=folder / "wf",
                         factory=factory, load_entry_points=False)  # fmt: skip
    started = time.perf_counter()
    report = sync_erp(engine, push=False)
    erp_s = time.perf_counter() - started
    again = time.perf_counter()
    sync_erp(engine, push=False)
    idle_s = time.perf_counter() - again
    engine.close()
    odoo.stop()
    lines = args.orders * args.lines
    print(json.dumps({"method": "csv import", "orders": args.orders, "lines": done.added,
                      "seconds": round(csv_s, 2), "lines_per_s": round(lines / csv_s)}))
    print(json.dumps({"method": "erp sync (odoo json-2)", "orders": args.orders,
                      "lines": report.counts["orders"]["added"], "seconds": round(erp_s, 2),
                      "lines_per_s": round(lines / erp_s),
                      "orders_per_s": round(args.orders / erp_s),
                      "http_calls": len(odoo.calls), "idle_resync_s": round(idle_s, 2)}))
    print(json.dumps({"ratio_erp_over_csv_seconds": round(erp_s / csv_s, 2)}))


if __name__ == "__main__":
    main()
