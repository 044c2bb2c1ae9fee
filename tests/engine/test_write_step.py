"""The write step's lean statements keep their meaning (SQLite and PostgreSQL).

The open key of a finishing instance is cleared only where set; history rows are
numbered from the largest id read with the instance rows, across fire, fire_many
and start in any order.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from crmflow.core.engine.repository import history, instances

LINE = """\
workflow: line
version: 1
initial: open
states:
  open: {}
  done: {final: true}
transitions:
  - {trigger: close, from: open, to: done}
"""


def _engine(make_engine, workflows_dir: Path):
    (workflows_dir / "line.yaml").write_text(LINE)
    return make_engine()


def test_finishing_frees_the_open_key_and_leaves_keyless_instances_alone(
    make_engine, workflows_dir
):
    engine = _engine(make_engine, workflows_dir)
    keyed = engine.start("line", open_key="PO-1")
    keyless = engine.start("line")
    batched = engine.start("line", open_key="PO-2")

    assert engine.start("line", open_key="PO-1") == keyed  # still open: the same instance
    assert engine.fire(keyed, "close").state == "done"
    assert engine.fire(keyless, "close").state == "done"
    assert [r.state for r in engine.fire_many([(batched, "close", None, None)])] == ["done"]

    with engine.db.connect() as conn:
        rows = conn.execute(
            sa.select(instances.c.id, instances.c.open_key, instances.c.finished).where(
                instances.c.id.in_([keyed, keyless, batched])
            )
        ).all()
    assert sorted(rows) == sorted([(keyed, None, True), (keyless, None, True),
                                   (batched, None, True)])  # fmt: skip
    # The keys are free again: a new start with them opens a new instance.
    assert engine.start("line", open_key="PO-1") not in (keyed, keyless, batched)
    assert engine.start("line", open_key="PO-2") not in (keyed, keyless, batched)


def test_history_rows_are_numbered_in_order_across_fire_fire_many_and_start(
    make_engine, workflows_dir
):
    engine = _engine(make_engine, workflows_dir)
    first = engine.start("line")
    assert engine.fire(first, "close").taken
    second, third = engine.start("line"), engine.start("line")
    results = engine.fire_many([(second, "close", None, "k2"), (third, "close", None, None)])
    fourth = engine.start("line")
    last = engine.fire(fourth, "close", key="k4")

    with engine.db.connect() as conn:
        rows = conn.execute(
            sa.select(history.c.id, history.c.instance_id, history.c.trigger).order_by(history.c.id)
        ).all()
    assert [(iid, trigger) for _id, iid, trigger in rows] == [
        (first, "start"), (first, "close"), (second, "start"), (third, "start"),
        (second, "close"), (third, "close"), (fourth, "start"), (fourth, "close"),
    ]  # fmt: skip
    assert [r.history_id for r in results] == [rows[4][0], rows[5][0]]
    assert last.history_id == rows[-1][0]
    # The keys stay idempotent: the same key again is the same history row.
    again = engine.fire(fourth, "close", key="k4")
    assert (again.taken, again.duplicate, again.history_id) == (True, True, last.history_id)
