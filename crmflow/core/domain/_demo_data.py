"""Deterministic records of the demo factory: customers, SKUs, three years of orders, stock."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DemoData", "generate"]

INDUSTRIES = ("automotive", "food", "chemicals", "energy", "machinery", "water")
SIZES = (("small", 1.0), ("medium", 2.5), ("large", 6.0))
REGIONS = ("EU-North", "EU-South", "US-East", "US-West", "APAC")
MADE = {  # family: (line, units per hour, unit cost range)
    "gearboxes": ("L1", 6.0, (180, 420)),
    "pumps": ("L2", 8.0, (120, 300)),
    "valves": ("L3", 20.0, (25, 90)),
    "motors": ("L4", 5.0, (220, 520)),
    "controllers": ("L3", 12.0, (80, 160)),
    "assemblies": ("L1", 4.0, (400, 900)),
}
BOUGHT = {  # spare parts customers also order
    "bearings": (10, 21, (4, 18)),
    "seals": (7, 14, (1, 6)),
    "castings": (21, 35, (30, 80)),
    "electronics": (28, 42, (15, 60)),
}
LINES = {"L1": 6.0, "L2": 8.0, "L3": 16.0, "L4": 5.0}
SALES_REPS = ("rita", "omar", "lena", "ken")


@dataclass
class DemoData:
    """Rows per table, ready for bulk insert."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    short_skus: list[tuple[str, str]] = field(default_factory=list)  # (sku, location)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)


def _season(day: dt.date, family: str) -> float:
    # Families peak in different months; energy/water customers buy more pumps in spring.
    phase = sum(map(ord, family)) % 12
    return 1.0 + 0.3 * math.sin(2 * math.pi * (day.month - phase) / 12)


