"""Parallel states: the regions an instance is in, as JSON (NULL outside a parallel state)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0180_regions"
down_revision = "0001_engine"
branch_labels = ("regions",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("regions", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("regions")
