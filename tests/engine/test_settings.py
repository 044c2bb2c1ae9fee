"""Plugin setting defaults reach guards as `factory.*`; a factory config overrides them."""

from __future__ import annotations

import pytest

from crmflow import Engine
from crmflow.core.factory import FactoryConfig


@pytest.mark.parametrize(
    ("settings", "amount", "expected"),
    [
        ({}, 1_000, "confirmed"),  # the sop plugin's default limit is 50,000
        ({}, 90_000, "awaiting_approval"),
        ({"large_order_amount": 500}, 1_000, "awaiting_approval"),
    ],
)
def test_shipped_guard_uses_defaults_until_the_factory_overrides_them(
    tmp_path, clock, settings, amount, expected
):
    factory = FactoryConfig(settings=settings)
    engine = Engine.open(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        factory=factory,
        clock=clock,
        load_entry_points=False,
    )
    try:
        iid = engine.start(
            "order_lifecycle",
            data={
                "order": {
                    "order_id": "SO-1",
                    "amount": amount,
                    "exposure": 0,
                }
            },
        )
        assert engine.fire(iid, "submit", actor="sales").state == expected
        assert engine.settings["credit_limit"] == 100000.0
    finally:
        engine.close()
