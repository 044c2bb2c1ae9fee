"""Alembic migrations of crmflow's schema (applied with ``upgrade heads``)."""
