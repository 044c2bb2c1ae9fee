"""The work pages: inbox, instance buttons, order change with impact, 360, SKU, KPI, languages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from .pages import sign_in
from .test_api import open_line

TRANSLATIONS = Path(__file__).resolve().parents[2] / "crmflow" / "admin" / "translations"


def test_instance_page_has_a_button_per_trigger_and_fires_as_the_person(web, demo_engine):
    token = sign_in(web, demo_engine, "paul")
    inst = next(i for i in demo_engine.list(workflow="demand_change")
                if i.state == "planner_review")  # fmt: skip
    html = web.get(f"/instances/{inst.id}").get_data(as_text=True)
    buttons = re.findall(r'<button type="submit" name="trigger" value="([^"]+)"', html)
    assert buttons == ["approve", "reject", "escalate"]
    answer = web.post(f"/instances/{inst.id}", data={"trigger": "reject", "csrf_token": token,
                                                     "comment": "<b>no</b>"})  # fmt: skip
    assert answer.status_code == 200 and "rejected" in answer.get_data(as_text=True)
    assert demo_engine.get(inst.id).history[-1].actor == "paul"


def test_a_rep_sees_no_planner_buttons_and_a_forged_post_is_refused(web, demo_engine):
    token = sign_in(web, demo_engine, "rita")
    inst = next(i for i in demo_engine.list(workflow="demand_change")
                if i.state == "planner_review")  # fmt: skip
    html = web.get(f"/instances/{inst.id}").get_data(as_text=True)
    assert 'value="approve"' not in html
    forged = web.post(f"/instances/{inst.id}", data={"trigger": "approve", "csrf_token": token})
    assert forged.status_code == 409 and "role" in forged.get_data(as_text=True)
    assert demo_engine.get(inst.id).state == "planner_review"


def _changes_by(engine, order_id, person):
    import sqlalchemy as sa

    with engine.db.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM demand_changes WHERE order_id = :o "
                                    "AND changed_by = :p"), {"o": order_id, "p": person}).scalar()


def test_rep_records_a_change_after_seeing_its_impact(web, demo_engine):
    token = sign_in(web, demo_engine, "rita")
    line = open_line(demo_engine)
    before = _changes_by(demo_engine, line.order_id, "rita")  # the demo's own history
    query = {"sku": line.sku, "field": "quantity", "new": str(line.quantity * 3)}
    preview = web.get(f"/orders/{line.order_id}", query_string=query).get_data(as_text=True)
    assert "Capable-to-promise date" in preview and "no, needs review" in preview
    form = {**query, "reason": "customer_request", "csrf_token": token, "key": "k-1"}
    done = web.post(f"/orders/{line.order_id}/changes", data=form)
    assert done.status_code == 200 and "Change recorded" in done.get_data(as_text=True)
    again = web.post(f"/orders/{line.order_id}/changes", data=form)  # the network retried
    assert again.status_code == 200
    assert _changes_by(demo_engine, line.order_id, "rita") == before + 1


def test_pages_render_escaped_and_in_both_languages(web, demo_engine):
    sign_in(web, demo_engine, "mia")
    line = open_line(demo_engine)
    customer = web.get(f"/api/orders/{line.order_id}").get_json()["customer_id"]
    for path in ("/", f"/orders/{line.order_id}", f"/customers/{customer}",
                 f"/inventory/{line.sku}", "/inventory", "/kpi/", "/delegation", "/instances",
                 "/search?q=%3Cscript%3E"):  # fmt: skip
        english = web.get(path + ("&" if "?" in path else "?") + "lang=en")
        assert english.status_code == 200, path
        assert '<html lang="en">' in english.get_data(as_text=True)
        chinese = web.get(path + ("&" if "?" in path else "?") + "lang=zh-CN")
        html = chinese.get_data(as_text=True)
        assert '<html lang="zh-CN">' in html and "<script>" not in html.split("</head>")[1], path
    assert web.get("/").get_data(as_text=True).count("待办") >= 1  # the choice was saved
    assert web.get("/orders/NOPE").status_code == 404
    assert web.get(f"/instances/{2**64}").status_code == 404


def test_every_string_is_translated_and_the_catalog_compiles(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract",
                    "-F", str(TRANSLATIONS.parent / "babel.cfg"),
                    "-k", "_", "-k", "gettext", "-k", "_l",
                    "-o", str(pot), str(TRANSLATIONS.parent),
                    str(TRANSLATIONS.parents[1] / "plugins" / "kpi")], check=True)  # fmt: skip
    with pot.open("rb") as template:
        wanted = {m.id for m in read_po(template) if m.id}
    with (TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    done = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert wanted - done == set(), "untranslated strings"
    out = tmp_path / "check.mo"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "compile", "-i",
                    str(TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"),
                    "-o", str(out), "-l", "zh_Hans_CN", "--statistics"], check=True)
    assert out.stat().st_size > 0


def test_health_metrics_and_the_event_stream(web, demo_app, demo_engine):
    token = sign_in(web, demo_engine, "paul")
    metrics = web.get("/metrics").get_data(as_text=True)
    assert "crmflow_outbox_depth" in metrics and "crmflow_http_requests_total" in metrics
    stream = web.get("/events/stream?once=1", buffered=False)
    inst = next(i for i in demo_engine.list(workflow="demand_change")
                if i.state == "planner_review")  # fmt: skip
    web.post(f"/instances/{inst.id}", data={"trigger": "reject", "csrf_token": token})
    demo_app.extensions["crmflow.live"].poll()
    body = b"".join(stream.response).decode()
    assert "event: instance" in body and f'"id": {inst.id}' in body and '"to": "rejected"' in body


def test_bad_parameters_are_4xx_on_pages_too(web, demo_engine):
    sign_in(web, demo_engine, "mia")
    for path in ("/kpi/?from=0001-01-01", "/kpi/report.json?from=9999-12-31",
                 "/kpi/trend.json?key=line_fill_rate&limit=0",
                 "/kpi/trend.json?key=line_fill_rate&limit=99999999999999999999",
                 "/kpi/trend.json?key=%00", "/search?q=%00", "/orders/%00",
                 f"/instances/{2**63}", "/orders/X?sku=Y&field=quantity&new=1e400"):
        assert 400 <= web.get(path).status_code < 500, path


def test_a_capacity_alert_without_a_sku_shows_on_the_home_and_alerts_pages(web, demo_engine):
    import sqlalchemy as sa

    from crmflow.core.domain.capacity_watch import check_capacity

    check_capacity(demo_engine)
    with demo_engine.db.connect() as conn:
        lines = {r.location for r in conn.execute(sa.text(
            "SELECT location FROM alerts WHERE kind = 'capacity_overloaded' AND status = 'open'"))}
    assert lines, "the demo has an overloaded line"
    sign_in(web, demo_engine, "mia")  # a manager: sees the open alerts on her home page
    for path in ("/", "/inventory"):
        page = web.get(path)
        assert page.status_code == 200, path
        assert any(f"<strong>{line}</strong>" in page.get_data(as_text=True) for line in lines)
