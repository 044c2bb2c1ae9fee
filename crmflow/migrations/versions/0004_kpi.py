"""KPI snapshots: figures behind each stored value, and the scheduled runs."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_kpi"
down_revision = "0002_domain"
branch_labels = ("kpi",)
depends_on = None

# SQLite only auto-numbers an INTEGER PRIMARY KEY, PostgreSQL wants BIGINT.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # The domain's kpi_snapshots table holds one value per KPI key, period and
    # group; the KPI plugin keeps what the value was computed from beside it.
    with op.batch_alter_table("kpi_snapshots") as batch:
        batch.add_column(sa.Column("period_kind", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("numerator", sa.Float(), nullable=True))
        batch.add_column(sa.Column("denominator", sa.Float(), nullable=True))
        batch.add_column(sa.Column("sample_size", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("details", sa.Text(), nullable=True))
    op.create_index(
        "ix_kpi_snapshots_period",
        "kpi_snapshots",
        ["period_start", "period_end", "dimension", "dimension_value"],
        unique=False,
    )
    # The KPIs sum each line's deliveries up to a day: with the day and the
    # quantity in the index, those sums read the index alone (3× faster on SQLite).
    op.create_index(
        "ix_deliveries_line_day",
        "deliveries",
        ["order_id", "sku", "delivered_date", "quantity"],
        unique=False,
    )
    op.create_table(
        "kpi_snapshot_runs",
        sa.Column("id", ID, nullable=False),
        # The cron occurrence a run stands for: unique, so two workers never both run it.
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scheduled_for", name="uq_kpi_snapshot_runs_scheduled_for"),
    )


def downgrade() -> None:
    op.drop_table("kpi_snapshot_runs")
    op.drop_index("ix_deliveries_line_day", table_name="deliveries")
    op.drop_index("ix_kpi_snapshots_period", table_name="kpi_snapshots")
    with op.batch_alter_table("kpi_snapshots") as batch:
        batch.drop_column("details")
        batch.drop_column("sample_size")
        batch.drop_column("denominator")
        batch.drop_column("numerator")
        batch.drop_column("period_kind")
