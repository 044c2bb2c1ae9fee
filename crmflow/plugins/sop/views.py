"""The planner commands' text for people: aligned tables of the services' JSON answers."""

from __future__ import annotations

from typing import Any

from crmflow.textable import format_table

__all__ = [
    "ctp_text", "customer_text", "customers_text", "order_text", "projected_text",
    "segments_text", "swings_text",
]  # fmt: skip


def _pairs(items: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in items)
    return "\n".join(f"{k.ljust(width)}  {'-' if v is None else v}" for k, v in items)


def order_text(view: dict[str, Any]) -> str:
    """An order's header, lines and timeline."""
    head = _pairs([("order", view["order_id"]), ("customer", view["customer_id"]),
                   ("status", view["status"]), ("priority", view["priority"])])  # fmt: skip
    lines = format_table(
        ["sku", "quantity", "requested", "promised", "status"],
        [[x["sku"], x["quantity"], x["requested_date"], x["promised_date"], x["status"]]
         for x in view["lines"]],
    )  # fmt: skip
    timeline = format_table(
        ["at", "stage", "what", "by"],
        [[e["at"].replace("T", " "), e["stage"], e["what"], e["by"]] for e in view["timeline"]],
    )
    return f"{head}\n\n{lines}\n\n{timeline}"


def customer_text(view: dict[str, Any]) -> str:
    """Customer 360: who, cycle, value, preferences, volatility."""
    c, value, vol = view["customer"], view["value"], view["volatility"]
    head = _pairs([
        ("customer", f"{c['customer_id']} {c['name']}"),
        ("segment", f"{c['segment'] or '-'} ({c['industry']}, {c['size']}, {c['region']})"),
        ("orders", f"{view['orders']} ({view['first_order']} to {view['last_order']})"),
        ("purchase cycle", f"{view['purchase_cycle_days']} days, next order expected "
                           f"{view['next_expected_order']}"),
        ("value tier", f"{value.get('tier') or '-'} (RFM score {value.get('score')}, "
                       f"revenue 12m {value['revenue_12m']:,.2f}, trend "
                       f"{'-' if value['revenue_trend'] is None else value['revenue_trend']})"),
        ("volatility", f"CV {vol['cv']}, band {vol['band']}, recent {vol.get('latest')}"
                       + (" SWING" if vol["flag"] else "")),
    ])  # fmt: skip
    prefs = format_table(["family", "share"], list(view["preferences"].items()))
    return f"{head}\n\n{prefs}"


def segments_text(rows: list[dict[str, Any]], by: str) -> str:
    """Demand and growth per segment."""
    return format_table(
        [by, "customers", "qty 12m", "qty prev 12m", "revenue 12m", "growth"],
        [[r[by], r["customers"], r["quantity_12m"], r["quantity_prev_12m"],
          f"{r['revenue_12m']:,.2f}", r["growth"]] for r in rows],
    )  # fmt: skip


def ctp_text(answer: dict[str, Any]) -> str:
    """Capable-to-promise as one sentence and its figures."""
    when = answer["date"] or "not within the horizon"
    items = [("sku", answer["sku"]), ("quantity", answer["quantity"]),
             ("from", answer["from_date"]), ("earliest date", when),
             ("source", answer["source"]), ("line", answer["line"])]  # fmt: skip
    if "extra_production" in answer:
        items.append(("extra production", answer["extra_production"]))
    if answer.get("reason"):
        items.append(("reason", answer["reason"]))
    return _pairs(items)


def projected_text(result: dict[str, Any]) -> str:
    """Projected inventory: the header figures and one row per day."""
    head = _pairs([
        ("sku", f"{result['sku']} ({result['kind']})"),
        ("location", result["location"] or "all: " + ", ".join(result.get("locations", []))),
        ("ships from", result.get("shipping_location")),
        ("on hand", result["on_hand"]), ("safety stock", result["safety_stock"]),
        ("shortage", result["shortage_date"] or "none"),
        ("forecast", result["forecast_source"]),
    ])  # fmt: skip
    days = format_table(
        ["date", "production", "receipts", "orders", "forecast", "projected"],
        [[r["date"], r["production"], r["receipts"], r["orders"], r["forecast"],
          r["projected"]] for r in result["daily"]], digits=1,
    )  # fmt: skip
    return f"{head}\n\n{days}"


def customers_text(rows: list[dict[str, Any]]) -> str:
    """The top customers by value."""
    return format_table(
        ["rank", "customer", "name", "revenue 12m", "orders 12m", "tier", "score"],
        [[r["rank"], r["customer_id"], r["name"], f"{r['revenue_12m']:,.2f}",
          r["orders_12m"], r["tier"], r["score"]] for r in rows],
    )  # fmt: skip


def swings_text(rows: list[dict[str, Any]]) -> str:
    """Customers whose demand of a family left its band."""
    if not rows:
        return "no customer's demand left its usual band"
    return format_table(
        ["customer", "family", "rep", "recent months", "band", "change"],
        [[r["customer_id"], r["family"], r["sales_rep"],
          " ".join(f"{v:g}" for v in r["recent"]), f"{r['band_low']:g}-{r['band_high']:g}",
          f"{r['change']:+.0%}" if r["change"] is not None else None] for r in rows],
    )  # fmt: skip
