"""The workflow language's additions: votes of approval states, a delegation's reason."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0110_language"
down_revision = "0001_engine"
branch_labels = ("language",)
# the delegations table comes from the domain migration, on another branch
depends_on = ("0002_domain",)

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "votes",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "instance_id", ID, sa.ForeignKey("instances.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("history_id", ID, nullable=False),
        sa.Column("state", sa.String(100), nullable=False),
        sa.Column("voter", sa.String(200), nullable=False),
        sa.Column("for_person", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
    )
    op.create_index("ix_votes_instance", "votes", ["instance_id", "id"])
    # Delegations exist since 0002 (domain); `crmflow delegate --reason` keeps why.
    op.add_column("delegations", sa.Column("reason", sa.Text(), nullable=True))

def downgrade() -> None:
    op.drop_column("delegations", "reason")
    op.drop_table("votes")
