"""The weekly review on `report_cron` (factory time zone), run by the worker's rounds."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from croniter import croniter

from crmflow.core.domain.records import Order
from crmflow.core.store import reading
from crmflow.errors import ConfigError
from crmflow.plugins.kpi.service import factory_timezone

from .review import last_full_week, week_label
from .reviews import has_review

__all__ = ["due_week", "run_due_reviews"]

log = logging.getLogger(__name__)
_orders = Order.__table__  # type: ignore[attr-defined]


def due_week(engine: Any, now: dt.datetime) -> str | None:
    """The week whose pack the latest `report_cron` occurrence up to ``now`` asks for, if unmade.

    The pack of an occurrence is the last full ISO week before its day. A
    missed occurrence is made late, once; older ones are not caught up.
    """
    cron = (getattr(engine, "settings", None) or {}).get("report_cron") or "0 7 * * 1"
    if not croniter.is_valid(str(cron)):
        raise ConfigError(f"settings.report_cron {cron!r} is not a cron expression "
                          "(e.g. '0 7 * * 1', Monday 07:00)")  # fmt: skip
    local = now.astimezone(factory_timezone(engine.factory))
    # get_prev is strictly before its start: a round at 07:00:00 sharp counts as due.
    last = croniter(str(cron), local + dt.timedelta(seconds=1)).get_prev(dt.datetime)
    week = week_label(last_full_week(last.date()))
    return None if has_review(engine, week) else week


def _has_orders(engine: Any) -> bool:
    with reading(engine.db) as conn:
        return conn.execute(sa.select(_orders.c.order_id).limit(1)).first() is not None


def run_due_reviews(engine: Any, now: dt.datetime | None = None) -> str | None:
    """Make and store the due pack (HTML and PDF); the week made, or None."""
    from .pack import make_review

    now = now or engine.now()
    week = due_week(engine, now)
    if week is None or not _has_orders(engine):
        return None  # nothing due, or a factory without orders: nothing to review
    pack = make_review(engine, week, pdf=True, by="worker", replace=False)
    if pack.stored_id is not None:
        log.info("stored the S&OP review pack of %s (id %s)", week, pack.stored_id)
        engine.emit("report.review_ready", {"week": week, "review_id": pack.stored_id},
                    key=f"review:{week}")  # fmt: skip
    return week
