"""How a channel says a send failed: for good, or worth another try."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["ChannelConfigError", "Permanent", "Transient", "env_value"]


class Permanent(Exception):
    """A refusal that retrying cannot cure: a bad signature, an unknown hook, a bad address."""


class ChannelConfigError(Permanent):
    """The factory's `notify:` section lacks what the channel needs."""


class Transient(Exception):
    """A rate limit, a 5xx or a lost connection: try again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def env_value(config: dict[str, Any], key: str, channel: str, required: bool = True) -> str | None:
    """The secret behind ``config[key]`` (an environment variable's name)."""
    var = config.get(key)
    if not var:
        if required:
            raise ChannelConfigError(f"{channel}: notify.{channel}.{key} is not set in the factory")
        return None
    value = os.environ.get(str(var))
    if not value:
        raise ChannelConfigError(
            f"{channel}: the environment variable {var} (notify.{channel}.{key}) is not set"
        )
    return value
