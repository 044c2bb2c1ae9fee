"""The timers: of a workflow file checked: cron, after or every, trigger, in, calendar."""

from __future__ import annotations

from typing import Any

from .definition import TimerDef, TransitionDef
from .durations import is_valid_cron
from .language import timer_extras
from .shapecheck import Checker, Path
from .statecheck import CALENDARS

__all__ = ["TIMER_KEYS", "check_timers"]

TIMER_KEYS = ("cron", "after", "every", "max", "since", "calendar", "trigger", "in")


def check_timers(
    c: Checker, raw: Any, states_raw: dict[Any, Any], transitions: list[TransitionDef]
) -> list[TimerDef]:
    """The timers of ``raw``; each trigger must be accepted in every state it names."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        c.error("timers must be a list", ("timers",), at="value")
        return []
    result = []
    for i, item in enumerate(raw):
        path: Path = ("timers", i)
        if not isinstance(item, dict):
            c.error(
                "a timer must be a mapping with cron or after, trigger and in", path, at="value"
            )
            continue
        c.unknown_keys(item, TIMER_KEYS, path, "timer")
        cron, after, every = item.get("cron"), item.get("after"), item.get("every")
        if [cron, after, every].count(None) != 2:
            c.error("a timer needs exactly one of 'cron:', 'after:' or 'every:'", path, at="value")
            continue
        since, limit = timer_extras(c, item, path, states_raw)
        period = c.duration(every, (*path, "every")) if every is not None else None
        if cron is not None and not is_valid_cron(cron):
            c.error(
                f"cron expression {cron!r} is malformed (croniter syntax, e.g. '0 8 * * MON-FRI')",
                (*path, "cron"),
                at="value",
            )
        delay = c.duration(after, (*path, "after")) if after is not None else None
        trigger = item.get("trigger")
        if not isinstance(trigger, str):
            c.error("timer has no 'trigger:'", path, at="value")
            continue
        if "in" not in item:
            c.error("timer has no 'in:' list of states", path, at="value")
            continue
        in_states = c.state_names(item["in"], (*path, "in"), states_raw, "in")
        for state in in_states:
            if not any(t.trigger == trigger and state in t.sources for t in transitions):
                c.error(
                    f"timer trigger {trigger!r} is not accepted in state {state!r}",
                    (*path, "trigger"),
                    at="value",
                )
        calendar = item.get("calendar")
        if calendar is not None and calendar not in CALENDARS:
            c.error(
                f"calendar must be one of {', '.join(CALENDARS)}", (*path, "calendar"), at="value"
            )
        result.append(
            TimerDef(
                i,
                trigger,
                tuple(in_states),
                cron if isinstance(cron, str) else None,
                delay,
                calendar if calendar in CALENDARS else None,
                since,
                period,
                limit,
            )
        )
    return result
