"""A rush order in its parallel checks: the page shows the regions, offers their triggers."""

from __future__ import annotations

import re

from .pages import sign_in, token_for


def _in_checks(engine):
    return next(i for i in engine.list(workflow="rush_order") if i.state == "checks")


def _buttons(html: str) -> list[str]:
    return re.findall(r'<button type="submit" name="trigger" value="([^"]+)"', html)


def test_the_page_lists_the_regions_and_offers_what_the_open_regions_accept(web, demo_engine):
    inst = _in_checks(demo_engine)
    assert inst.regions == {"capacity": "ok", "material": "pending", "credit": "pending"}
    token = sign_in(web, demo_engine, "bea")  # purchasing: the material check is hers
    html = web.get(f"/instances/{inst.id}").get_data(as_text=True)
    assert '<li data-region="material"><strong>material</strong>: pending</li>' in html
    assert '<li data-region="capacity"><strong>capacity</strong>: ok</li>' in html
    # capacity is done, the credit check is not hers; timeouts have no roles (as elsewhere)
    assert _buttons(html) == [
        "material_checked",
        "material_late",
        "credit_late",
        "response_sla_missed",
    ]
    answer = web.post(f"/instances/{inst.id}", data={"trigger": "material_checked",
                                                     "csrf_token": token})  # fmt: skip
    assert answer.status_code == 200
    after = demo_engine.get(inst.id)
    assert (after.state, after.regions["material"]) == ("checks", "ok")
    assert after.history[-1].actor == "bea"


def test_a_manager_is_offered_the_credit_check_and_the_api_shows_regions(web, demo_engine):
    inst = _in_checks(demo_engine)
    sign_in(web, demo_engine, "mia")
    html = web.get(f"/instances/{inst.id}").get_data(as_text=True)
    assert "credit_checked" in _buttons(html) and "capacity_checked" not in _buttons(html)
    headers = token_for(demo_engine, "mia")
    shown = web.get(f"/api/instances/{inst.id}", headers=headers).get_json()
    assert shown["state"] == "checks"
    assert shown["regions"] == {"capacity": "ok", "material": "pending", "credit": "pending"}
    assert "credit_checked" in shown["triggers"]
