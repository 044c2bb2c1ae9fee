"""Plugins: entry points, per-factory enablement, duplicate names, unknown hooks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from crmflow import Engine, PluginError, ValidationError, hookimpl
from crmflow.cli import cli
from crmflow.core.registry import get_plugin_manager

SITE = Path(__file__).resolve().parent.parent / "plugins" / "site"

WORKFLOW = """\
workflow: stamped
version: 1
initial: open
states:
  open: {}
  big: {final: true}
  small: {final: true}
transitions:
  - trigger: decide
    from: open
    to: big
    when: "is_big(event.amount, 1000)"
    do:
      - action: hello.stamp
        with: {label: "big {{ event.amount }}"}
        save_as: stamp
  - {trigger: decide, from: open, to: small}
"""


@pytest.fixture
def hello_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the example package importable and its entry point visible, as pip would."""
    monkeypatch.syspath_prepend(str(SITE))
    monkeypatch.setenv("CRMFLOW_LOAD_PLUGINS", "hello")


def factory_file(tmp_path: Path, plugins: str) -> Path:
    (tmp_path / "wf").mkdir(exist_ok=True)
    (tmp_path / "wf" / "stamped.yaml").write_text(WORKFLOW)
    path = tmp_path / "plant.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        title: Plant 1
        timezone: Europe/Berlin
        workflows: wf
        plugins:
        {textwrap.indent(plugins, "  ")}
        """)
    )
    return path


def test_entry_point_plugin_enabled_by_factory_provides_action_and_function(
    hello_installed, tmp_path, clock
):
    factory = factory_file(tmp_path, "hello: {greeting: servus}\n")
    engine = Engine.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", factory=str(factory), clock=clock)
    try:
        assert engine.registry.actions["hello.stamp"].plugin == "hello"
        assert engine.registry.functions["is_big"].plugin == "hello"
        big = engine.start("stamped")
        small = engine.start("stamped")

        assert engine.fire(big, "decide", data={"amount": 5000}).state == "big"
        assert engine.fire(small, "decide", data={"amount": 5}).state == "small"
        assert engine.get(big).data["stamp"] == {"label": "big 5000", "greeting": "servus"}
        assert "stamp" not in engine.get(small).data
    finally:
        engine.close()


def test_installed_plugin_not_enabled_by_the_factory_is_not_used(hello_installed, tmp_path):
    factory = factory_file(tmp_path, "{}\n")
    with pytest.raises(ValidationError) as info:
        Engine.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", factory=str(factory))
    assert "unknown action 'hello.stamp'" in str(info.value)


def test_factory_naming_a_plugin_that_is_not_installed_is_located(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMFLOW_LOAD_PLUGINS", "")
    factory = factory_file(tmp_path, "helo: {}\n")
    with pytest.raises(ValidationError) as info:
        Engine.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", factory=str(factory))
    [problem] = info.value.problems
    assert (problem.line, problem.column) == (5, 3)
    assert "plugin 'helo' is not installed" in problem.message


def test_secret_values_in_factory_yaml_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMFLOW_LOAD_PLUGINS", "")
    factory = factory_file(tmp_path, "notify: {smtp_password: hunter2}\n")
    with pytest.raises(ValidationError, match="smtp_password_env"):
        Engine.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", factory=str(factory))


def test_duplicate_action_name_is_a_startup_error_naming_both_plugins(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(SITE))
    monkeypatch.setenv("CRMFLOW_LOAD_PLUGINS", "clash")
    with pytest.raises(PluginError) as info:
        Engine.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", workflows=tmp_path)
    assert "action 'notify' is registered twice: by plugin 'notify' and by plugin 'clash'" in (
        str(info.value)
    )


def test_hook_implementation_matching_no_spec_is_rejected():
    class Misspelt:
        @hookimpl
        def register_action(self, register):  # the spec is register_actions
            register("x", lambda ctx: None)

    with pytest.raises(PluginError, match="register_action"):
        get_plugin_manager(load_entry_points=False, extra=(Misspelt(),))


def test_builtins_are_registered_like_plugins():
    pm = get_plugin_manager(load_entry_points=False)
    names = {name for name, plugin in pm.list_name_plugin() if plugin is not None}
    assert {"notify", "functions", "sop", "forecast", "kpi"} <= names


def test_plugins_command_lists_versions_and_hooks(hello_installed, runner):
    result = runner.invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    import json

    by_name = {p["name"]: p for p in json.loads(result.stdout)}
    assert by_name["hello"]["version"] == "1.2.0"
    assert by_name["hello"]["hooks"] == ["register_actions", "register_functions"]
    assert by_name["notify"]["builtin"] is True


def _listener_module(seen: list[str]) -> object:
    import types

    module = types.ModuleType("listener")

    @hookimpl
    def on_event(engine, event, payload):
        seen.append(f"event {event}")

    @hookimpl
    def on_transition(engine, record):
        seen.append(f"transition {record.trigger}")

    module.on_event = on_event
    module.on_transition = on_transition
    return module


@pytest.mark.parametrize(("setting", "expected"), [("{}", 2), ("false", 0)])
def test_event_hooks_reach_only_plugins_the_factory_enables(tmp_path, monkeypatch, setting,
                                                             expected):
    monkeypatch.setenv("CRMFLOW_LOAD_PLUGINS", "")
    factory = factory_file(tmp_path, f"listener: {setting}\n")
    (tmp_path / "wf" / "stamped.yaml").unlink()
    (tmp_path / "wf" / "tiny.yaml").write_text(
        "workflow: tiny\nversion: 1\ninitial: a\nstates: {a: {final: true}}\ntransitions: []\n"
    )
    seen: list[str] = []
    engine = Engine.open(f"sqlite:///{tmp_path / 'db.sqlite3'}", factory=str(factory),
                         plugins=[_listener_module(seen)])
    try:
        engine.start("tiny")
        engine.emit("anything.happened", {})
    finally:
        engine.close()
    assert len(seen) == expected
