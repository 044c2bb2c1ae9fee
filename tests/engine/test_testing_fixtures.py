"""The fixtures plugin authors get from `crmflow.testing` (the pytest11 entry point)."""

from __future__ import annotations

from typing import Any

from crmflow import ActionContext, hookimpl

WORKFLOW = """\
workflow: greet
version: 1
initial: waiting
states:
  waiting: {deadline: 1h, on_timeout: greet}
  greeted: {final: true}
transitions:
  - trigger: greet
    from: waiting
    to: greeted
    do:
      - {action: greeter.hello, with: {name: "{{ data.name }}"}, save_as: greeting}
"""


class Greeter:
    """What a plugin author's module looks like, as an object."""

    @hookimpl
    def register_actions(self, register: Any) -> None:
        def hello(ctx: ActionContext, name: str) -> str:
            return f"hello {name} at {ctx.now:%H:%M}"

        register("greeter.hello", hello)


def test_plugin_author_drives_time_with_the_fixtures(crmflow_engine, crmflow_clock, tmp_path):
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "greet.yaml").write_text(WORKFLOW)
    engine = crmflow_engine(workflows=tmp_path / "wf", plugins=[Greeter()])
    iid = engine.start("greet", data={"name": "Mia"})

    crmflow_clock.advance(minutes=61)
    assert engine.tick() == 1

    inst = engine.get(iid)
    assert inst.state == "greeted"
    assert inst.data["greeting"] == "hello Mia at 09:01"
