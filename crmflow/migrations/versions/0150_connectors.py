"""Connector health (status, failures), per-model sync cursors and ERP push bookkeeping."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0150_connectors"
down_revision = "0002_domain"
branch_labels = ("erp",)
# ERP events are queued in the worker's inbox table.
depends_on = ("0005_worker",)

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connector_status",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("last_attempt", _TS, nullable=True),
        sa.Column("last_success", _TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_error_at", _TS, nullable=True),
        sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
        sa.Column("records", sa.Text, nullable=False, server_default="{}"),
        sa.Column("lag_seconds", sa.Float, nullable=True),
    )
    op.create_table(
        "connector_failures",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("connector", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),  # push | message
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),  # failed | retried | resolved
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("connector", "key", name="uq_connector_failures_key"),
    )
    op.create_index(
        "ix_connector_failures_status", "connector_failures", ["connector", "status"]
    )
    op.create_table(
        "connector_cursors",
        sa.Column("connector", sa.String(100), primary_key=True),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("stamp", sa.String(40), nullable=False),  # the ERP's write_date / modified
        sa.Column("record_id", sa.String(140), nullable=False),  # tie-breaker within a stamp
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "erp_pushes",
        sa.Column("subject", sa.String(100), primary_key=True),  # purchase_request:7
        sa.Column("status", sa.String(20), nullable=False),  # done | failed
        sa.Column("remote_model", sa.String(100), nullable=True),
        sa.Column("remote_id", sa.String(140), nullable=True),
        sa.Column("remote_name", sa.String(140), nullable=True),
        sa.Column("pushed_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erp_pushes")
    op.drop_table("connector_cursors")
    op.drop_index("ix_connector_failures_status", table_name="connector_failures")
    op.drop_table("connector_failures")
    op.drop_table("connector_status")
