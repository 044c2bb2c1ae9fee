"""What EDI messages carry, independent of EDIFACT or X12."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = ["Advice", "AdviceLine", "EdiReject", "OrderLine", "PurchaseOrder"]


class EdiReject(Exception):
    """A file that is not applied; the text is its reason (written beside it)."""


@dataclass
class OrderLine:
    sku: str
    quantity: float
    date: dt.date


@dataclass
class PurchaseOrder:
    """One purchase order to send: our and the supplier's ids, control number, lines."""

    po_id: str
    control: str
    created: dt.datetime
    buyer_id: str
    buyer_qualifier: str
    supplier_id: str
    supplier_qualifier: str
    lines: list[OrderLine] = field(default_factory=list)


@dataclass
class AdviceLine:
    po_id: str
    sku: str
    quantity: float
    expected_date: dt.date


@dataclass
class Advice:
    """A despatch advice (DESADV / 856): who sent it, its control number, its lines."""

    standard: str
    sender: str
    control: str
    lines: list[AdviceLine] = field(default_factory=list)
