"""What an ERP reader hands the sync: pages of crmflow records with their ERP origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

__all__ = ["Batch", "Cursor", "Page", "Source", "local_date", "name_of"]

Cursor = tuple[str, str]  # (the ERP's write_date / modified, record id) of the last record read


@dataclass
class Batch:
    """Records of one import kind, each crmflow key mapped to its ERP record and stamp."""

    kind: str
    records: list[dict[str, Any]] = field(default_factory=list)
    origin: dict[str, Cursor] = field(default_factory=dict)
    cancelled: list[tuple[str, Cursor]] = field(default_factory=list)
    before: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)


@dataclass
class Page:
    """One page read from a model: its records, the cursor after it, more to come?"""

    batch: Batch
    cursor: Cursor | None
    more: bool
    read: int = 0


class Source(Protocol):
    """One model read incrementally; ``model`` names its cursor."""

    model: str
    kind: str

    def page(self, after: Cursor | None, limit: int) -> Page: ...


def local_date(value: Any, tz: ZoneInfo) -> date | None:
    """An ERP date or UTC datetime string as a date in the factory's time zone."""
    if not value:
        return None
    text = str(value).replace("T", " ")
    if len(text) <= 10:
        return date.fromisoformat(text[:10])
    moment = datetime.fromisoformat(text[:19])
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).date()


def name_of(many2one: Any) -> str | None:
    """The display name of an Odoo many2one value ``[id, "name"]`` (None when empty)."""
    if isinstance(many2one, list | tuple) and len(many2one) > 1:
        return str(many2one[1])
    return None
