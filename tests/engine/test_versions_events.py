"""Workflow versions, domain events to start_on rules and waiting instances, the sandbox."""

from __future__ import annotations

import pytest

from crmflow.core.engine.expressions import compile_template, make_environment
from crmflow.errors import ExpressionError

ORDER = {"order": {"number": "SO-1", "quantity": 5}}


def test_new_version_is_used_for_starts_while_running_instances_keep_theirs(
    make_engine, workflows_dir
):
    engine = make_engine()
    old = engine.start("order", data=ORDER)
    engine.close()
    text = (workflows_dir / "order.yaml").read_text()
    text = text.replace("version: 1", "version: 2").replace(
        "  - {trigger: deliver, from: shipped, to: delivered}",
        "  - {trigger: deliver, from: shipped, to: delivered}\n"
        "  - {trigger: hold, from: draft, to: draft}",
    )
    (workflows_dir / "order.yaml").write_text(text)

    engine = make_engine()
    new = engine.start("order", data=ORDER)

    assert engine.get(old).version == 1 and engine.get(new).version == 2
    assert engine.fire(new, "hold").taken
    refused = engine.fire(old, "hold")
    assert not refused.taken and refused.code == "trigger"
    assert engine.fire(old, "confirm").taken  # v1 still runs from the stored YAML


def test_old_version_keeps_running_after_its_file_is_gone(make_engine, workflows_dir):
    engine = make_engine()
    old = engine.start("order", data=ORDER)
    engine.close()
    text = (workflows_dir / "order.yaml").read_text().replace("version: 1", "version: 3")
    (workflows_dir / "order.yaml").write_text(text)

    engine = make_engine()

    assert engine.fire(old, "confirm").state == "confirmed"
    assert engine.get(old).version == 1


def test_start_on_respects_when_and_unique(make_engine):
    engine = make_engine()
    event = {"order_id": "SO-1", "customer_id": "C1", "priority": "normal", "lines": []}

    first = engine.emit("order.created", event)
    again = engine.emit("order.created", event)
    rush = engine.emit(
        "order.created", {**event, "order_id": "SO-2", "priority": "rush", "order_number": "R-2"}
    )

    assert len(first.started) == 1 and again.started == []
    inst = engine.get(first.started[0])
    assert inst.workflow == "order" and inst.data["order"]["order_id"] == "SO-1"
    assert [engine.get(i).workflow for i in rush.started] == ["rush_order"]


def test_a_finished_instance_frees_its_unique_key(make_engine):
    engine = make_engine()
    event = {"order_id": "SO-1", "priority": "normal"}
    [first] = engine.emit("order.created", event).started
    engine.fire(first, "cancel", actor="manager")

    [second] = engine.emit("order.created", event).started

    assert second != first


def test_event_moves_the_correlated_waiting_instance(make_engine):
    engine = make_engine()
    event = {"order_id": "SO-5", "priority": "normal", "quantity": 1}
    [iid] = engine.emit("order.created", event).started
    assert engine.fire(iid, "confirm").taken
    assert engine.fire(iid, "schedule", actor="planner").taken
    assert engine.fire(iid, "start_production", actor="planner").taken

    result = engine.emit("order.shipped", {"order_id": "SO-5", "carrier": "DHL"})
    other = engine.emit("order.shipped", {"order_id": "SO-404"})

    assert result.moved == [iid] and other.moved == []
    inst = engine.get(iid)
    assert inst.state == "shipped" and inst.data["carrier"] == "DHL"
    assert inst.history[-1].trigger == "order.shipped"


def test_keyed_event_is_delivered_once(make_engine):
    engine = make_engine()
    event = {"order_id": "SO-1", "priority": "normal"}
    first = engine.emit("order.created", event, key="erp-77")
    engine.fire(first.started[0], "cancel", actor="manager")  # frees the unique key

    again = engine.emit("order.created", event, key="erp-77")

    assert again.duplicate and again.started == first.started
    assert len(engine.list(workflow="order")) == 1


def test_event_addressed_by_instance_id(make_engine):
    engine = make_engine()
    iid = engine.start("order", data=ORDER)
    for trigger, actor in (
        ("confirm", None),
        ("schedule", "planner"),
        ("start_production", "planner"),
    ):
        engine.fire(iid, trigger, actor=actor)

    result = engine.emit("order.shipped", {"instance_id": iid})

    assert result.moved == [iid]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ order.__dict__ }}",
        "{{ data['__class__'] }}",
        "{{ cycler.__init__.__globals__ }}",
        "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    ],
)
def test_templates_reaching_python_internals_are_refused(source):
    with pytest.raises(ExpressionError, match="refused"):
        compile_template(source, make_environment())


def test_sandbox_bounds_runaway_expressions():
    env = make_environment()
    with pytest.raises(ExpressionError, match="refused"):
        compile_template("{{ 'x' * 1000000000 }}", env)({})
    with pytest.raises(ExpressionError, match="refused"):
        compile_template("{{ 2 ** 10000000 }}", env)({})


def test_lone_expression_keeps_its_type_and_text_templates_render_strings():
    env = make_environment()
    assert compile_template("{{ order.qty * 2 }}", env)({"order": {"qty": 4}}) == 8
    assert compile_template("qty {{ order.qty }}", env)({"order": {"qty": 4}}) == "qty 4"
    assert compile_template("late: {{ order.missing }}", env)({"order": {}}) == "late: "


def test_a_version_edited_in_place_never_changes_running_instances(make_engine, workflows_dir):
    from crmflow.errors import ConfigError

    engine = make_engine()
    old = engine.start("order", data=ORDER)
    engine.close()
    text = (workflows_dir / "order.yaml").read_text()
    (workflows_dir / "order.yaml").write_text(
        text.replace("- {trigger: deliver, from: shipped, to: delivered}",
                     "- {trigger: deliver, from: shipped, to: delivered}\n"
                     "  - {trigger: hold, from: draft, to: draft}")
    )

    engine = make_engine()

    assert engine.fire(old, "hold").code == "trigger"  # still the YAML it started with
    with pytest.raises(ConfigError, match="raise `version:` to 2"):
        engine.start("order", data=ORDER)


def test_emit_many_delivers_in_order_and_repeats_are_no_ops(make_engine):
    engine = make_engine()
    events = [
        ("order.created", {"order_id": "SO-1", "priority": "normal"}, "e1"),
        ("order.created", {"order_id": "SO-2", "priority": "normal"}, "e2"),
        ("order.created", {"order_id": "SO-1", "priority": "normal"}, "e1"),  # same key again
    ]

    first = engine.emit_many(events)
    again = engine.emit_many(events)

    assert [len(r.started) for r in first[:2]] == [1, 1]
    assert first[2].duplicate and first[2].started == first[0].started  # the earlier result
    assert all(r.duplicate for r in again)
    assert [r.started for r in again[:2]] == [first[0].started, first[1].started]
    assert len(engine.list(workflow="order")) == 2
