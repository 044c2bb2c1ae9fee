"""Demand signals (opportunities, market indicators, feedback), scan claims, champion details."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0090_sop_signals"
down_revision = "0003_forecast"
branch_labels = ("sop_signals",)
# the signal tables name customers, from the domain migration on another branch
depends_on = ("0002_domain",)

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "opportunities",
        sa.Column("opportunity_id", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=True),
        sa.Column("family", sa.String(length=100), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("stage", sa.String(length=50), nullable=False),
        sa.Column("updated_at", TS, nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"]),
        sa.PrimaryKeyConstraint("opportunity_id"),
    )
    op.create_index("ix_opportunities_expected", "opportunities", ["expected_date"])
    op.create_table(
        "market_indicators",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", TS, nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("date", "name"),
    )
    op.create_table(
        "customer_feedback",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("signal", sa.String(length=10), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("updated_at", TS, nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.customer_id"]),
        sa.PrimaryKeyConstraint("date", "customer_id", "sku", "family"),
    )
    op.create_table(
        "sop_scans",
        sa.Column("job", sa.String(length=50), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("claimed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("job", "period"),
    )
    with op.batch_alter_table("forecast_champions") as batch:
        # every candidate's backtest MASE (JSON), the sources the champion uses, and
        # when the live model last changed
        batch.add_column(sa.Column("scores", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sources", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("changed_at", TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forecast_champions") as batch:
        batch.drop_column("changed_at")
        batch.drop_column("sources")
        batch.drop_column("scores")
    op.drop_table("sop_scans")
    op.drop_table("customer_feedback")
    op.drop_table("market_indicators")
    op.drop_index("ix_opportunities_expected", table_name="opportunities")
    op.drop_table("opportunities")
