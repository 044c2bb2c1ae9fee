"""The bell, the page and `/api/notifications`: a person sees and marks only their own."""

from __future__ import annotations

from crmflow.notifications import notify


def _engine(web_app):
    return web_app.extensions["crmflow"]


def test_the_api_lists_the_callers_notifications_newest_first(web_app, login):
    engine = _engine(web_app)
    notify(engine, "manager", "Stock low for B1", link="/inventory/B1")
    notify(engine, "mia", {"en": "Approve PA-7", "zh-CN": "请审批 PA-7"}, urgent=True)
    mia = login("mia")
    response = mia.get("/api/notifications")
    assert response.status_code == 200 and response.headers["X-Unread-Count"] == "2"
    items = response.get_json()
    assert [(i["text"], i["urgent"], i["read"]) for i in items] == [
        ("Approve PA-7", True, False), ("Stock low for B1", False, False),
    ]  # fmt: skip
    assert items[1]["link"] == "/inventory/B1"
    assert [i["text"] for i in login("max").get("/api/notifications").get_json()] == [
        "Stock low for B1"
    ]


def test_marking_read_counts_down_and_another_persons_id_is_not_found(web_app, login):
    engine = _engine(web_app)
    notify(engine, "manager", "Stock low for B1")
    mia, max_ = login("mia"), login("max")
    mine = mia.get("/api/notifications").get_json()[0]["id"]
    response = max_.post(f"/api/notifications/{mine}/read")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert mia.get("/api/notifications/unread").get_json() == {"unread": 1}
    response = mia.post(f"/api/notifications/{mine}/read")
    assert response.get_json() == {"id": mine, "read": True, "unread": 0}
    assert mia.get("/api/notifications?unread=1").get_json() == []
    assert max_.get("/api/notifications/unread").get_json() == {"unread": 1}


def test_anonymous_callers_get_401_and_bad_arguments_400(web_app, login):
    anonymous = web_app.test_client()
    response = anonymous.get("/api/notifications")
    assert response.status_code == 401 and "error" in response.get_json()
    assert anonymous.post("/api/notifications/1/read").status_code == 401
    response = login("mia").get("/api/notifications?limit=lots")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "limit"


def test_preferences_are_saved_and_bad_ones_named(web_app, login):
    mia = login("mia")
    response = mia.put("/api/notifications/preferences",
                       json={"quiet_hours": "22:00-07:00", "channels": ["inapp"]})
    assert response.status_code == 200
    assert response.get_json()["quiet_hours"] == "22:00-07:00"
    assert response.get_json()["channels"] == ["inapp"]
    response = mia.put("/api/notifications/preferences", json={"quiet_hours": "late"})
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "quiet_hours"
    response = mia.put("/api/notifications/preferences", json={"digest": "25:00"})
    assert response.status_code == 422 and response.get_json()["error"]["field"] == "digest"
    assert mia.put("/api/notifications/preferences", data="x").status_code == 400


def test_the_page_shows_the_bell_and_the_list_escaped_and_marks_read(web_app, login):
    engine = _engine(web_app)
    notify(engine, "mia", "Order <b>SO-1</b> is late", link="/orders/SO-1")
    mia = login("mia")
    page = mia.get("/notifications").get_data(as_text=True)
    assert 'class="notify-count" data-count="1"' in page
    assert "Order &lt;b&gt;SO-1&lt;/b&gt; is late" in page and "<b>SO-1" not in page
    assert '<a href="/orders/SO-1">Open</a>' in page
    item = mia.get("/api/notifications").get_json()[0]["id"]
    response = mia.post(f"/notifications/{item}/read")
    assert response.status_code == 302
    page = mia.get("/notifications").get_data(as_text=True)
    assert 'data-count="0" hidden' in page


def test_the_page_speaks_chinese_when_asked(web_app, login):
    notify(_engine(web_app), "paul", {"en": "Plan changed", "zh-CN": "计划已变更"})
    page = login("paul").get("/notifications", headers={"Accept-Language": "zh-CN"})
    text = page.get_data(as_text=True)
    assert "通知" in text and "计划已变更" in text and 'lang="zh-CN"' in text


def test_the_preferences_form_refuses_a_bad_time_zone_with_the_field(web_app, login):
    mia = login("mia")
    response = mia.post("/notifications/preferences", data={"timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert "timezone: unknown time zone" in response.get_data(as_text=True)
    response = mia.post("/notifications/preferences",
                        data={"channels": ["inapp", "mail"], "digest": "08:00"})
    assert response.status_code == 302
    assert mia.get("/api/notifications/preferences").get_json()["digest"] == "08:00"


def test_the_list_shows_each_time_on_the_persons_own_clock(web_app, login, clock):
    engine = _engine(web_app)
    notify(engine, "mia", "Line 2 stopped")  # at 08:00 UTC: 09:00 in the plant's Berlin
    mia = login("mia")
    page = mia.get("/notifications").get_data(as_text=True)
    assert '<time datetime="2026-01-05T08:00:00+00:00">2026-01-05 09:00</time>' in page
    assert 'data-timezone="Europe/Berlin"' in page
    mia.put("/api/notifications/preferences", json={"timezone": "Asia/Shanghai"})
    page = mia.get("/notifications").get_data(as_text=True)
    assert ">2026-01-05 16:00</time>" in page
