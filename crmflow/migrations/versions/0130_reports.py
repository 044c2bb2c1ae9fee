"""Review packs: the weekly S&OP review, rendered to HTML and PDF, stored and listable."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0130_reports"
down_revision = "0001_engine"
branch_labels = ("reports",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_packs",
        sa.Column("id", ID, nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),  # 2026-W48
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),  # JSON of every number in the pack
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("week", "language", name="uq_review_packs_week"),
    )


def downgrade() -> None:
    op.drop_table("review_packs")
