"""The bell in the app follows the signed-in person's notifications over `/events/stream`."""

from __future__ import annotations

import json
from typing import Any

from crmflow.notifications import notify, unread_count

from .pages import sign_in


def open_alert(engine: Any) -> Any:
    """An inventory alert of the demo that can still escalate to the planners."""
    return next(i for i in engine.list(workflow="inventory_alert")
                if i.state in ("awaiting_approval", "unresolved"))  # fmt: skip


def test_the_stream_carries_the_persons_own_notifications_only(web, demo_app, demo_engine):
    sign_in(web, demo_engine, "paul")  # a planner
    before = unread_count(demo_engine, "paul")
    stream = web.get("/events/stream?once=1", buffered=False)
    alert = open_alert(demo_engine)
    assert demo_engine.fire(alert.id, "escalate_planner", actor="system").taken  # 4 h open
    notify(demo_engine, "mia", "For mia's eyes only", key="mia-only")
    demo_app.extensions["crmflow.live"].poll()
    body = b"".join(stream.response).decode()
    events = [json.loads(chunk.split("data: ", 1)[1]) for chunk in body.split("\n\n")
              if chunk.startswith("event: notification")]  # fmt: skip
    assert len(events) == 1, body
    [event] = events
    assert "shortage alert open for 4 working hours" in event["text"]
    assert event["unread"] == before + 1 and event["link"] == f"/instances/{alert.id}"
    assert "mia's eyes" not in body
    assert unread_count(demo_engine, "paul") == before + 1


def test_every_page_carries_the_bell_and_its_script(web, demo_engine):
    sign_in(web, demo_engine, "paul")
    count = unread_count(demo_engine, "paul")
    page = web.get("/").get_data(as_text=True)
    assert f'data-bell data-count="{count}">{count}</span>' in page
    assert "/static/notify/notify.js" in page and 'data-live="/events/stream"' in page
    listing = web.get("/notifications").get_data(as_text=True)
    assert listing.count("/static/notify/notify.js") == 1  # once: one stream per tab
    assert 'class="notify-list" data-api="/api/notifications"' in listing


def test_the_notification_routes_are_in_the_openapi_document(web):
    paths = web.get("/api/openapi.json").get_json()["paths"]
    assert (
        "get" in paths["/api/notifications"]
        and "post" in paths["/api/notifications/{notification_id}/read"]
    )
    assert {"get", "put"} <= set(paths["/api/notifications/preferences"])
