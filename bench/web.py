"""Page speed of the web app: p50/p95 per page against a static file, in one process.

    python bench/web.py [--db sqlite:///path] [--requests 60]

Without --db it loads the demo factory into a temporary SQLite file first. Each
page is requested through the WSGI app (Flask's test client: no network, the
same process), signed in as a planner; the static-file baseline is
/static/admin.css served by the same app, measured interleaved with the pages.
Prints one JSON line per page: p50_ms, p95_ms and ratio_p95 (page / static).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo" / "factory.yaml"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _scale(url: str, factor: int) -> None:
    """Copies of the orders and lines (new ids), and finished instances with history."""
    db = sa.create_engine(url)
    with db.begin() as conn:
        for k in range(1, factor):
            conn.execute(sa.text(
                "INSERT INTO orders SELECT order_id || '-x' || :k, customer_id, order_date, "
                "priority, sales_rep, status, created_at, updated_at, updated_by FROM orders "
                "WHERE order_id NOT LIKE '%-x%'"), {"k": k})
            conn.execute(sa.text(
                "INSERT INTO order_lines SELECT order_id || '-x' || :k, sku, quantity, "
                "unit_price, requested_date, promised_date, status, updated_at, updated_by "
                "FROM order_lines WHERE order_id NOT LIKE '%-x%'"), {"k": k})
        first = int(conn.execute(sa.text("SELECT max(id) FROM instances")).scalar() or 0) + 1
        count = 10_000 * factor
        now = "2026-01-01 00:00:00.000000"
        conn.execute(sa.text(
            "INSERT INTO instances (id, workflow, version, state, data, rev, finished, "
            "created_at, updated_at, entered_at) VALUES (:id, 'rush_order', 1, 'delivered', "
            "'{}', 10, 1, :t, :t, :t)"), [{"id": first + i, "t": now} for i in range(count)])
        states = ["received", "capacity_check", "in_production", "shipped", "delivered"]
        rows = [{"i": first + i, "tr": f"step{j}", "f": states[j % 5], "to": states[(j + 1) % 5],
                 "t": now} for i in range(count) for j in range(10)]  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO history (instance_id, trigger, from_state, to_state, actor, at) "
            "VALUES (:i, :tr, :f, :to, 'bench', :t)"), rows)
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="a database with the demo loaded (default: load it)")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--scale", type=int, default=1,
                        help="copy the demo's orders and lines N times and add finished "
                             "instances up to 100,000 x N/10 with 10 history rows each")
    args = parser.parse_args()

    from crmflow.admin import create_app
    from crmflow.core.engine import Engine
    from crmflow.core.people.accounts import add_user

    url = args.db
    if url is None:
        from crmflow.core.domain.demo import load_demo

        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
        loader = Engine.open(url, factory=str(DEMO))
        started = time.perf_counter()
        load_demo(loader, seed=7)
        print(json.dumps({"demo_loaded_s": round(time.perf_counter() - started, 1)}))
        loader.close()
    if args.scale > 1:
        started = time.perf_counter()
        _scale(url, args.scale)
        print(json.dumps({"scaled_s": round(time.perf_counter() - started, 1)}))
    engine = Engine.open(url, factory=str(DEMO))
    app = create_app({"ENGINE": engine, "SECRET_KEY": "bench"})
    client = app.test_client()
    add_user(engine, "paul", "bench-password")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "paul", "password": "bench-password",
                                "csrf_token": token})  # fmt: skip
    with engine.db.connect() as conn:
        sizes = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                 for t in ("orders", "order_lines", "history", "instances")}  # fmt: skip
        line = conn.execute(sa.text("SELECT order_id, sku FROM order_lines WHERE status = 'open' "
                                    "ORDER BY order_id LIMIT 1")).one()  # fmt: skip
        customer = conn.execute(sa.text("SELECT customer_id FROM orders WHERE order_id = :o"),
                                {"o": line.order_id}).scalar()  # fmt: skip
        instance = conn.execute(sa.text("SELECT max(id) FROM instances")).scalar()
    print(json.dumps({"sizes": sizes}))
    pages = {
        "static": "/static/admin.css",
        "inbox": "/",
        "instance": f"/instances/{instance}",
        "order": f"/orders/{line.order_id}",
        "customer": f"/customers/{customer}",
        "sku": f"/inventory/{line.sku}",
        "kpi": "/kpi/",
        "api_inbox": "/api/inbox",
        "api_order": f"/api/orders/{line.order_id}",
    }
    timings: dict[str, list[float]] = {name: [] for name in pages}
    for path in pages.values():  # warm caches and compiled templates
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
    for _ in range(args.requests):
        for name, path in pages.items():
            started = time.perf_counter()
            answer = client.get(path)
            answer.get_data()
            timings[name].append((time.perf_counter() - started) * 1000)
    base = _percentile(timings["static"], 0.95)
    for name, values in timings.items():
        p95 = _percentile(values, 0.95)
        print(json.dumps({"page": name, "p50_ms": round(statistics.median(values), 2),
                          "p95_ms": round(p95, 2), "ratio_p95": round(p95 / base, 1),
                          "requests": len(values)}))  # fmt: skip
    engine.close()




if __name__ == "__main__":
    main()
