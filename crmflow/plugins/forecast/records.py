"""SQLModel tables of forecast snapshots, values, accuracy and champions (``forecast_*``)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

__all__ = [
    "FORECAST_TABLES",
    "ForecastAccuracy",
    "ForecastChampion",
    "ForecastSeries",
    "ForecastSnapshot",
    "ForecastValue",
]

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


class ForecastSnapshot(SQLModel, table=True):
    """One forecast run: when, with which candidate models, for how many months."""

    __tablename__ = "forecast_snapshots"

    id: int | None = Field(default=None, sa_type=ID, primary_key=True)
    created_at: dt.datetime = Field(sa_type=TS, index=True)
    horizon: int
    season: int
    first_period: dt.date  # the first forecast month
    models: str  # JSON list of the candidate models
    params: str  # JSON: top, origins and other settings
    source: str = Field(default="orders", max_length=50)


class ForecastSeries(SQLModel, table=True):
    """Per snapshot and SKU: the model chosen, its backtest MASE and the MASE scale."""

    __tablename__ = "forecast_series"

    snapshot_id: int = Field(sa_type=ID, primary_key=True, foreign_key="forecast_snapshots.id")
    sku: str = Field(primary_key=True, max_length=100)
    kind: str = Field(max_length=20)  # regular intermittent zero short
    model: str = Field(max_length=300)
    params: str  # JSON params per member model
    backtest_mase: float | None = None
    scale: float | None = None  # in-sample seasonal-naive MAE, for MASE of actuals
    history_months: int = 0


class ForecastValue(SQLModel, table=True):
    """One forecast number: SKU × month of a snapshot, with its lag in months."""

    __tablename__ = "forecast_values"
    __table_args__ = (sa.Index("ix_forecast_values_sku_period", "sku", "period_start"),)

    snapshot_id: int = Field(sa_type=ID, primary_key=True, foreign_key="forecast_snapshots.id")
    sku: str = Field(primary_key=True, max_length=100)
    period_start: dt.date = Field(primary_key=True)
    lag: int  # months from the snapshot's month to period_start (1 = next month)
    value: float
    model: str = Field(max_length=300)


class ForecastAccuracy(SQLModel, table=True):
    """A forecast compared with its actual, once the month is over."""

    __tablename__ = "forecast_accuracy"
    __table_args__ = (sa.Index("ix_forecast_accuracy_period", "period_start", "lag"),)

    snapshot_id: int = Field(sa_type=ID, primary_key=True, foreign_key="forecast_snapshots.id")
    sku: str = Field(primary_key=True, max_length=100)
    period_start: dt.date = Field(primary_key=True)
    segment: str = Field(primary_key=True, max_length=100)  # "*" for the SKU total
    family: str | None = Field(default=None, max_length=100)
    lag: int
    forecast: float
    actual: float
    scale: float | None = None
    computed_at: dt.datetime = Field(sa_type=TS)


class ForecastChampion(SQLModel, table=True):
    """Which model is live per SKU, the best challenger, and why."""

    __tablename__ = "forecast_champions"

    sku: str = Field(primary_key=True, max_length=100)
    model: str = Field(max_length=300)
    backtest_mase: float | None = None
    challenger: str | None = Field(default=None, max_length=300)
    challenger_mase: float | None = None
    reason: str
    snapshot_id: int = Field(sa_type=ID, foreign_key="forecast_snapshots.id")
    accuracy: float | None = None  # latest lag-1 accuracy over the factory's window
    below_threshold: bool = False
    updated_at: dt.datetime = Field(sa_type=TS)
    scores: str | None = None  # JSON: backtest MASE of every candidate, champion included
    sources: str | None = Field(default=None, max_length=200)  # "orders", "orders+pipeline"
    changed_at: dt.datetime | None = Field(default=None, sa_type=TS)  # live model since


FORECAST_TABLES = [
    ForecastSnapshot.__table__,  # type: ignore[attr-defined]
    ForecastSeries.__table__,  # type: ignore[attr-defined]
    ForecastValue.__table__,  # type: ignore[attr-defined]
    ForecastAccuracy.__table__,  # type: ignore[attr-defined]
    ForecastChampion.__table__,  # type: ignore[attr-defined]
]
