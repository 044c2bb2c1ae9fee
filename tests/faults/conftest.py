"""Fault tests reuse the domain tests' engine and small factory."""

from __future__ import annotations

from tests.domain.conftest import clock, eng, factory_data  # noqa: F401
