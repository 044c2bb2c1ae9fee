"""One ERP sync: read each model after its cursor, page by page, write, queue the events."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.domain.imports import import_records
from crmflow.core.domain.orders import set_order_status
from crmflow.core.domain.records import Order
from crmflow.core.engine.inbox import enqueue, inbox
from crmflow.errors import ConfigError, ConnectorError
from crmflow.plugins.connectors.status import (
    clear_cursors,
    read_cursor,
    report_error,
    report_success,
    save_cursor,
)

from .config import ErpConfig, erp_config
from .connect import Connection, connect
from .source import Batch, Page
from .transport import RemoteError

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import Engine

__all__ = ["NAME", "SyncReport", "deliver_queued", "sync_erp"]

NAME = "erp"
ACTOR = "erp"
#: What ERPs lack stays empty: a customer's size, industry or region, a product's family.
BLANK = ("size", "industry", "region", "family")
log = logging.getLogger("crmflow.erp")


@dataclass
class SyncReport:
    """What a sync did per crmflow record kind, and what it pushed."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    events: int = 0
    pushed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # models the ERP refused to read

    def add(self, kind: str, **numbers: int) -> None:
        mine = self.counts.setdefault(
            kind, {"read": 0, "added": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        )
        for key, n in numbers.items():
            mine[key] = mine.get(key, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "rejected": self.rejected, "events": self.events,
                "pushed": self.pushed, "skipped": self.skipped}  # fmt: skip


def sync_erp(
    engine: Engine, *, full: bool = False, push: bool = True,
    sleep: Callable[[float], None] | None = None, connection: Connection | None = None,
) -> SyncReport:  # fmt: skip
    """Pull what changed in the ERP since the cursors (``full``: everything), then push.

    Each page is written in one transaction with its events (queued in the
    inbox) and the model's advanced cursor, then its events are delivered:
    a crash repeats at most one page, and the event keys make that harmless.
    Raises :class:`ConnectorError` (the connector's status shows it) when the
    ERP refused the credentials or stayed unavailable through the retries.
    """
    config = erp_config(engine.factory)
    if config is None:
        raise ConfigError("this factory has no connectors.erp section; see docs/connectors.md")
    report = SyncReport()
    try:
        tags = engine.settings.get("erp_rush_tags") or ("urgent", "rush")
        conn = connection or connect(config, sleep=sleep, rush_tags=tuple(map(str, tags)))
        try:
            if full:
                clear_cursors(engine, NAME)
            for model, _kind, fetch in conn.sources:
                try:
                    _pull(engine, config, model, fetch, report)
                except RemoteError as exc:  # e.g. a module the ERP database does not have
                    report.skipped.append(f"{model}: {exc}")
            if push:
                from .push import push_pending

                report.pushed = push_pending(engine, conn)
        finally:
            if connection is None:
                conn.close()
    except ConnectorError as exc:
        state = "config" if exc.reason == "credentials" else "error"
        report_error(engine, NAME, config.kind, str(exc), state=state)
        raise
    records = {k: c["added"] + c["updated"] for k, c in report.counts.items()}
    report_success(engine, NAME, config.kind, records=records)
    if report.skipped:
        report_error(engine, NAME, config.kind, "; ".join(report.skipped), state="partial")
    return report


def _pull(engine: Engine, config: ErpConfig, model: str, fetch: Callable[..., Page],
          report: SyncReport) -> None:  # fmt: skip
    while True:
        with engine.db.connect() as c:
            after = read_cursor(c, NAME, model)
        page = fetch(after, config.page_size)
        _write(engine, model, page, report)
        report.events += deliver_queued(engine)
        if not page.more:
            return


def _write(engine: Engine, model: str, page: Page, report: SyncReport) -> None:
    batch = page.batch
    for kind, rows in batch.before:  # records the page refers to (its customers, products)
        done = import_records(engine, kind, rows, actor=ACTOR, source=model, reason="erp",
                              emit=False, in_transaction=_queue(engine, batch, None),
                              blank=BLANK)  # fmt: skip
        report.add(kind, read=0, added=done.added, updated=done.updated)
        report.rejected += [f"{model}: {kind}: {why}" for _n, why in done.rejected]

    def finish(conn: sa.Connection, events: list[Any]) -> None:
        _queue(engine, batch, model)(conn, events)
        _cancel(engine, conn, batch)
        if page.cursor is not None:
            save_cursor(conn, NAME, model, page.cursor[0], page.cursor[1], engine.now())

    done = import_records(engine, batch.kind, batch.records, actor=ACTOR, source=model,
                          reason="erp", emit=False, in_transaction=finish,
                          blank=BLANK)  # fmt: skip
    report.add(batch.kind, read=page.read, added=done.added, updated=done.updated,
               unchanged=done.unchanged, rejected=len(done.rejected))  # fmt: skip
    for n, why in done.rejected:
        record = batch.records[n - 1]
        key = next(
            (
                str(record.get(k))
                for k in ("order_id", "delivery_id", "po_id", "plan_id", "sku", "customer_id")
                if record.get(k)
            ),
            "?",
        )
        report.rejected.append(f"{model} {key}: {why}")


def _key(event: Any, batch: Batch) -> str:
    """The idempotency key of an ERP event: the ERP record id (+ its write date for changes)."""
    p = event.payload
    if event.name == "order.created" and p.get("order_id") in batch.origin:
        return f"erp:order:{batch.origin[p['order_id']][0]}"
    if event.name == "order.line_changed" and p.get("order_id") in batch.origin:
        rid, stamp = batch.origin[p["order_id"]]
        return f"erp:order:{rid}@{stamp}:{p['sku']}:{p['field']}"
    return f"erp:{event.key or event.name}"


def _queue(engine: Engine, batch: Batch, model: str | None) -> Callable[..., None]:
    def queue(conn: sa.Connection, events: list[Any]) -> None:
        keyed = [(_key(e, batch), e) for e in events]
        taken: set[str] = set()
        keys = [k for k, _e in keyed]
        for start in range(0, len(keys), 500):
            taken.update(conn.execute(sa.select(inbox.c.key).where(
                inbox.c.key.in_(keys[start:start + 500]))).scalars())  # fmt: skip
        rows = []
        now = engine.now()
        for key, event in keyed:
            if key in taken:  # two changes within one ERP write second: keep both
                key = f"erp:{event.key}"
            if key in taken:
                continue
            taken.add(key)
            rows.append({"instance_id": None, "trigger": None, "event": event.name,
                         "payload": json.dumps(event.payload, default=str), "key": key,
                         "actor": ACTOR, "status": "pending", "attempts": 0,
                         "created_at": now})  # fmt: skip
        if rows:
            conn.execute(inbox.insert(), rows)

    return queue


def _cancel(engine: Engine, conn: sa.Connection, batch: Batch) -> None:
    orders = Order.__table__  # type: ignore[attr-defined]
    for order_id, (rid, _stamp) in batch.cancelled:
        status = conn.execute(sa.select(orders.c.status).where(
            orders.c.order_id == order_id)).scalar()  # fmt: skip
        if status is None or status == "cancelled":
            continue
        set_order_status(conn, order_id, "cancelled", by=ACTOR, now=engine.now())
        enqueue(
            engine,
            event="order.cancelled",
            key=f"erp:order:{rid}:cancelled",
            actor=ACTOR,
            data={"order_id": order_id, "reason": "cancelled in the ERP"},
            conn=conn,
        )


def deliver_queued(engine: Engine, batch: int = 500) -> int:
    """Deliver the ERP events the inbox holds, in batches (one event-log write each).

    Each batch is delivered with its keys, then its inbox rows are marked
    done; a crash in between leaves them pending for the worker, whose
    delivery of a key already delivered is a no-op.
    """
    total = 0
    while True:
        with engine.db.connect() as conn:
            rows = conn.execute(
                sa.select(inbox.c.id, inbox.c.event, inbox.c.payload, inbox.c.key)
                .where(inbox.c.status == "pending", inbox.c.actor == ACTOR,
                       inbox.c.event.is_not(None), inbox.c.key.like("erp:%"))
                .order_by(inbox.c.id).limit(batch)
            ).all()  # fmt: skip
        if not rows:
            return total
        engine.emit_many([(r.event, json.loads(r.payload), r.key) for r in rows], actor=ACTOR)
        with engine.db.begin() as conn:
            conn.execute(inbox.update().where(inbox.c.id.in_([r.id for r in rows])).values(
                status="done", attempts=inbox.c.attempts + 1, done_at=engine.now()))  # fmt: skip
        total += len(rows)
