"""The /dashboard page and its JSON/CSV: filters in the URL, charts with tables, two languages."""

from __future__ import annotations

import csv
import html
import io
import json
import re

from crmflow.plugins.reports.picture import demand_picture
from crmflow.plugins.reports.selection import parse_selection
from tests.reports.sop_data import TODAY


def chart_specs(page: str) -> dict[str, dict]:
    """The server-built spec of every card's chart, as the browser reads it."""
    found = re.findall(r'data-card="(\w+)".*?data-chart="([^"]*)"', page, re.S)
    return {card: json.loads(html.unescape(spec)) for card, spec in found}


def test_the_page_has_three_charts_each_with_a_table_and_csv(dash_client):
    page = dash_client.get("/dashboard/?family=pumps&history=3&horizon=3")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    specs = chart_specs(text)
    assert list(specs) == ["demand", "capacity", "stock"]
    assert [s["id"] for s in specs["demand"]["series"]] == [
        "demand", "forecast", "band_low", "band", "orders", "plan"]  # fmt: skip
    assert text.count("data-table") == 3 and text.count("data-toggle-table") == 3
    # the CSV link keeps the filters, so the numbers are those of the view
    assert 'href="/dashboard/data/demand.csv?family=pumps&amp;horizon=3&amp;history=3"' in text
    assert "<script>" not in text  # scripts come from files only (CSP without inline)


def test_the_charts_numbers_are_the_python_apis(dash_client, dash_engine):
    got = dash_client.get("/dashboard/data/demand.json?family=pumps&history=3&horizon=3")
    sel = parse_selection({"family": "pumps", "history": "3", "horizon": "3"}, TODAY)

    series = {s["id"]: s["data"] for s in got.get_json()["spec"]["series"]}
    rows = demand_picture(dash_engine, sel)["rows"]

    assert series["demand"] == [r["demand"] for r in rows] == [0.0, 30.0, 12.0, 0.0, None, None]
    assert series["plan"] == [r["plan"] for r in rows]
    assert got.get_json()["table"]["rows"] == rows


def test_csv_download_has_the_table_of_the_chart(dash_client):
    got = dash_client.get("/dashboard/data/capacity.csv?horizon=2")

    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert "attachment" in got.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(got.get_data(as_text=True))))
    week = next(r for r in rows if r["line"] == "L1" and r["bucket"] == "2026-11-30")
    assert (week["available"], week["load"], week["overload"]) == ("40.0", "60.0", "True")


def test_bad_filters_answer_400_naming_the_parameter(dash_client):
    page = dash_client.get("/dashboard/?bucket=year")
    data = dash_client.get("/dashboard/data/stock.json?horizon=0")

    assert page.status_code == 400 and "bucket" in page.get_data(as_text=True)
    assert data.status_code == 400
    assert data.get_json()["error"]["field"] == "horizon"
    assert dash_client.get("/dashboard/data/nothing.json").status_code == 404


def test_kpi_tiles_show_pilot_against_rest(dash_client):
    text = dash_client.get("/dashboard/?from=2026-11-01&to=2026-11-25").get_data(as_text=True)

    assert text.count('class="tile') >= 10
    assert "pilot" in text and "rest" in text


def test_user_text_is_escaped(dash_client, dash_engine):
    with dash_engine.db.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO alerts (kind, sku, status, open_key, message, opened_at) VALUES "
            "('inventory_shortage', 'A1', 'open', 'x', '<img src=x onerror=alert(1)>', "
            "'2026-11-25 08:00:00')"
        )

    text = dash_client.get("/dashboard/").get_data(as_text=True)

    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text


def test_chinese_with_lang_or_accept_language(dash_client):
    asked = dash_client.get("/dashboard/?lang=zh-CN").get_data(as_text=True)
    accepted = dash_client.get("/dashboard/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})

    assert "产销协同看板" in asked and "需求、预测与计划" in asked
    assert "产销协同看板" in accepted.get_data(as_text=True)
    assert "S&amp;OP dashboard" in dash_client.get("/dashboard/?lang=en").get_data(as_text=True)


def test_stored_review_packs_are_listed_and_served(dash_client, dash_engine):
    from crmflow.plugins.reports.pack import make_review

    pack = make_review(dash_engine, "2026-W47", pdf=False)

    listing = dash_client.get("/dashboard/reviews/").get_data(as_text=True)
    served = dash_client.get(f"/dashboard/reviews/{pack.stored_id}.html")

    assert "2026-W47" in listing
    assert served.status_code == 200 and "default-src 'none'" in served.headers[
        "Content-Security-Policy"]  # fmt: skip
    assert dash_client.get(f"/dashboard/reviews/{pack.stored_id}.pdf").status_code == 404
    assert dash_client.get("/dashboard/reviews/999.html").status_code == 404
