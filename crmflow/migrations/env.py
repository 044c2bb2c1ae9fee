"""Alembic environment: runs migrations on the engine crmflow hands over."""

from __future__ import annotations

from alembic import context

db = context.config.attributes["db"]

with db.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
