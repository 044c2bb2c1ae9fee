"""Benchmark: every KPI of kpis.md over 100,000 order lines and 300,000 deliveries on SQLite.

Run: ``.venv/bin/python bench/kpi.py [--lines 100000] [--db sqlite:///path]``.
Prints the load time and, for the whole two years (every line due in the
period, the worst case), one month, and the two years broken down by
department and by SKU, the seconds to compute all KPIs (each timed twice:
the first call also builds SQLAlchemy's statement cache; the CPU time of the
second tells a busy machine's waiting apart).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crmflow.core.engine import Engine  # noqa: E402
from crmflow.core.factory import Department, FactoryConfig  # noqa: E402
from crmflow.plugins.kpi import kpi_report  # noqa: E402

START = dt.date(2025, 1, 1)
DAYS = 730
N_SKUS = 500
N_CUSTOMERS = 1000
REPS = [f"rep{i}" for i in range(12)]


def _day(offset: int) -> str:
    return (START + dt.timedelta(days=int(offset))).isoformat()


def load(engine: Engine, n_lines: int, seed: int = 1) -> dict[str, int]:
    """Random but plausible records: ~2.5 lines per order, ~3 deliveries per line."""
    rng = np.random.default_rng(seed)
    n_orders = n_lines * 2 // 5
    customers = [
        (f"C{i}", f"Customer {i}", "industry", "M", "EU", ["oem", "retail", "project"][i % 3])
        for i in range(N_CUSTOMERS)
    ]
    costs = rng.uniform(1, 100, N_SKUS)
    products = [
        (f"S{i}", f"SKU {i}", f"F{i % 20}", "made", float(costs[i]), 14, 1.0, 0.0, 0.0)
        for i in range(N_SKUS)
    ]
    order_day = rng.integers(0, DAYS - 30, n_orders)
    orders = [
        (f"O{i}", f"C{rng.integers(N_CUSTOMERS)}", _day(order_day[i]),
         "rush" if i % 50 == 0 else "normal", REPS[i % len(REPS)],
         "cancelled" if i % 97 == 0 else "confirmed")
        for i in range(n_orders)
    ]  # fmt: skip
    line_order = np.sort(rng.integers(0, n_orders, n_lines))
    line_sku = rng.integers(0, N_SKUS, n_lines)
    lead = rng.integers(5, 40, n_lines)
    qty = rng.integers(1, 100, n_lines).astype(float)
    lines, seen = [], set()
    for i in range(n_lines):
        key = (int(line_order[i]), int(line_sku[i]))
        while key in seen:  # one line per order and SKU
            key = (key[0], (key[1] + 1) % N_SKUS)
        seen.add(key)
        due = order_day[key[0]] + lead[i]
        promised = _day(due + 2) if i % 5 == 0 else None
        lines.append((f"O{key[0]}", f"S{key[1]}", qty[i], 10.0, _day(due), promised, "open"))
    deliveries = []
    # three shipments per line: most complete by the due date, some late, some short or over
    outcome = rng.choice(4, n_lines, p=[0.80, 0.12, 0.05, 0.03])  # on time, late, short, over
    factor = np.where(outcome == 2, 0.8, np.where(outcome == 3, 1.1, 1.0))
    shares = rng.dirichlet([2, 2, 2], n_lines)
    early = rng.integers(-12, 1, (n_lines, 3))
    for i, (order_id, sku, q, _p, due, _pr, _s) in enumerate(lines):
        due_off = (dt.date.fromisoformat(due) - START).days
        days = np.sort(due_off + early[i])
        if outcome[i] == 1:
            days[-1] = due_off + rng.integers(1, 10)
        for j in range(3):
            deliveries.append((f"D{i}-{j}", order_id, sku, _day(days[j]),
                               float(round(shares[i, j] * q * factor[i], 2))))  # fmt: skip
    stock = [
        (_day(week * 7), f"S{s}", loc, "finished", float(rng.integers(0, 500)))
        for week in range(DAYS // 7)
        for s in range(N_SKUS)
        for loc in ("A", "B")
    ]
    with engine.db.begin() as conn:
        run = conn.exec_driver_sql
        run("INSERT INTO customers (customer_id, name, industry, size, region, segment)"
            " VALUES (?, ?, ?, ?, ?, ?)", customers)  # fmt: skip
        run("INSERT INTO products (sku, name, family, kind, unit_cost, lead_time_days, lot_size,"
            " safety_stock, reorder_qty) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", products)  # fmt: skip
        run("INSERT INTO orders (order_id, customer_id, order_date, priority, sales_rep, status)"
            " VALUES (?, ?, ?, ?, ?, ?)", orders)  # fmt: skip
        run("INSERT INTO order_lines (order_id, sku, quantity, unit_price, requested_date,"
            " promised_date, status) VALUES (?, ?, ?, ?, ?, ?, ?)", lines)  # fmt: skip
        run("INSERT INTO deliveries (delivery_id, order_id, sku, delivered_date, quantity)"
            " VALUES (?, ?, ?, ?, ?)", deliveries)  # fmt: skip
        run("INSERT INTO inventory_snapshots (date, sku, location, kind, on_hand)"
            " VALUES (?, ?, ?, ?, ?)", stock)  # fmt: skip
        _load_rush(conn, [o for o in orders if o[3] == "rush"], rng)
        n_forecasts = _load_forecasts(conn, lines, rng)
    return {"orders": len(orders), "lines": len(lines), "deliveries": len(deliveries),
            "inventory_rows": len(stock), "forecast_values": n_forecasts}  # fmt: skip


def _load_forecasts(conn: object, lines: list[tuple], rng: np.random.Generator) -> int:
    """A forecast snapshot on the 20th of each month: the next 6 months per SKU, ±30 %."""
    demand: dict[tuple[str, str], float] = {}
    for _o, sku, q, _p, requested, _pr, _s in lines:
        demand[(sku, requested[:7])] = demand.get((sku, requested[:7]), 0.0) + q
    snapshots, values = [], []
    for m in range(24):
        year, month = 2025 + m // 12, m % 12 + 1
        sid = m + 1
        snapshots.append((sid, f"{year}-{month:02d}-20 06:00:00", 6, 12,
                          f"{year}-{month:02d}-01", "[]", "{}", "bench"))  # fmt: skip
        for lag in range(1, 7):
            k = m + lag
            target = f"{2025 + k // 12}-{k % 12 + 1:02d}"
            noise = rng.uniform(0.7, 1.3, N_SKUS)
            for s in range(N_SKUS):
                value = demand.get((f"S{s}", target), 0.0) * noise[s]
                values.append((sid, f"S{s}", f"{target}-01", lag, float(value), "bench"))
    conn.exec_driver_sql(  # type: ignore[attr-defined]
        "INSERT INTO forecast_snapshots (id, created_at, horizon, season, first_period, models,"
        " params, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", snapshots)  # fmt: skip
    conn.exec_driver_sql(  # type: ignore[attr-defined]
        "INSERT INTO forecast_values (snapshot_id, sku, period_start, lag, value, model)"
        " VALUES (?, ?, ?, ?, ?, ?)", values)  # fmt: skip
    return len(values)


def _load_rush(conn: object, rush: list[tuple], rng: np.random.Generator) -> None:
    instances, history = [], []
    for n, order in enumerate(rush, start=1):
        start = dt.datetime.fromisoformat(order[2]) + dt.timedelta(hours=9)
        answer = start + dt.timedelta(minutes=int(rng.integers(10, 600)))
        at = start.isoformat(" ")
        data = json.dumps({"order": {"order_id": order[0]}})
        instances.append((n, "rush_order", 1, "accepted", data, 1, 0, at, at, at))
        history.append((n, "start", None, "new", "sales", at))
        history.append((n, "accept", "new", "accepted", "planner", answer.isoformat(" ")))
    conn.exec_driver_sql(  # type: ignore[attr-defined]
        "INSERT INTO instances (id, workflow, version, state, data, rev, finished, created_at,"
        " updated_at, entered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", instances)  # fmt: skip
    conn.exec_driver_sql(  # type: ignore[attr-defined]
        "INSERT INTO history (instance_id, trigger, from_state, to_state, actor, at)"
        " VALUES (?, ?, ?, ?, ?, ?)", history)  # fmt: skip


def timed(label: str, fn: object, *args: object, **kwargs: object) -> dict:
    """Run twice; print wall-clock seconds of each and the CPU seconds of the second."""
    seconds = []
    for _ in range(2):
        t0, c0 = time.perf_counter(), time.process_time()
        report = fn(*args, **kwargs)  # type: ignore[operator]
        seconds.append((time.perf_counter() - t0, time.process_time() - c0))
    (first, _), (again, cpu) = seconds
    print(f"{label:<40} {first:6.3f} s, again {again:6.3f} s (cpu {cpu:.3f} s)")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'kpi-bench.sqlite3'}"
        factory = FactoryConfig(
            name="bench",
            departments=[
                Department(f"d{k}", f"Department {k}", members=tuple(REPS[k::4]))
                for k in range(4)
            ],
        )
        engine = Engine.open(database_url=url, factory=factory, load_entry_points=False)
        t0 = time.perf_counter()
        counts = load(engine, args.lines)
        print(f"loaded {counts} in {time.perf_counter() - t0:.1f} s ({engine.db.dialect.name})")
        whole = (START, START + dt.timedelta(days=DAYS + 31))
        report = timed("all KPIs, two years (every line due)", kpi_report, engine, *whole)
        timed("all KPIs, one month (2026-03)", kpi_report, engine,
              dt.date(2026, 3, 1), dt.date(2026, 4, 1))  # fmt: skip
        timed("all KPIs, two years, by department", kpi_report, engine, *whole, by="department")
        timed("all KPIs, two years, by SKU", kpi_report, engine, *whole, by="sku")
        keys = {k: v for k, v in report.items() if k not in ("period", "units", "details")}
        print(json.dumps(keys, indent=1))
        engine.close()


if __name__ == "__main__":
    main()
