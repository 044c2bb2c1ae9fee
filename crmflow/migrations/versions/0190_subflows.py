"""Sub-workflows: an instance started by a `call:` state keeps its parent's id."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0190_subflows"
down_revision = "0001_engine"
branch_labels = ("subflows",)
depends_on = None

# The same type as instances.id: BIGINT on PostgreSQL, INTEGER on SQLite.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("parent_id", ID, nullable=True))
    op.create_index("ix_instances_parent_id", "instances", ["parent_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_instances_parent_id", table_name="instances")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("parent_id")
