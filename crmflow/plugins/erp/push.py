"""Pushes waiting for the ERP: approved purchase requests, applied plan adjustments."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from crmflow.core.domain.records import PlanAdjustment, Product, ProductionPlan, PurchaseRequest
from crmflow.errors import ConnectorError, NotFoundError
from crmflow.plugins.connectors.status import connector_failures, record_failure

from .connect import Connection
from .transport import MAX_RETRIES, RemoteError, backoff_delay

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import Engine

__all__ = ["erp_pushes", "push_one", "push_pending", "waiting_pushes"]

NAME = "erp"
_requests = PurchaseRequest.__table__  # type: ignore[attr-defined]
_adjustments = PlanAdjustment.__table__  # type: ignore[attr-defined]
_plans = ProductionPlan.__table__  # type: ignore[attr-defined]
_products = Product.__table__  # type: ignore[attr-defined]

#: Mirrors migration 0150_connectors: what was pushed, so nothing is pushed twice.
erp_pushes = sa.Table(
    "erp_pushes",
    SQLModel.metadata,
    sa.Column("subject", sa.String(100), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("remote_model", sa.String(100)),
    sa.Column("remote_id", sa.String(140)),
    sa.Column("remote_name", sa.String(140)),
    sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
)


def waiting_pushes(engine: Engine) -> list[str]:
    """Subjects to push: approved purchase requests without a PO, applied adjustments of
    ERP manufacturing orders not pushed yet; minus those dead-lettered until retried."""
    f = connector_failures
    with engine.db.connect() as conn:
        failed = set(conn.execute(sa.select(f.c.key).where(
            f.c.connector == NAME, f.c.status == "failed")).scalars())  # fmt: skip
        pushed = set(conn.execute(sa.select(erp_pushes.c.subject)).scalars())
        requests = conn.execute(sa.select(_requests.c.id).where(
            _requests.c.status == "approved", _requests.c.po_id.is_(None)
        ).order_by(_requests.c.id)).scalars()  # fmt: skip
        adjustments = conn.execute(sa.select(_adjustments.c.id).where(
            _adjustments.c.status == "applied", _adjustments.c.plan_id.is_not(None)
        ).order_by(_adjustments.c.id)).scalars()  # fmt: skip
        subjects = [f"purchase_request:{i}" for i in requests]
        subjects += [f"plan_adjustment:{i}" for i in adjustments]
    return [s for s in subjects if s not in failed and s not in pushed]


def push_pending(engine: Engine, conn: Connection) -> list[dict[str, Any]]:
    """Push every waiting subject; a refusal by the ERP goes to the dead letter."""
    done = []
    for subject in waiting_pushes(engine):
        try:
            done.append(push_one(engine, conn, subject))
        except RemoteError as exc:
            record_failure(engine, NAME, kind="push", key=subject, payload={"subject": subject},
                           error=str(exc))  # fmt: skip
            done.append({"subject": subject, "status": "failed", "error": str(exc)})
    return done


def push_one(engine: Engine, conn: Connection, subject: str) -> dict[str, Any]:
    """Push one subject; a timeout or a 5xx is retried by searching first, so a document
    created by an attempt whose answer was lost is found instead of created again."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return _push(engine, conn, subject)
        except ConnectorError as exc:
            if exc.reason != "unavailable" or attempt > MAX_RETRIES:
                raise
            conn.http.sleep(backoff_delay(attempt, None, random.random))


def _push(engine: Engine, conn: Connection, subject: str) -> dict[str, Any]:
    kind, _, raw_id = subject.partition(":")
    config, now = conn.config, engine.now()
    request = adj = plan = None
    with engine.db.connect() as c:
        earlier = c.execute(sa.select(erp_pushes.c.remote_name).where(
            erp_pushes.c.subject == subject)).first()  # fmt: skip
        if earlier is not None:  # pushed already (an approval fired twice, an outbox retry)
            return {"subject": subject, "status": "done", "remote": earlier.remote_name}
        if kind == "purchase_request":
            request = c.execute(sa.select(_requests).where(
                _requests.c.id == int(raw_id))).mappings().first()  # fmt: skip
            if request is None:
                raise NotFoundError(f"no {subject}")
            column = _products.c.get("supplier")  # products name their supplier (issue 16)
            supplier = None if column is None else c.execute(sa.select(column).where(
                _products.c.sku == request["sku"])).scalar()  # fmt: skip
        else:
            adj = c.execute(sa.select(_adjustments).where(
                _adjustments.c.id == int(raw_id))).mappings().first()  # fmt: skip
            if adj is None:
                raise NotFoundError(f"no {subject}")
            plan = c.execute(sa.select(_plans).where(
                _plans.c.plan_id == adj["plan_id"])).mappings().first()  # fmt: skip
    make: Callable[..., tuple[str, str]]
    adjust: Callable[..., str]
    if kind == "purchase_request":
        assert request is not None
        if config.kind == "erpnext":
            from .erpnext import erpnext_material_request as make
        else:
            from .odoo_push import odoo_purchase_request as make
        rid, name = make(conn.client, dict(request), supplier, config.timezone)
        model = "Material Request" if config.kind == "erpnext" else "purchase.order"
        with engine.db.begin() as c:
            c.execute(_requests.update().where(_requests.c.id == int(raw_id)).values(
                status="ordered", po_id=name))  # fmt: skip
            _done(c, subject, model, rid, name, now)
        return {"subject": subject, "status": "done", "remote": name}
    assert adj is not None
    if plan is None:
        raise RemoteError(f"{subject}: production plan {adj['plan_id']!r} is not in crmflow")
    if config.kind == "erpnext":
        from .erpnext import erpnext_adjust_production as adjust
    else:
        from .odoo_push import odoo_adjust_production as adjust
    rid = adjust(conn.client, dict(plan), config.timezone)
    with engine.db.begin() as c:
        _done(c, subject, "production", rid, plan["plan_id"], now)
    return {"subject": subject, "status": "done", "remote": plan["plan_id"]}


def _done(c: sa.Connection, subject: str, model: str, rid: str, name: str, now: Any) -> None:
    if c.execute(sa.select(erp_pushes.c.subject).where(erp_pushes.c.subject == subject)).first():
        return
    c.execute(
        erp_pushes.insert().values(
            subject=subject,
            status="done",
            remote_model=model,
            remote_id=rid,
            remote_name=name,
            pushed_at=now,
        )
    )
