"""`crmflow edi poll`: send approved purchase requests to EDI suppliers, apply despatch advice."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from crmflow.core.domain.imports import import_rows
from crmflow.core.domain.records import Product, Purchase, PurchaseRequest
from crmflow.core.engine.inbox import drain, enqueue
from crmflow.errors import ConfigError
from crmflow.plugins.mes.store import report_status

from . import edifact, x12
from .model import Advice, EdiReject, OrderLine, PurchaseOrder
from .tables import edi_interchanges, edi_orders
from .transport import Folder, open_folder

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import Engine

__all__ = ["EdiConfig", "PollReport", "edi_config", "poll", "receive", "send"]

log = logging.getLogger("crmflow.scm")
NAME = "edi"


@dataclass
class EdiConfig:
    """The factory's `connectors.scm` section, checked."""

    standard: str
    our_id: str
    our_qualifier: str
    partners: dict[str, tuple[str, str]]
    inbox: Folder
    outbox: Folder


@dataclass
class PollReport:
    """What one poll did: files sent, applied and rejected (with reasons)."""

    sent: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "applied": self.applied,
            "rejected": [{"file": f, "reason": r} for f, r in self.rejected],
        }


def _party(raw: Any, where: str) -> tuple[str, str]:
    if isinstance(raw, dict) and raw.get("id"):
        return str(raw["id"]), str(raw.get("qualifier", "14"))
    if isinstance(raw, str | int) and str(raw):
        return str(raw), "14"
    raise ConfigError(f"{where}: give {{id: GLN, qualifier: '14'}}")


def edi_config(engine: Engine) -> EdiConfig:
    """Read `connectors.scm`; :class:`ConfigError` names the bad key."""
    raw = engine.factory.connectors.get("scm")
    if not isinstance(raw, dict) or raw.get("kind") != "edi":
        raise ConfigError("connectors.scm: the factory configures no EDI (kind: edi)")
    standard = raw.get("standard", "edifact")
    if standard not in ("edifact", "x12"):
        raise ConfigError("connectors.scm.standard: edifact or x12")
    our_id, our_q = _party(raw.get("our_id"), "connectors.scm.our_id")
    partners = raw.get("partners")
    if not isinstance(partners, dict) or not partners:
        raise ConfigError("connectors.scm.partners: map supplier ids to their EDI ids")
    base = engine.factory.file.parent if engine.factory.file else Path.cwd()
    return EdiConfig(
        standard=standard,
        our_id=our_id,
        our_qualifier=our_q,
        partners={str(k): _party(v, f"connectors.scm.partners.{k}") for k, v in partners.items()},
        inbox=open_folder(raw.get("inbox"), base, raw, "inbox"),
        outbox=open_folder(raw.get("outbox"), base, raw, "outbox"),
    )


def poll(engine: Engine, cfg: EdiConfig | None = None) -> PollReport:
    """Send what waits for the outbox, then read the inbox once."""
    cfg = cfg or edi_config(engine)
    report = PollReport()
    try:
        send(engine, cfg, report)
        receive(engine, cfg, report)
    except Exception as exc:
        report_status(engine, NAME, "edi", "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    report_status(
        engine,
        NAME,
        "edi",
        "ok",
        success=True,
        error=report.rejected[-1][1] if report.rejected else None,
        messages_applied=len(report.sent) + len(report.applied),
    )
    while drain(engine, limit=500).total:
        pass
    return report


# -- out: approved purchase requests -> ORDERS / 850 -------------------------------------


def send(engine: Engine, cfg: EdiConfig, report: PollReport) -> None:
    """Each approved request for an EDI supplier: a purchase order file, written once.

    The order is recorded (and the request marked ``ordered``) in the same
    transaction as its control number; the file is written after that and
    re-written by the next poll when the upload failed, under the same name.
    """
    reqs = PurchaseRequest.__table__  # type: ignore[attr-defined]
    products = Product.__table__  # type: ignore[attr-defined]
    now = engine.now()
    today = now.astimezone(engine.factory.timezone).date()
    with engine.db.begin() as conn:
        rows = (
            conn.execute(
                sa.select(reqs, products.c.supplier, products.c.lead_time_days)
                .join(products, products.c.sku == reqs.c.sku)
                .where(reqs.c.status == "approved", products.c.supplier.in_(sorted(cfg.partners)))
                .order_by(reqs.c.id)
            )
            .mappings()
            .all()
        )
        for req in rows:
            control = _next_control(conn)
            po_id = req["po_id"] or f"PR{req['id']:06d}"
            due = req["need_date"] or today + dt.timedelta(days=int(req["lead_time_days"] or 14))
            _, events = import_rows(
                engine,
                "purchases",
                [
                    {
                        "po_id": po_id,
                        "supplier": req["supplier"],
                        "sku": req["sku"],
                        "quantity": req["quantity"],
                        "order_date": today,
                        "due_date": due,
                    }
                ],
                actor="edi",
                source=f"purchase_request:{req['id']}",
                conn=conn,
            )
            name = f"{'ORDERS' if cfg.standard == 'edifact' else '850'}_{po_id}_{control}.edi"
            conn.execute(
                edi_orders.insert().values(
                    request_id=req["id"],
                    po_id=po_id,
                    partner=req["supplier"],
                    control=control,
                    file=name,
                    status="pending",
                    created_at=now,
                )
            )
            conn.execute(
                edi_interchanges.insert().values(
                    direction="out",
                    standard=cfg.standard,
                    sender=cfg.our_id,
                    control=control,
                    message="ORDERS" if cfg.standard == "edifact" else "850",
                    file=name,
                    reference=po_id,
                    created_at=now,
                )
            )
            conn.execute(
                reqs.update().where(reqs.c.id == req["id"]).values(status="ordered", po_id=po_id)
            )
    with engine.db.connect() as conn:
        pending = (
            conn.execute(
                sa.select(edi_orders)
                .where(edi_orders.c.status == "pending")
                .order_by(edi_orders.c.request_id)
            )
            .mappings()
            .all()
        )
    for order in pending:
        cfg.outbox.put(order["file"], _render(engine, cfg, order).encode("utf-8"))
        with engine.db.begin() as conn:
            conn.execute(
                edi_orders.update()
                .where(edi_orders.c.request_id == order["request_id"])
                .values(status="sent", sent_at=engine.now())
            )
        report.sent.append(order["file"])


