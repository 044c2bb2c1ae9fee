"""What the ``register_commands`` hook hands plugins: the type of crmflow's CLI helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CliHelpers"]


@dataclass(frozen=True)
class CliHelpers:
    """The public CLI surface for plugins (see docs/hooks.md, ``register_commands``).

    ``open_engine(ctx)`` is the invocation's Engine, opened once from the
    global ``--db/--workflows/--factory`` options; ``common_options(cmd)``
    gives a command those options; ``parse_json(text, option)`` and
    ``parse_now(text, tz)`` read ``--data`` and ``--now`` values with located
    errors; ``format_table(headers, rows)`` prints an aligned table.
    """

    open_engine: Callable[..., Any]
    common_options: Callable[[Any], Any]
    parse_json: Callable[..., dict[str, Any] | None]
    parse_now: Callable[..., Any]
    format_table: Callable[..., str]
