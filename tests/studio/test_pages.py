"""Studio and rollout pages: what a consultant and a manager see and may do."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def _rush(engine: Any, n: int) -> list[int]:
    return [engine.start("rush_order", {"order": {"order_id": f"R{i}", "sales_rep": "rita"}},
                         actor="rita") for i in range(n)]  # fmt: skip


def test_the_diagram_page_counts_instances_per_state_and_lists_them(
    studio_engine: Any, sign_in: Any
) -> None:
    ids = _rush(studio_engine, 3)
    studio_engine.fire(ids[0], "accept", actor="paul")
    client = sign_in("paul")
    page = client.get("/studio/rush_order").get_data(as_text=True)
    assert 'data-state="received"' in page and "<svg" in page
    row = re.search(r'<tr data-state-row="received">.*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "<td>2</td>" in row
    listed = client.get("/studio/rush_order?state=checks").get_data(as_text=True)
    assert f'href="/instances/{ids[0]}"' in listed and f'href="/instances/{ids[1]}"' not in listed
    assert "Edit" not in re.sub(r"<header>.*?</header>", "", page, flags=re.S)  # paul may not edit


def test_only_consultants_edit_and_a_draft_with_an_error_is_not_saved(
    studio_engine: Any, sign_in: Any
) -> None:
    folder = studio_engine.catalog.folder
    source = (folder / "rush_order.yaml").read_text()
    paul = sign_in("paul")
    assert paul.get("/studio/rush_order/edit").status_code == 403
    refused = paul.post("/studio/rush_order/edit", data={"source": source,
                                                          "csrf_token": paul.csrf})  # fmt: skip
    assert refused.status_code == 403
    carla = sign_in("carla")
    bad = carla.post("/studio/rush_order/edit", data={
        "source": source.replace("to: rejected", "to: rejectd"), "csrf_token": carla.csrf})
    assert bad.status_code == 422 and "undefined state &#39;rejectd&#39;" in bad.get_data(
        as_text=True)
    assert sorted(p.name for p in folder.glob("rush_order*")) == ["rush_order.yaml"]
    no_csrf = carla.post("/studio/rush_order/edit", data={"source": source})
    assert no_csrf.status_code == 400


def test_the_editor_offers_the_workflows_own_scenario_to_try_the_draft(
    studio_engine: Any, sign_in: Any
) -> None:
    import html

    from .conftest import SHIPPED

    carla = sign_in("carla")
    plain = carla.get("/studio/rush_order/edit").get_data(as_text=True)
    assert "- wait: 1h" in plain  # no scenario in the folder: a stub to start from
    folder = studio_engine.catalog.folder
    (folder / "scenarios").mkdir()
    own = (SHIPPED / "scenarios" / "rush_order.yaml").read_text()
    (folder / "scenarios" / "rush_order.yaml").write_text(own)
    page = carla.get("/studio/rush_order/edit").get_data(as_text=True)
    shown = html.unescape(re.search(r'<textarea id="scenario"[^>]*>(.*?)</textarea>', page,
                                    re.S).group(1))  # type: ignore[union-attr]  # fmt: skip
    assert shown == own
    source = (folder / "rush_order.yaml").read_text()
    ran = carla.post("/studio/api/simulate", json={"source": source, "scenario": shown},
                     headers={"X-CSRFToken": carla.csrf})  # fmt: skip
    assert ran.status_code == 200, ran.get_data(as_text=True)
    assert ran.get_json()["ok"] and ran.get_json()["final_state"] == "delivered"


def test_saving_makes_the_next_version_and_running_instances_stay(
    studio_engine: Any, sign_in: Any
) -> None:
    running = _rush(studio_engine, 1)[0]
    old = studio_engine.get(running).version
    carla = sign_in("carla")
    source = (studio_engine.catalog.folder / "rush_order.yaml").read_text()
    saved = carla.post("/studio/rush_order/edit", data={
        "source": source.replace("deadline: 30m", "deadline: 20m"), "csrf_token": carla.csrf})
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"/versions/{old + 1}")
    diff = carla.get(saved.headers["Location"]).get_data(as_text=True)
    assert "+    deadline: 20m" in diff and "-    deadline: 30m" in diff
    assert studio_engine.get(running).version == old
    fresh = studio_engine.start("rush_order", {"order": {"order_id": "R9", "sales_rep": "rita"}},
                                actor="rita")  # fmt: skip
    assert studio_engine.get(fresh).version == old + 1


def test_check_api_locates_problems_as_validate_does(sign_in: Any, studio_engine: Any) -> None:
    carla = sign_in("carla")
    source = (studio_engine.catalog.folder / "rush_order.yaml").read_text()
    answer = carla.post("/studio/api/check", headers={"X-CSRFToken": carla.csrf},
                        json={"source": source.replace("to: rejected", "to: rejectd"),
                              "name": "rush_order.yaml"})  # fmt: skip
    problems = answer.get_json()["problems"]
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "to: rejected" in text)
    assert problems[0]["line"] == line
    assert problems[0]["text"].startswith(f"rush_order.yaml:{line}:")
    assert carla.post("/studio/api/check", headers={"X-CSRFToken": carla.csrf},
                      json={"nope": 1}).status_code == 400  # fmt: skip


def test_managers_change_the_rollout_and_others_may_not(studio_engine: Any, sign_in: Any) -> None:
    rita = sign_in("rita")
    refused = rita.post("/rollout", data={"name": "rush_order", "mode": "off",
                                          "csrf_token": rita.csrf})  # fmt: skip
    assert refused.status_code == 403 and studio_engine.rollout.history() == []
    mia = sign_in("mia")
    done = mia.post("/rollout", data={"name": "rush_order", "mode": "pilot",
                                      "departments": ["sales"], "since": "2026-12-01",
                                      "reason": "first wave", "csrf_token": mia.csrf})  # fmt: skip
    assert done.status_code == 302
    state = studio_engine.rollout.state("rush_order")
    assert (state.mode, state.departments) == ("pilot", ("sales",))
    assert studio_engine.rollout.history()[0].changed_by == "mia"
    page = mia.get("/rollout").get_data(as_text=True)
    assert 'data-pilot="rush_order"' in page and "first wave" in page
    bad = mia.post("/rollout", data={"name": "rush_order", "mode": "pilot", "departments": [],
                                     "csrf_token": mia.csrf})  # fmt: skip
    assert bad.status_code == 422 and "needs one or more departments" in bad.get_data(as_text=True)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
def test_the_editor_shows_an_error_at_its_line_and_saves_a_clean_draft(
    studio_engine: Any, live_server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from .conftest import PASSWORD

    _rush(studio_engine, 1)
    nxt = studio_engine.catalog.newest("rush_order").definition.version + 1
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )  # fmt: skip
        for size in ({"width": 1280, "height": 800}, {"width": 390, "height": 844}):
            page = browser.new_page(viewport=size)
            page.goto(f"{live_server}/login")
            page.get_by_label("Username").fill("carla") if page.get_by_label("Username").count() \
                else page.fill("input[name=username]", "carla")  # fmt: skip
            page.fill("input[name=password]", PASSWORD)
            page.locator("form[action='/login'] button[type=submit]").click()
            page.goto(f"{live_server}/studio/rush_order/edit")
            page.wait_for_selector(".CodeMirror")
            page.evaluate(
                "window.crmflowEditor.setValue("
                "window.crmflowEditor.getValue().replace('to: rejected', 'to: rejectd'))"
            )
            error = page.locator("#problems p.error").first
            error.wait_for()
            source = (studio_engine.catalog.folder / "rush_order.yaml").read_text()
            line = next(i for i, t in enumerate(source.splitlines(), 1) if "to: rejected" in t)
            assert error.get_attribute("data-line") == str(line)
            assert page.locator("#save").is_disabled()
            page.wait_for_selector(".CodeMirror-lint-marker-error")
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
            page.screenshot(path=str(tmp_path / f"editor-{size['width']}.png"), full_page=True)
            page.evaluate(
                "window.crmflowEditor.setValue("
                "window.crmflowEditor.getValue().replace('to: rejectd', 'to: rejected')"
                ".replace('deadline: 30m', 'deadline: 25m'))"
            )
            expect(page.locator("#problems p")).to_have_count(0)
            assert not page.locator("#save").is_disabled()
            if size["width"] == 1280:
                page.locator("#save").click()
                page.wait_for_url(re.compile(rf".*/studio/rush_order/versions/{nxt}$"))
                assert "+    deadline: 25m" in page.content()
        browser.close()
    assert (studio_engine.catalog.folder / f"rush_order.v{nxt}.yaml").exists()


def test_first_steps_tick_as_a_rep_works_in_the_app(studio_engine: Any, sign_in: Any,
                                                    tmp_path: Path) -> None:  # fmt: skip
    from crmflow.core import onboarding
    from crmflow.core.domain.imports import import_csv

    files = {
        "customers": "customer_id,name,industry,size,region\nC1,Acme,pumps,S,EU\n",
        "products": "sku,name,family,kind,unit_cost\nP1,Pump,pumps,made,10\n",
        "orders": "order_id,customer_id,order_date,sku,quantity,unit_price,requested_date,"
                  "sales_rep\nO1,C1,2026-11-20,P1,3,20,2026-12-20,rita\n",
    }  # fmt: skip
    for kind, text in files.items():
        (tmp_path / f"{kind}.csv").write_text(text)
        import_csv(studio_engine, kind, tmp_path / f"{kind}.csv", actor="t", emit=False)

    def done() -> dict[str, bool]:
        return {s.step.id: s.done for s in onboarding.progress(studio_engine.db, "rita",
                                                                ["sales"])}  # fmt: skip

    assert done() == {"find_order": False, "customer_360": False, "demand_change": False}
    rita = sign_in("rita")
    assert rita.get("/orders/O1").status_code == 200
    assert rita.get("/customers/NOPE").status_code == 404  # a page that failed ticks nothing
    assert done() == {"find_order": True, "customer_360": False, "demand_change": False}
    assert rita.get("/customers/C1").status_code == 200
    assert done()["customer_360"]
    page = sign_in("mia").get("/rollout").get_data(as_text=True)
    card = re.search(r'data-person="rita">.*?</li>\s*</ul>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "2/3" in card


def test_moving_running_instances_is_previewed_then_applied(studio_engine: Any,
                                                            sign_in: Any) -> None:  # fmt: skip
    ids = _rush(studio_engine, 2)
    old = studio_engine.get(ids[0]).version
    source = (studio_engine.catalog.folder / "rush_order.yaml").read_text()
    renamed = source.replace("received", "intake")  # the first state gets a new name
    carla = sign_in("carla")
    saved = carla.post("/studio/rush_order/edit", data={"source": renamed,
                                                        "csrf_token": carla.csrf})  # fmt: skip
    assert saved.status_code == 302
    url = f"/studio/rush_order/migrate?version={old + 1}"
    page = carla.get(url).get_data(as_text=True)
    assert 'name="map:received"' in page  # the state with no counterpart asks where to go
    preview = carla.post(url, data={"version": old + 1, "action": "preview",
                                    "csrf_token": carla.csrf})  # fmt: skip
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-migration="left"' in text
    assert all(studio_engine.get(i).version == old for i in ids)  # a preview changes nothing
    applied = carla.post(url, data={"version": old + 1, "action": "apply", "map:received": "intake",
                                    "csrf_token": carla.csrf})  # fmt: skip
    assert applied.status_code == 200
    for iid in ids:
        inst = studio_engine.get(iid)
        assert (inst.version, inst.state) == (old + 1, "intake")
        assert inst.history[-1].trigger == "migrate"
    paul = sign_in("paul")  # a planner may look at versions, not move instances
    assert paul.post(url, data={"action": "apply", "csrf_token": paul.csrf}).status_code == 403
