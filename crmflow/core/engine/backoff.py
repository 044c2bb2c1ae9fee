"""Exponential backoff with full jitter, shared by the outbox and the inbox."""

from __future__ import annotations

import random
from datetime import timedelta

__all__ = ["backoff"]

_BASE = 2.0
_CAP = timedelta(hours=1)


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter: 2s, 4s, 8s … capped at an hour."""
    ceiling = min(_BASE * (2 ** max(attempts - 1, 0)), _CAP.total_seconds())
    return timedelta(seconds=(rng or random).uniform(ceiling / 2, ceiling))