def _next_control(conn: sa.Connection) -> str:
    t = edi_interchanges
    last = conn.execute(
        sa.select(sa.func.max(sa.cast(t.c.control, sa.Integer))).where(t.c.direction == "out")
    ).scalar()
    return str((last or 0) + 1)


def _render(engine: Engine, cfg: EdiConfig, order: Any) -> str:
    purchases = Purchase.__table__  # type: ignore[attr-defined]
    with engine.db.connect() as conn:
        lines = (
            conn.execute(
                sa.select(purchases)
                .where(purchases.c.po_id == order["po_id"])
                .order_by(purchases.c.sku)
            )
            .mappings()
            .all()
        )
    partner_id, partner_q = cfg.partners[order["partner"]]
    po = PurchaseOrder(
        po_id=order["po_id"],
        control=order["control"],
        created=order["created_at"],
        buyer_id=cfg.our_id,
        buyer_qualifier=cfg.our_qualifier,
        supplier_id=partner_id,
        supplier_qualifier=partner_q,
        lines=[OrderLine(r["sku"], float(r["quantity"]), r["due_date"]) for r in lines],
    )
    return edifact.build_orders(po) if cfg.standard == "edifact" else x12.build_850(po)


# -- in: DESADV / 856 -> advised quantity and date ---------------------------------------------


def receive(engine: Engine, cfg: EdiConfig, report: PollReport) -> None:
    """Apply each inbox file once; a bad one moves to rejected/ with its reason."""
    for name in cfg.inbox.names():
        try:
            text = cfg.inbox.read(name).decode("utf-8")
        except UnicodeDecodeError:
            _reject(cfg, name, "is not UTF-8 text", report)
            continue
        try:
            advice = _parse(text)
            _apply(engine, advice, name)
        except EdiReject as exc:
            _reject(cfg, name, str(exc), report)
            continue
        cfg.inbox.move(name, "done")
        report.applied.append(name)


def _parse(text: str) -> Advice:
    head = text.lstrip()[:3]
    if head in ("UNA", "UNB"):
        return edifact.parse_desadv(text)
    if head == "ISA":
        return x12.parse_856(text)
    raise EdiReject("neither EDIFACT (UNA/UNB) nor X12 (ISA)")


def _reject(cfg: EdiConfig, name: str, reason: str, report: PollReport) -> None:
    log.warning("EDI file %s rejected: %s", name, reason)
    cfg.inbox.move(name, "rejected", reason=reason + "\n")
    report.rejected.append((name, reason))


def _apply(engine: Engine, advice: Advice, name: str) -> None:
    """All lines or none: one transaction, keyed by the interchange's sender and control."""
    purchases = Purchase.__table__  # type: ignore[attr-defined]
    now = engine.now()
    with engine.db.begin() as conn:
        seen = conn.execute(
            sa.select(edi_interchanges.c.file, edi_interchanges.c.created_at).where(
                edi_interchanges.c.direction == "in",
                edi_interchanges.c.sender == advice.sender,
                edi_interchanges.c.control == advice.control,
            )
        ).first()
        if seen is not None:
            raise EdiReject(
                f"interchange {advice.control} from {advice.sender} was already "
                f"applied (file {seen.file}, {seen.created_at:%Y-%m-%d %H:%M})"
            )
        for n, line in enumerate(advice.lines, start=1):
            row = conn.execute(
                sa.select(purchases.c.po_id).where(
                    purchases.c.po_id == line.po_id, purchases.c.sku == line.sku
                )
            ).first()
            if row is None:
                known = conn.execute(
                    sa.select(purchases.c.po_id).where(purchases.c.po_id == line.po_id)
                ).first()
                what = (
                    f"order {line.po_id} has no line for {line.sku}"
                    if known
                    else f"unknown order {line.po_id}"
                )
                raise EdiReject(f"line {n}: {what}")
        for line in advice.lines:
            conn.execute(
                purchases.update()
                .where(purchases.c.po_id == line.po_id, purchases.c.sku == line.sku)
                .values(
                    advised_quantity=line.quantity,
                    advised_date=line.expected_date,
                    due_date=line.expected_date,
                    updated_at=now,
                    updated_by="edi",
                )
            )
            payload = {
                "po_id": line.po_id,
                "sku": line.sku,
                "quantity": line.quantity,
                "expected_date": line.expected_date.isoformat(),
            }
            enqueue(
                engine,
                event="shipment.advised",
                data=payload,
                actor="edi",
                conn=conn,
                key=f"edi:{advice.sender}:{advice.control}:{line.po_id}:{line.sku}",
            )
        conn.execute(
            edi_interchanges.insert().values(
                direction="in",
                standard=advice.standard,
                sender=advice.sender,
                control=advice.control,
                message="DESADV" if advice.standard == "edifact" else "856",
                file=name,
                reference=",".join(sorted({ln.po_id for ln in advice.lines}))[:100],
                created_at=now,
            )
        )
