"""The rollout page proves the pilot with charts beside its table, drawn under the CSP."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest

from crmflow.core.people.accounts import add_user

from .pages import PASSWORD, sign_in
from .test_browser import ARTIFACTS, browser, server  # noqa: F401 (fixtures)


def _pilot(engine: Any) -> None:
    engine.rollout.set("rush_order", "pilot", ["sales"], since=date(2025, 9, 1), by="mia",
                       reason="first wave", now=engine.now(), roles={"manager"})  # fmt: skip


def _watch(page: Any) -> list[str]:
    """Console errors, page errors and failed requests of a page (the favicon aside)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and not
            m.location.get("url", "").endswith("/favicon.ico") else None)  # fmt: skip
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)  # fmt: skip
    return problems


def test_the_rollout_page_charts_each_kpi_of_the_pilot(demo_engine: Any, web: Any) -> None:
    from crmflow.plugins.kpi.pilot import pilot_comparison

    _pilot(demo_engine)
    sign_in(web, demo_engine, "mia")
    page = web.get("/rollout").get_data(as_text=True)
    figures = pilot_comparison(demo_engine, workflow="rush_order")
    charts = re.findall(r'data-chart="([^"]+)" data-kpi="([a-z_]+)"', page)
    assert charts, "no chart on the rollout page"
    drawn = {}
    for raw, key in charts:
        option = json.loads(raw.replace("&#34;", '"').replace("&amp;", "&"))
        drawn[key] = [b["value"] for b in option["series"][0]["data"]]
        assert option["xAxis"]["data"] == ["Pilot", "Rest", "Pilot\nbefore", "Pilot\nafter"]
    # the bars are the figures of `kpi pilot` (fractions as percentages), the table stays
    fill = figures["pilot"]["order_fill_rate"]
    assert drawn["order_fill_rate"][0] == round(fill * 100, 1)
    before = figures["before"]["pilot"]["delivery_lead_time_days"]
    assert drawn["delivery_lead_time_days"][2] == round(before, 2)
    assert "forecast_accuracy" not in drawn  # no value anywhere: only in the table
    assert 'data-pilot="rush_order"' in page and "<td>forecast_accuracy</td>" in page
    # the table beside says the same, fractions as percentages too
    assert f"<td>{round(fill * 100, 1)}%</td>" in page
    assert "<script>" not in page and "echarts-5.6.0/echarts.min.js" in page


@pytest.mark.slow
def test_the_pilot_charts_render_in_the_browser(
    demo_engine: Any,
    server: str,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    _pilot(demo_engine)
    add_user(demo_engine, "mia", PASSWORD)
    for width, height in ((1280, 900), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        problems = _watch(page)
        page.goto(f"{server}/login?lang=en")
        page.fill("input[name=username]", "mia")
        page.fill("input[name=password]", PASSWORD)
        page.locator("form[action='/login'] button[type=submit]").click()
        page.goto(f"{server}/rollout")
        page.wait_for_selector(
            "[data-kpi='order_fill_rate'][data-rendered='1'] svg rect, "
            "[data-kpi='order_fill_rate'][data-rendered='1'] svg path"
        )
        charts = page.locator("[data-chart]")
        assert charts.count() == page.locator("[data-chart][data-rendered='1'] svg").count() > 3
        assert page.locator("table[data-pilot='rush_order']").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator("[data-pilot='rush_order']").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"rollout-pilot-charts-{width}.png"), full_page=True)
        page.locator(".pilot").first.screenshot(  # docs/img/rollout-pilot-charts-desk.png
            path=str(ARTIFACTS / f"rollout-pilot-{width}.png")
        )
        assert problems == []
        context.close()
