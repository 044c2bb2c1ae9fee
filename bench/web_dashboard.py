"""Benchmark: the S&OP dashboard and its data endpoints, and the weekly review pack's PDF.

Run: ``.venv/bin/python bench/web_dashboard.py [--orders 100000] [--lines-per-order 10]
[--db sqlite:///path]``. Loads 100k orders with 1M order lines (the demand history),
500 SKUs in 25 families, 20 production lines, capacity and plans, a forecast snapshot;
then, in one process through Flask's test client, times each dashboard URL (cold once,
then warm p50/p95 over ``--reps``) against a static file served by the same app, the
page right after an event for one SKU, and the review pack rendered to PDF.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crmflow.admin import create_app  # noqa: E402
from crmflow.core.engine import Engine  # noqa: E402
from crmflow.core.factory import Department, FactoryConfig  # noqa: E402
from crmflow.testing import FakeClock  # noqa: E402

TODAY = dt.date(2026, 11, 25)
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
N_SKUS, N_FAMILIES, N_LINES, N_CUSTOMERS = 500, 25, 20, 2000
SEGMENTS = ["oem", "retail", "distribution", "service", "export"]
REPS = [f"rep{i}" for i in range(12)]


def _load(engine: Engine, n_orders: int, per_order: int, seed: int = 3) -> dict[str, int]:
    rng = random.Random(seed)
    raw = engine.db.raw_connection()
    cur = raw.cursor()
    if engine.db.dialect.name == "sqlite":  # loading is not what is measured: no fsync per batch
        cur.execute("PRAGMA synchronous=OFF")
    stamp = NOW.isoformat()
    lines = [(f"L{i:02d}", f"Line {i}", float(rng.randint(10, 40))) for i in range(N_LINES)]
    cur.executemany("INSERT INTO production_lines (line, name, units_per_hour) VALUES (?,?,?)",
                    lines)  # fmt: skip
    products = []
    for i in range(N_SKUS):
        made = i % 5 != 4
        products.append((f"S{i:04d}", f"Part {i}", f"F{i % N_FAMILIES:02d}",
                         "made" if made else "bought", rng.uniform(2, 90), 14, 1.0,
                         float(rng.randint(20, 200)), 0.0, float(rng.randint(200, 400)),
                         f"L{i % N_LINES:02d}" if made else None, None))  # fmt: skip
    cur.executemany(
        "INSERT INTO products (sku, name, family, kind, unit_cost, lead_time_days, lot_size, "
        "safety_stock, reorder_qty, reorder_point, line, units_per_hour) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", products)  # fmt: skip
    cur.executemany(
        "INSERT INTO customers (customer_id, name, industry, size, region, segment) "
        "VALUES (?,?,?,?,?,?)",
        [(f"C{i:05d}", f"Customer {i}", "machinery", "M", "EU", SEGMENTS[i % 5])
         for i in range(N_CUSTOMERS)])  # fmt: skip
    orders, order_lines, deliveries = [], [], []
    start = TODAY - dt.timedelta(days=730)
    for n in range(n_orders):
        day = start + dt.timedelta(days=int(rng.random() * 760))
        past = day < TODAY - dt.timedelta(days=40)
        oid = f"O{n:07d}"
        orders.append((oid, f"C{rng.randrange(N_CUSTOMERS):05d}", day.isoformat(), "normal",
                       rng.choice(REPS), "delivered" if past else "confirmed", stamp))  # fmt: skip
        for sku in rng.sample(range(N_SKUS), per_order):
            qty = float(rng.randint(1, 40))
            due = day + dt.timedelta(days=rng.randint(7, 40))
            order_lines.append((oid, f"S{sku:04d}", qty, 100.0, due.isoformat(), None,
                                "delivered" if past else "open"))  # fmt: skip
            if past and due > TODAY - dt.timedelta(days=120):
                late = rng.randint(-3, 5)
                deliveries.append((f"D{len(deliveries):08d}", oid, f"S{sku:04d}",
                                   (due + dt.timedelta(days=late)).isoformat(), qty))  # fmt: skip
    cur.executemany("INSERT INTO orders (order_id, customer_id, order_date, priority, sales_rep, "
                    "status, created_at) VALUES (?,?,?,?,?,?,?)", orders)  # fmt: skip
    for k in range(0, len(order_lines), 100_000):
        cur.executemany("INSERT INTO order_lines (order_id, sku, quantity, unit_price, "
                        "requested_date, promised_date, status) VALUES (?,?,?,?,?,?,?)",
                        order_lines[k: k + 100_000])  # fmt: skip
    cur.executemany("INSERT INTO deliveries (delivery_id, order_id, sku, delivered_date, "
                    "quantity) VALUES (?,?,?,?,?)", deliveries)  # fmt: skip
    cur.executemany(
        "INSERT INTO inventory_positions (sku, location, kind, on_hand, allocated, as_of) "
        "VALUES (?,?,?,?,?,?)",
        [(f"S{i:04d}", "MAIN", "finished", float(rng.randint(0, 900)), 0.0, TODAY.isoformat())
         for i in range(N_SKUS)])  # fmt: skip
    snaps = [((TODAY - dt.timedelta(days=7 * w)).isoformat(), f"S{i:04d}", "MAIN", "finished",
              float(rng.randint(0, 900))) for w in range(1, 9) for i in range(N_SKUS)]  # fmt: skip
    cur.executemany("INSERT INTO inventory_snapshots (date, sku, location, kind, on_hand) "
                    "VALUES (?,?,?,?,?)", snaps)  # fmt: skip
    cap = []
    for d in range(120):
        day = TODAY + dt.timedelta(days=d)
        if day.weekday() < 5:
            for line, _, _ in lines:
                cap.append((day.isoformat(), line, 16.0, 16.0 * 3, round(rng.uniform(.7, .9), 3)))
    cur.executemany("INSERT INTO capacity_days (date, line, planned_hours, worker_hours, "
                    "efficiency) VALUES (?,?,?,?,?)", cap)  # fmt: skip
    plans = []
    for i in range(N_SKUS):
        if i % 5 == 4:
            continue
        for w in range(12):
            first = TODAY + dt.timedelta(days=7 * w + rng.randint(0, 3))
            plans.append((f"P{i:04d}-{w}", f"S{i:04d}", f"L{i % N_LINES:02d}", first.isoformat(),
                          (first + dt.timedelta(days=2)).isoformat(),
                          float(rng.randint(50, 400)), "planned"))  # fmt: skip
    cur.executemany("INSERT INTO production_plans (plan_id, sku, line, start_date, due_date, "
                    "quantity, status) VALUES (?,?,?,?,?,?,?)", plans)  # fmt: skip
    cur.execute("INSERT INTO forecast_snapshots (id, created_at, horizon, season, first_period, "
                "models, params, source) VALUES (1, ?, 6, 12, '2026-12-01', '[]', '{}', "
                "'orders')", (stamp,))  # fmt: skip
    cur.executemany("INSERT INTO forecast_series (snapshot_id, sku, kind, model, params, "
                    "backtest_mase, scale, history_months) VALUES (1,?,?,?,?,?,?,?)",
                    [(f"S{i:04d}", "regular", "ets", "{}", rng.uniform(.4, 1.2),
                      rng.uniform(20, 80), 24) for i in range(N_SKUS)])  # fmt: skip
    months = [dt.date(2026, 12, 1), dt.date(2027, 1, 1), dt.date(2027, 2, 1),
              dt.date(2027, 3, 1), dt.date(2027, 4, 1), dt.date(2027, 5, 1)]  # fmt: skip
    cur.executemany("INSERT INTO forecast_values (snapshot_id, sku, period_start, lag, value, "
                    "model) VALUES (1,?,?,?,?,?)",
                    [(f"S{i:04d}", m.isoformat(), k + 1, float(rng.randint(100, 900)), "ets")
                     for i in range(N_SKUS) for k, m in enumerate(months)])  # fmt: skip
    raw.commit()
    raw.close()
    return {"orders": len(orders), "order_lines": len(order_lines),
            "deliveries": len(deliveries), "skus": N_SKUS, "lines": N_LINES,
            "plans": len(plans)}  # fmt: skip


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _time(client, url: str, reps: int) -> tuple[float, float, float]:
    t = time.perf_counter()
    got = client.get(url)
    cold = time.perf_counter() - t
    assert got.status_code == 200, (url, got.status_code, got.data[:300])
    runs = []
    for _ in range(reps):
        t = time.perf_counter()
        client.get(url).close()
        runs.append(time.perf_counter() - t)
    return cold, statistics.median(runs), _pct(runs, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--lines-per-order", type=int, default=10)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--db", default=None)
    opts = parser.parse_args()
    url = opts.db or f"sqlite:///{Path(tempfile.mkdtemp()) / 'dash.sqlite3'}"
    factory = FactoryConfig(name="bench", title="Bench Works", departments=[
        Department("sales", "Sales", members=tuple(REPS[:6]), pilot_start=dt.date(2026, 9, 1)),
        Department("export", "Export", members=tuple(REPS[6:]))])  # fmt: skip
    engine = Engine.open(url, factory=factory, clock=FakeClock(NOW), load_entry_points=False)
    with engine.db.connect() as conn:
        loaded = conn.exec_driver_sql("SELECT count(*) FROM order_lines").scalar()
    if loaded:  # a --db loaded by an earlier run: reuse it
        print(f"reusing {opts.db}: {loaded:,} order lines")
    else:
        t = time.perf_counter()
        counts = _load(engine, opts.orders, opts.lines_per_order)
        print(f"loaded {json.dumps(counts)} in {time.perf_counter() - t:.1f} s", flush=True)
    app = create_app({"ENGINE": engine})
    client = app.test_client()
    urls = [
        ("static file (baseline)", "/dashboard/static/sop-dashboard.css"),
        ("page /dashboard/", "/dashboard/"),
        ("page, one family", "/dashboard/?family=F03"),
        ("demand.json", "/dashboard/data/demand.json"),
        ("capacity.json", "/dashboard/data/capacity.json"),
        ("stock.json", "/dashboard/data/stock.json"),
        ("kpis.json", "/dashboard/data/kpis.json"),
        ("work.json", "/dashboard/data/work.json"),
        ("demand.csv", "/dashboard/data/demand.csv"),
    ]
    print(f"{'url':<26}{'cold s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p95/base':>10}")
    base = None
    for name, path in urls:
        cold, p50, p95 = _time(client, path, opts.reps)
        base = base or p95
        print(f"{name:<26}{cold:>9.2f}{p50 * 1000:>9.1f}{p95 * 1000:>9.1f}{p95 / base:>10.1f}")
    # One SKU's stock changes: only its projection is recomputed.
    t = time.perf_counter()
    engine.emit("inventory.changed", {"sku": "S0007", "location": "MAIN", "on_hand": 5})
    emitted = time.perf_counter() - t
    t = time.perf_counter()
    assert client.get("/dashboard/").status_code == 200
    print(f"page after inventory.changed for one SKU: {time.perf_counter() - t:.3f} s "
          f"(emit itself {emitted:.3f} s)")  # fmt: skip
    from crmflow.plugins.reports.pack import make_review

    t = time.perf_counter()
    pack = make_review(engine, "2026-W47", pdf=True, store=True)
    assert pack.pdf is not None
    print(f"review pack {pack.week} to PDF: {time.perf_counter() - t:.2f} s "
          f"({len(pack.pdf):,} bytes)")  # fmt: skip
    engine.close()


if __name__ == "__main__":
    main()