def generate(seed: int, today: dt.date, stamp: dict[str, Any], customers: int = 200) -> DemoData:
    """All demo records, from ``seed``; dates are relative to ``today``.

    ``customers`` scales the order history (tests load a smaller factory).
    """
    rng = random.Random(seed)
    data = DemoData()
    start = today - dt.timedelta(days=3 * 365)
    for line, rate in LINES.items():
        data.add(
            "production_lines", {"line": line, "name": f"Line {line[1]}", "units_per_hour": rate}
        )
    products: list[dict[str, Any]] = []
    for family, (line, rate, (lo, hi)) in MADE.items():
        for i in range(1, 7):
            cost = round(rng.uniform(lo, hi), 2)
            products.append({
                "sku": f"{family[:2].upper()}-{i:03d}", "name": f"{family[:-1].title()} {i}",
                "family": family, "kind": "made", "unit_cost": cost,
                "lead_time_days": rng.choice((5, 7, 10)), "lot_size": rng.choice((5, 10, 20)),
                "safety_stock": 0.0, "reorder_qty": 0.0, "reorder_point": None, "line": line,
                "units_per_hour": rate * rng.uniform(0.8, 1.2), **stamp,
            })  # fmt: skip
    for family, (lead_lo, lead_hi, (lo, hi)) in BOUGHT.items():
        for i in range(1, 7):
            products.append({
                "sku": f"{family[:2].upper()}-{100 + i}", "name": f"{family[:-1].title()} {i}",
                "family": family, "kind": "bought", "unit_cost": round(rng.uniform(lo, hi), 2),
                "lead_time_days": rng.randint(lead_lo, lead_hi),
                "lot_size": rng.choice((50, 100, 200)), "safety_stock": 0.0,
                "reorder_qty": 0.0, "reorder_point": None, "line": None, "units_per_hour": None,
                **stamp,
            })  # fmt: skip
    by_family: dict[str, list[dict[str, Any]]] = {}
    for p in products:
        by_family.setdefault(p["family"], []).append(p)
    families = list(by_family)
    shocks = [(rng.choice(families), start + dt.timedelta(days=rng.randint(200, 1000)))
              for _ in range(3)]  # fmt: skip
    weekly: dict[str, float] = {p["sku"]: 0.0 for p in products}  # last 12 weeks' demand
    recent_from = today - dt.timedelta(days=84)
    order_no = 0
    for c in range(1, customers + 1):
        size, mult = rng.choices(SIZES, weights=(5, 3, 2))[0]
        cid = f"C{c:03d}"
        industry = rng.choice(INDUSTRIES)
        region = rng.choice(REGIONS)
        data.add("customers", {
            "customer_id": cid, "name": f"{industry.title()} {region} {c}", "industry": industry,
            "size": size, "region": region, "segment": f"{size}/{industry}", "value_tier": None,
            "created_at": stamp["updated_at"], **stamp,
        })  # fmt: skip
        data.add(
            "contacts",
            {
                "customer_id": cid,
                "name": f"Buyer {c}",
                "role": "purchasing",
                "email": f"buyer{c}@example.com",
                "phone": None,
                **stamp,
            },
        )
        prefs = rng.sample(families[:6], 2) + [rng.choice(families[6:])]
        cycle = rng.choice((7, 7, 14, 14, 21, 28, 42))
        trend = rng.uniform(-0.15, 0.35)  # yearly growth
        rep = rng.choice(SALES_REPS)
        day = start + dt.timedelta(days=rng.randint(0, cycle))
        while day <= today:
            order_no += 1
            oid = f"SO-{order_no:06d}"
            years = (day - start).days / 365
            cancelled = rng.random() < 0.02
            rush = rng.random() < 0.04
            data.add("orders", {
                "order_id": oid, "customer_id": cid, "order_date": day,
                "priority": "rush" if rush else "normal", "sales_rep": rep,
                "status": "cancelled" if cancelled else "confirmed", "created_at": stamp[
                    "updated_at"], **stamp,
            })  # fmt: skip
            skus = {rng.choice(by_family[f])["sku"]: f for f in
                    rng.sample(prefs, rng.randint(1, 3))}  # fmt: skip
            all_done = True
            for sku, family in skus.items():
                prod = next(p for p in by_family[family] if p["sku"] == sku)
                shock = (
                    2.5 if any(f == family and 0 <= (day - s).days < 60 for f, s in shocks) else 1.0
                )
                base = (4 if prod["kind"] == "made" else 20) * mult * cycle / 7
                qty = max(
                    1,
                    round(
                        base
                        * _season(day, family)
                        * (1 + trend) ** years
                        * shock
                        * rng.lognormvariate(0, 0.35)
                    ),
                )
                # A rush order is wanted within the week, a normal one in two to five.
                requested = day + dt.timedelta(
                    days=rng.randint(3, 7) if rush else rng.randint(14, 35)
                )
                promised = (
                    requested + dt.timedelta(days=rng.choice((0, 0, 1, 2, 3, -1)))
                    if rng.random() < 0.6
                    else None
                )
                due = promised or requested
                status = "cancelled" if cancelled else "open"
                if not cancelled and due < today - dt.timedelta(days=2):
                    late = rng.choice((-2, -1, 0, 0, 0, 0, 1, 2, 4, 9))
                    full = rng.random() > 0.03
                    got = qty if full else max(1, qty // 2)
                    # Early rush deliveries still leave after the order came in.
                    arrived = max(due + dt.timedelta(days=late), day + dt.timedelta(days=1))
                    data.add("deliveries", {
                        "delivery_id": f"DL-{oid[3:]}-{sku}", "order_id": oid, "sku": sku,
                        "shipped_date": max(arrived - dt.timedelta(days=2), day),
                        "delivered_date": arrived, "quantity": got,
                        **stamp})  # fmt: skip
                    status = "delivered" if full else "shipped"
                all_done = all_done and status == "delivered"
                if day >= recent_from and not cancelled:
                    weekly[sku] += qty / 12
                data.add("order_lines", {
                    "order_id": oid, "sku": sku, "quantity": float(qty),
                    "unit_price": round(prod["unit_cost"] * rng.uniform(1.3, 1.8), 2),
                    "requested_date": requested, "promised_date": promised, "status": status,
                    **stamp})  # fmt: skip
            if all_done and not cancelled:
                data.rows["orders"][-1]["status"] = "delivered"
            day += dt.timedelta(days=max(3, round(cycle * rng.uniform(0.7, 1.3))))
    backlog: dict[str, float] = {p["sku"]: 0.0 for p in products}
    for order_line in data.rows["order_lines"]:
        if order_line["status"] == "open":
            backlog[order_line["sku"]] += order_line["quantity"]
    _stock(rng, data, products, weekly, backlog, today, stamp)
    _capacity(rng, data, start, today, stamp)
    data.rows["products"] = products
    return data


def _stock(rng: random.Random, data: DemoData, products: list[dict[str, Any]],
           weekly: dict[str, float], backlog: dict[str, float], today: dt.date,
           stamp: dict[str, Any]) -> None:  # fmt: skip
    """Safety stocks from demand; weekly snapshots; plans and POs; a few SKUs run short."""
    short = set(rng.sample([p["sku"] for p in products], 8))
    for p in products:
        daily = max(weekly[p["sku"]] / 7, 0.5)
        p["safety_stock"] = round(daily * p["lead_time_days"] * 0.5)
        p["reorder_qty"] = round(daily * 14 / p["lot_size"]) * p["lot_size"] or p["lot_size"]
        p["reorder_point"] = round(p["safety_stock"] + daily * p["lead_time_days"])
        location = "FG" if p["kind"] == "made" else "RM"
        kind = "finished" if p["kind"] == "made" else "raw"
        # Enough for the open backlog and the lead time; the short SKUs only cover part of it.
        level = p["safety_stock"] + backlog[p["sku"]] + daily * p["lead_time_days"] * 2
        if p["sku"] in short:
            level = p["safety_stock"] + backlog[p["sku"]] * rng.uniform(0.3, 0.7)
            data.short_skus.append((p["sku"], location))
        for week in range(156, -1, -1):
            day = today - dt.timedelta(days=7 * week)
            on_hand = round(level * rng.uniform(0.7, 1.3)) if week else round(level)
            data.add(
                "inventory_snapshots",
                {
                    "date": day,
                    "sku": p["sku"],
                    "location": location,
                    "kind": kind,
                    "on_hand": float(on_hand),
                    **stamp,
                },
            )
        data.add("inventory_positions", {
            "sku": p["sku"], "location": location, "kind": kind, "on_hand": float(round(level)),
            "allocated": 0.0, "safety_stock": None, "reorder_point": None, "as_of": today,
            **stamp})  # fmt: skip
        if p["kind"] == "made":
            for week in range(-8, 4):
                first = today + dt.timedelta(days=7 * week)
                if week >= 0 and p["sku"] in short:
                    continue  # no supply planned: these SKUs head below safety stock
                data.add(
                    "production_plans",
                    {
                        "plan_id": f"PP-{p['sku']}-{week + 8:02d}",
                        "sku": p["sku"],
                        "line": p["line"],
                        "start_date": first,
                        "due_date": first + dt.timedelta(days=4),
                        "quantity": float(max(p["lot_size"], round(weekly[p["sku"]] / 5) * 5)),
                        "status": "done" if week < 0 else "planned",
                        "order_id": None,
                        **stamp,
                    },
                )
        else:
            for n in range(6):
                ordered = today - dt.timedelta(days=30 * n + rng.randint(5, 25))
                due = ordered + dt.timedelta(days=p["lead_time_days"])
                received = due + dt.timedelta(days=rng.randint(-2, 5))
                is_open = received > today and p["sku"] not in short
                if received > today and not is_open:
                    continue
                data.add(
                    "purchases",
                    {
                        "po_id": f"PO-{p['sku']}-{n}",
                        "sku": p["sku"],
                        "supplier": f"Supplier {p['family'].title()}",
                        "quantity": p["reorder_qty"],
                        "order_date": ordered,
                        "due_date": due,
                        "received_date": None if is_open else received,
                        "received_quantity": None if is_open else p["reorder_qty"],
                        **stamp,
                    },
                )


def _capacity(rng: random.Random, data: DemoData, start: dt.date, today: dt.date,
              stamp: dict[str, Any]) -> None:  # fmt: skip
    day = start
    while day < today + dt.timedelta(days=90):
        if day.weekday() < 5:
            for line, rate in LINES.items():
                eff = rng.uniform(0.72, 0.92)
                crew = {"L1": 4, "L2": 3, "L3": 5, "L4": 4}[line]
                data.add(
                    "capacity_days",
                    {
                        "date": day,
                        "line": line,
                        "planned_hours": 16.0,
                        "worker_hours": 16.0 * crew * rng.uniform(0.9, 1.0),
                        "efficiency": round(eff, 3),
                        "output": round(16 * eff * rate) if day < today else None,
                        **stamp,
                    },
                )
        day += dt.timedelta(days=1)
