"""The dashboard in Chromium at desk and phone size: charts drawn with the server's series,
tables behind a button, and a transition showing up without a reload."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from .conftest import DESK, PHONE

pytestmark = pytest.mark.slow

SERIES_OF = """(card) => {
  const el = document.querySelector(`[data-card="${card}"] [data-chart]`);
  const chart = window.echarts.getInstanceByDom(el);
  return chart.getOption().series.map((s) => ({id: s.id, data: s.data}));
}"""


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_charts_show_the_expected_series(dash_page, dash_client, viewport):
    path = "/dashboard/?family=pumps&history=3&horizon=3"
    page = dash_page(path, viewport)
    served = dash_client.get(path.replace("/?", "/data/demand.json?")).get_json()

    demand = page.evaluate(SERIES_OF, "demand")
    capacity = page.evaluate(SERIES_OF, "capacity")
    stock = page.evaluate(SERIES_OF, "stock")

    assert [s["id"] for s in demand] == ["demand", "forecast", "band_low", "band", "orders",
                                         "plan"]  # fmt: skip
    assert {s["id"]: s["data"] for s in demand} == {
        s["id"]: s["data"] for s in served["spec"]["series"]}  # fmt: skip
    assert [s["id"] for s in capacity] == ["load_pct"]
    assert [0 + 1, 0, 150.0] in capacity[0]["data"]  # L1, week of 30 Nov: 60 of 40 hours
    assert [s["id"] for s in stock] == ["projected", "safety_stock", "reorder_point"]
    boxes = page.evaluate("""() => [...document.querySelectorAll('[data-chart]')]
        .filter((el) => el.closest('[data-card]'))
        .map((el) => [el.querySelector('svg').getBoundingClientRect().width,
                      el.closest('[data-card]').clientWidth])""")
    assert all(card - 40 <= svg <= card for svg, card in boxes)  # charts fill their card
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert page.js_errors == []


def test_table_view_shows_the_numbers_instead_of_the_chart(dash_page):
    page = dash_page("/dashboard/?horizon=2", PHONE)

    page.click('[data-card="capacity"] [data-toggle-table]')

    table = page.locator('[data-card="capacity"] table[data-table]')
    assert table.is_visible()
    assert not page.locator('[data-card="capacity"] [data-chart]').is_visible()
    assert "60.0" in table.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_transition_reaches_the_open_page_without_a_reload(dash_page, dash_engine):
    page = dash_page("/dashboard/?horizon=2", DESK)
    page.evaluate("window.notReloaded = true")
    on_hand = """() => [...document.querySelectorAll('[data-card="stock"] tbody tr')]
        .filter((tr) => tr.cells[0].textContent === 'A1')[0].cells[1].textContent"""
    assert page.evaluate(on_hand) == "100.0"
    # (no wait_for_function: the page's CSP forbids the eval it uses)
    page.wait_for_selector("[data-last-event]", state="attached")
    iid = dash_engine.start("order", data={"order": {"number": "SO-9", "quantity": 1}})

    dash_engine.emit("inventory.changed", {"sku": "A1", "location": "MAIN", "on_hand": 7})
    fired = time.perf_counter()
    dash_engine.fire(iid, "confirm")
    expect(page.locator("[data-last-event]")).to_contain_text(
        f"#{iid}: draft → confirmed", timeout=10_000
    )
    page.wait_for_selector('[data-card="stock"][data-updated]', state="attached")
    seen = time.perf_counter() - fired

    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate(on_hand) == "7"
    # Speed is a bench figure, not a test condition (the 1 s target of the issue).
    print(f"transition to updated page: {seen * 1000:.0f} ms")
