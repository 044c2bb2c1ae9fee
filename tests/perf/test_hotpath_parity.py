"""The one write step, on a DB-API or a Connection transaction, in any batch: the same rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crmflow import ActionContext, hookimpl

WORKFLOW = """\
workflow: parity
version: 1
entity: order
initial: received
states:
  received: {deadline: 2h, on_timeout: expire}
  checked:
    on_enter:
      - action: parity.stamp
        with: {qty: "{{ order.qty }}"}
        save_as: stamp
  approved:
    on_enter:
      - action: parity.mail
        with: {to: "{{ order.owner }}", qty: "{{ order.qty }}"}
  closed: {final: true}
  expired: {final: true}
transitions:
  - {trigger: check, from: received, to: checked, when: "order.qty > 0"}
  - {trigger: approve, from: checked, to: approved}
  - {trigger: note, from: [checked, approved]}
  - {trigger: close, from: approved, to: closed}
  - {trigger: expire, from: received, to: expired}
"""


def _stamp(ctx: ActionContext, qty: Any = 0) -> dict[str, Any]:
    return {"qty": qty, "state": ctx.state}


def _mail(ctx: ActionContext, **params: Any) -> None:
    return None


class _Plugin:
    @hookimpl
    def register_actions(self, register: Any) -> None:
        register("parity.stamp", _stamp)  # runs in the transaction: the general path
        register("parity.mail", _mail, outbox=True)


# (instance number, trigger, payload, key); the same list fired one by one and in batches.
EVENTS: list[tuple[int, str, dict[str, Any] | None, str | None]] = [
    (0, "check", None, "k0"),
    (1, "check", None, None),  # qty 0: the guard refuses
    (2, "approve", None, None),  # not accepted in `received`
    (0, "check", None, "k0"),  # the same key again: a duplicate
    (0, "approve", {"order": {"owner": "ann"}}, None),
    (0, "note", {"memo": "hello", "order": {"rush": True}}, "k1"),
    (2, "check", {"order": {"qty": 5}}, None),
    (2, "approve", None, "k2"),
    (0, "close", None, None),
    (0, "note", None, None),  # finished
    (3, "expire", None, None),
]


def _open(crmflow_engine: Any, folder: Path) -> Any:
    # Outbox rows stay pending, so both sides can be compared row for row.
    return crmflow_engine(workflows=folder, plugins=[_Plugin()], inline_outbox=False)


def _start(engine: Any) -> list[int]:
    quantities = [3, 0, 0, 7]
    return [engine.start("parity", {"order": {"qty": q}}, key=f"s{i}") for i, q in
            enumerate(quantities)]  # fmt: skip


def _result(result: Any, ids: list[int]) -> tuple[Any, ...]:
    return (result.taken, result.state, result.reason, result.code, result.duplicate,
            ids.index(result.instance_id))  # fmt: skip


def _snapshot(engine: Any, ids: list[int]) -> list[Any]:
    out: list[Any] = []
    for iid in ids:
        inst = engine.get(iid)
        out.append((
            inst.state, inst.data, inst.rev, inst.finished, inst.entered_at,
            [(h.trigger, h.from_state, h.to_state, h.payload, h.key, h.at) for h in inst.history],
            [(t.name, t.kind, t.trigger, t.due) for t in inst.timers],
        ))  # fmt: skip
    with engine.db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT instance_id, action_index, action, params, save_as, status "
                    "FROM outbox ORDER BY id")
        ).all()  # fmt: skip
    out.append([(ids.index(r[0]), *r[1:]) for r in rows])
    return out


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "workflows"
    path.mkdir()
    (path / "parity.yaml").write_text(WORKFLOW)
    return path


def test_direct_transaction_matches_the_connection_one(crmflow_engine: Any, folder: Path) -> None:
    fast, general = _open(crmflow_engine, folder), _open(crmflow_engine, folder)
    fast_ids, general_ids = _start(fast), _start(general)
    for n, trigger, data, key in EVENTS:
        a = fast.fire(fast_ids[n], trigger, data, key=key)
        with general.db.begin() as conn:
            b = general.fire_in(conn, general_ids[n], trigger, data, key, None, general.now())[0]
            if not b.taken:
                conn.rollback()
        assert _result(a, fast_ids) == _result(b, general_ids), (n, trigger)
    assert _snapshot(fast, fast_ids) == _snapshot(general, general_ids)


@pytest.mark.parametrize("size", [1, 3, len(EVENTS)])
def test_fire_many_matches_fire(crmflow_engine: Any, folder: Path, size: int) -> None:
    one, many = _open(crmflow_engine, folder), _open(crmflow_engine, folder)
    one_ids, many_ids = _start(one), _start(many)
    expected = [
        _result(one.fire(one_ids[n], t, d, key=k, actor="system"), one_ids) for n, t, d, k in EVENTS
    ]
    got = []
    for first in range(0, len(EVENTS), size):
        chunk = EVENTS[first : first + size]
        got += [
            _result(r, many_ids)
            for r in many.fire_many([(many_ids[n], t, d, k) for n, t, d, k in chunk])
        ]
    assert got == expected
    assert _snapshot(many, many_ids) == _snapshot(one, one_ids)


def test_kept_connection_is_closed_with_the_engine(crmflow_engine: Any, folder: Path) -> None:
    engine = _open(crmflow_engine, folder)
    iid = _start(engine)[3]
    assert engine.fire(iid, "expire").taken
    held = engine.__dict__["_held_connection"]
    conn = held.conn
    assert conn is not None
    engine.close()
    assert held.conn is None
    with pytest.raises(Exception, match="closed"):
        conn.execute("SELECT 1")


def test_events_from_other_threads_while_the_connection_is_busy(
    crmflow_engine: Any, folder: Path
) -> None:
    engine = _open(crmflow_engine, folder)
    ids = _start(engine)
    assert engine.fire(ids[3], "expire").taken
    held = engine.__dict__["_held_connection"]
    with held.lock:  # as if another thread were firing: these take pooled connections
        assert engine.fire(ids[0], "check").taken
        assert [r.taken for r in engine.fire_many([(ids[0], "approve", None, None)])] == [True]
    assert engine.get(ids[0]).state == "approved"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_database_keeps_its_single_connection(
    crmflow_engine: Any, folder: Path, url: str
) -> None:
    engine = crmflow_engine(workflows=folder, plugins=[_Plugin()], database_url=url)
    iid = _start(engine)[3]
    assert engine.fire(iid, "expire").taken
    assert engine.fire_many([(iid, "expire", None, None)])[0].code == "finished"
    assert engine.get(iid).state == "expired"
