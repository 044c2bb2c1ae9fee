"""Stored review packs: save (one per week and language), list and read back."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from crmflow.core.store import reading
from crmflow.errors import NotFoundError

__all__ = ["get_review", "has_review", "list_reviews", "review_packs", "save_review"]

review_packs = sa.Table(
    "review_packs",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("week", sa.String(10)),
    sa.Column("period_start", sa.Date),
    sa.Column("period_end", sa.Date),
    sa.Column("language", sa.String(10)),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("created_by", sa.String(200)),
    sa.Column("figures", sa.Text),
    sa.Column("html", sa.Text),
    sa.Column("pdf", sa.LargeBinary),
)
_t = review_packs


def save_review(engine: Any, *, week: str, start: dt.date, end: dt.date, language: str,
                figures: dict[str, Any], html: str, pdf: bytes | None, by: str,
                replace: bool = True) -> int | None:  # fmt: skip
    """Store a pack; with ``replace`` a pack of the same week and language is overwritten.

    Without ``replace`` an existing pack is kept and None returned, so two
    workers running the same schedule store it once.
    """
    values = {"week": week, "period_start": start, "period_end": end, "language": language,
              "created_at": engine.now(), "created_by": by,
              "figures": json.dumps(figures, default=str, sort_keys=True), "html": html,
              "pdf": pdf}  # fmt: skip
    with engine.db.begin() as conn:
        found = conn.execute(sa.select(_t.c.id).where(
            _t.c.week == week, _t.c.language == language)).scalar()  # fmt: skip
        if found is not None:
            if not replace:
                return None
            conn.execute(_t.update().where(_t.c.id == found).values(values))
            return int(found)
        try:
            with conn.begin_nested():
                return int(conn.execute(_t.insert().values(values)).inserted_primary_key[0])
        except sa.exc.IntegrityError:  # another process stored the same week just now
            return None


def has_review(engine: Any, week: str) -> bool:
    with reading(engine.db) as conn:
        return conn.execute(sa.select(_t.c.id).where(_t.c.week == week)).first() is not None


def list_reviews(engine: Any, limit: int = 104) -> list[dict[str, Any]]:
    """Stored packs, newest week first, without their documents."""
    query = sa.select(_t.c.id, _t.c.week, _t.c.period_start, _t.c.period_end, _t.c.language,
                      _t.c.created_at, _t.c.created_by, _t.c.pdf.is_not(None).label("has_pdf")
                      ).order_by(_t.c.period_start.desc(), _t.c.language).limit(limit)  # fmt: skip
    with reading(engine.db) as conn:
        return [
            {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v)
             for k, v in row.items()}
            for row in conn.execute(query).mappings()
        ]  # fmt: skip


def get_review(engine: Any, rid: int) -> dict[str, Any]:
    """One stored pack with its HTML, PDF bytes and figures."""
    with reading(engine.db) as conn:
        row = conn.execute(sa.select(_t).where(_t.c.id == rid)).mappings().first()
    if row is None:
        raise NotFoundError(f"no review pack {rid}; `crmflow report list` shows them")
    item = dict(row)
    item["figures"] = json.loads(item["figures"])
    return item
