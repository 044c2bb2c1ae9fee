"""The EDI tables (mirrors migration 0160_mes_scm)."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["edi_interchanges", "edi_orders"]

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)
_meta = sa.MetaData()

edi_interchanges = sa.Table(
    "edi_interchanges",
    _meta,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("direction", sa.String(3), nullable=False),
    sa.Column("standard", sa.String(10), nullable=False),
    sa.Column("sender", sa.String(100), nullable=False),
    sa.Column("control", sa.String(40), nullable=False),
    sa.Column("message", sa.String(20), nullable=False),
    sa.Column("file", sa.String(500), nullable=False),
    sa.Column("reference", sa.String(100), nullable=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.UniqueConstraint("direction", "sender", "control", name="uq_edi_interchange"),
)
edi_orders = sa.Table(
    "edi_orders",
    _meta,
    sa.Column("request_id", _ID, primary_key=True),
    sa.Column("po_id", sa.String(100), nullable=False),
    sa.Column("partner", sa.String(200), nullable=False),
    sa.Column("control", sa.String(40), nullable=False),
    sa.Column("file", sa.String(500), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("sent_at", _TS, nullable=True),
)
