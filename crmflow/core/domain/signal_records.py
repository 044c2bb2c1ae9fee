"""Demand signals beside the order history: pipeline, market indicators, customer feedback."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

__all__ = ["CustomerFeedback", "MarketIndicator", "Opportunity", "SIGNAL_TABLES", "ScanClaim"]

TS = sa.DateTime(timezone=True)


class Opportunity(SQLModel, table=True):
    """A sales-pipeline opportunity: a quantity of a SKU (or a family) expected on a date."""

    __tablename__ = "opportunities"
    __table_args__ = (sa.Index("ix_opportunities_expected", "expected_date"),)

    opportunity_id: str = Field(primary_key=True, max_length=100)
    customer_id: str = Field(foreign_key="customers.customer_id", max_length=100)
    sku: str | None = Field(default=None, max_length=100)
    family: str | None = Field(default=None, max_length=100)
    quantity: float
    expected_date: dt.date
    probability: float  # 0..1
    stage: str = Field(max_length=50)
    updated_at: dt.datetime | None = Field(default=None, sa_type=TS)
    updated_by: str | None = Field(default=None, max_length=200)


class MarketIndicator(SQLModel, table=True):
    """A dated value of a named market indicator (e.g. an industry production index)."""

    __tablename__ = "market_indicators"

    date: dt.date = Field(primary_key=True)
    name: str = Field(primary_key=True, max_length=100)
    value: float
    updated_at: dt.datetime | None = Field(default=None, sa_type=TS)
    updated_by: str | None = Field(default=None, max_length=200)


class CustomerFeedback(SQLModel, table=True):
    """What a customer said about its demand: up, down, new or lost, for a SKU or a family.

    Keyed by date, customer and subject; ``sku`` and ``family`` hold ``''``
    when not given (a key column cannot be NULL).
    """

    __tablename__ = "customer_feedback"

    date: dt.date = Field(primary_key=True)
    customer_id: str = Field(primary_key=True, foreign_key="customers.customer_id",
                             max_length=100)  # fmt: skip
    sku: str = Field(default="", primary_key=True, max_length=100)
    family: str = Field(default="", primary_key=True, max_length=100)
    signal: str = Field(max_length=10)  # up | down | new | lost
    quantity: float | None = None
    note: str | None = Field(default=None, max_length=500)
    updated_at: dt.datetime | None = Field(default=None, sa_type=TS)
    updated_by: str | None = Field(default=None, max_length=200)


class ScanClaim(SQLModel, table=True):
    """One run of a scheduled S&OP scan (capacity, demand swings): claimed once per day."""

    __tablename__ = "sop_scans"

    job: str = Field(primary_key=True, max_length=50)
    period: str = Field(primary_key=True, max_length=20)
    claimed_at: dt.datetime = Field(sa_type=TS)


SIGNAL_TABLES = [
    Opportunity.__table__,  # type: ignore[attr-defined]
    MarketIndicator.__table__,  # type: ignore[attr-defined]
    CustomerFeedback.__table__,  # type: ignore[attr-defined]
    ScanClaim.__table__,  # type: ignore[attr-defined]
]
