"""The S&OP plugin's daily scans: capacity overloads and customers' demand swings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .capacity_watch import check_capacity
from .customer_lists import emit_demand_swings
from .signal_records import ScanClaim

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine.runtime import Engine

__all__ = ["JOBS", "run_due_scans"]

_claims = ScanClaim.__table__  # type: ignore[attr-defined]
#: job -> what it runs (once a day, whichever worker claims it first)
JOBS: dict[str, Callable[[Engine, dt.date], Any]] = {
    "capacity": lambda engine, today: check_capacity(engine, today=today),
    "demand_swing": lambda engine, today: emit_demand_swings(engine, today=today),
}


def run_due_scans(engine: Engine, now: dt.datetime) -> dict[str, Any]:
    """Run each scan not yet run today (in the factory's time zone); returns what ran.

    A worker claims a scan's day with a unique row first, so two workers
    never both run it; a failed scan gives its claim back to be retried.
    """
    today = now.astimezone(engine.factory.timezone).date()
    ran: dict[str, Any] = {}
    for job, run in JOBS.items():
        try:
            with engine.db.begin() as conn:
                conn.execute(_claims.insert().values(job=job, period=today.isoformat(),
                                                     claimed_at=now))  # fmt: skip
        except sa.exc.IntegrityError:
            continue  # another worker (or an earlier round) has it
        try:
            ran[job] = run(engine, today)
        except Exception:
            with engine.db.begin() as conn:
                conn.execute(_claims.delete().where(_claims.c.job == job,
                                                    _claims.c.period == today.isoformat()))
            raise
    return ran
