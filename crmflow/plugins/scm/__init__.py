"""The SCM plugin: EDI with suppliers (EDIFACT D.96A ORDERS/DESADV, X12 850/856)."""

from __future__ import annotations

__all__: list[str] = []
