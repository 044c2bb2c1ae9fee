"""MES and SCM connectors: taken messages, quarantine, status, EDI files, advised purchases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0160_mes_scm"
down_revision = "0002_domain"
branch_labels = ("mes_scm",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # One row per message applied: its key (topic + payload hash + device stamp) makes
    # a redelivered message a no-op, in the transaction that writes its records.
    op.create_table(
        "connector_messages",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("applied_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_connector_messages_applied", "connector_messages",
                    ["connector", "applied_at"])  # fmt: skip
    op.create_table(
        "connector_quarantine",
        sa.Column("id", ID, nullable=False),
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retried_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        # a bad message redelivered (reconnect, broker restart) is quarantined once
        sa.UniqueConstraint("connector", "key", name="uq_connector_quarantine_key"),
    )
    op.create_index(
        "ix_connector_quarantine_status", "connector_quarantine", ["status", "connector"]
    )
    op.create_table(
        "connector_state",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("last_success", TS, nullable=True),
        sa.Column("last_message", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # EDI: one row per interchange applied (sender + control reference) or sent.
    op.create_table(
        "edi_interchanges",
        sa.Column("id", ID, nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("standard", sa.String(length=10), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("control", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=20), nullable=False),
        sa.Column("file", sa.String(length=500), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("direction", "sender", "control", name="uq_edi_interchange"),
    )
    op.create_table(
        "edi_orders",
        sa.Column("request_id", ID, nullable=False),
        sa.Column("po_id", sa.String(length=100), nullable=False),
        sa.Column("partner", sa.String(length=200), nullable=False),
        sa.Column("control", sa.String(length=40), nullable=False),
        sa.Column("file", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("request_id"),
    )
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("advised_quantity", sa.Float(), nullable=True))
        batch.add_column(sa.Column("advised_date", sa.Date(), nullable=True))
    with op.batch_alter_table("products") as batch:  # architecture.md: products.supplier
        batch.add_column(sa.Column("supplier", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("supplier")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("advised_date")
        batch.drop_column("advised_quantity")
    op.drop_table("edi_orders")
    op.drop_table("edi_interchanges")
    op.drop_table("connector_state")
    op.drop_index("ix_connector_quarantine_status", table_name="connector_quarantine")
    op.drop_table("connector_quarantine")
    op.drop_index("ix_connector_messages_applied", table_name="connector_messages")
    op.drop_table("connector_messages")
