"""The instance pages and the plugin pages, signed in, on desktop and phone."""

from __future__ import annotations

import pytest

from tests.web.pages import sign_in


@pytest.fixture
def client(app):
    client = app.test_client()
    sign_in(client, app.extensions["crmflow"], "pat", roles=("planner",))
    return client


def test_index_lists_workflows_and_instances(app, client):
    engine = app.extensions["crmflow"]
    iid = engine.start("order", data={"order": {"number": "SO-1", "quantity": 2}})
    engine.fire(iid, "confirm")

    page = client.get("/instances")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "order" in html and "confirmed" in html
    assert f'href="/instances/{iid}"' in html
    assert 'name="viewport"' in html  # usable on a phone


def test_instance_page_shows_history_and_timers(app, client):
    engine = app.extensions["crmflow"]
    iid = engine.start("order", data={"order": {"number": "SO-1", "quantity": 2}})
    engine.fire(iid, "confirm")

    html = client.get(f"/instances/{iid}").get_data(as_text=True)

    assert "confirm" in html and "draft" in html and "remind" in html
    assert client.get("/instances/999").status_code == 404


def test_json_api_matches_show(app, client):
    engine = app.extensions["crmflow"]
    iid = engine.start("order", data={"order": {"number": "SO-1", "quantity": 2}})

    listed = client.get("/api/instances").get_json()
    one = client.get(f"/api/instances/{iid}").get_json()

    assert [i["id"] for i in listed] == [iid]
    assert one == {**engine.get(iid).as_json(), "triggers": ["confirm"]}
    assert client.get("/api/instances/999").status_code == 404


def test_plugins_json_lists_builtins(client):
    plugins = {p["name"]: p for p in client.get("/-/plugins.json").get_json()}
    assert plugins["notify"]["enabled"] and "register_actions" in plugins["notify"]["hooks"]


def test_templates_escape_instance_data(app, client):
    engine = app.extensions["crmflow"]
    iid = engine.start("order", data={"order": {"number": "<script>x</script>"}})

    html = client.get(f"/instances/{iid}").get_data(as_text=True)

    assert "<script>x</script>" not in html


def test_plugin_blueprints_are_mounted_with_their_menu_entry(sqlite_url, workflows_dir):
    import types

    from flask import Blueprint

    from crmflow import Engine, hookimpl
    from crmflow.admin import create_app

    board = Blueprint("board", __name__)

    @board.get("/")
    def index() -> str:
        return "capacity board"

    plugin = types.ModuleType("boardplugin")

    @hookimpl
    def register_admin_blueprints(register):
        register(board, url_prefix="/board", menu="Capacity")

    plugin.register_admin_blueprints = register_admin_blueprints
    engine = Engine.open(sqlite_url, workflows_dir, plugins=[plugin])
    try:
        client = create_app({"ENGINE": engine}).test_client()
        assert client.get("/board/").status_code == 302  # signed-in only, like every page
        sign_in(client, engine, "pat")
        assert client.get("/board/").get_data(as_text=True) == "capacity board"
        assert '<a href="/board">Capacity</a>' in client.get("/").get_data(as_text=True)
    finally:
        engine.close()
