"""An instance row as a batch holds it, and what the write step reads beside it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from . import repository as repo
from .approval import Delegation, Vote
from .regions import entry_names, load_regions, regions_json
from .routing import Memo, timed
from .sqlstatements import Statements

__all__ = ["HeldInstance", "aware", "day", "delegations_of", "since_bases", "votes_of"]


class HeldInstance:
    """An instance row as a batch holds it between its read and its write.

    ``text`` is the stored JSON while the data is unchanged: the data is parsed
    only when something reads it, and written back as it was read otherwise.
    """

    __slots__ = (
        "id", "state", "text", "_data", "rev", "finished", "entered_at", "db_rev",
        "timers_in_db", "dirty", "final", "pending_timers", "memo", "started_by", "created_at",
        "regions",
        "parent_id",
    )  # fmt: skip

    def __init__(self, row: Any, memo: Memo) -> None:
        self.memo = memo
        self.id = int(row[0])
        self.state = row[3]
        stored = row[4]
        self.text: str | None = stored if isinstance(stored, str) else None
        self._data: dict[str, Any] | None = None if self.text is not None else stored
        self.rev = self.db_rev = int(row[5])
        self.finished = bool(row[6])
        self.entered_at = row[7]
        self.started_by: str | None = row[8]
        self.created_at = row[9]
        #: the regions of a parallel state (short names); None outside one
        self.regions: dict[str, str] | None = None if row[10] is None else load_regions(row[10])
        self.timers_in_db = (timed(memo, self.state) or self.regions is not None) and (
            not self.finished
        )
        self.parent_id: int | None = None if row[11] is None else int(row[11])
        self.dirty = self.final = False
        self.pending_timers: list[tuple[Any, ...]] = []

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = json.loads(self.text)  # type: ignore[arg-type]
        return self._data

    def set_data(self, data: dict[str, Any]) -> None:
        self._data, self.text = data, None

    def dumped(self) -> str:
        return self.text if self.text is not None else repo.dumps(self._data)

    def dumped_regions(self) -> str | None:
        return None if self.regions is None else regions_json(self.regions)


def aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return repo.utc(value)


def day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def votes_of(
    cur: Any, st: Statements, inst: HeldInstance, pending: Iterable[tuple[Any, ...]],
    now: datetime,
) -> list[Vote]:  # fmt: skip
    """The votes cast since the instance entered its state (stored, then this batch's)."""
    cur.execute(st.select_votes, (inst.id, inst.state, inst.entered_at))
    stored = [Vote(r[0], r[1], r[2], aware(r[3]), r[4], r[5]) for r in cur.fetchall()]
    return stored + [
        Vote(v[3], v[4], v[5], now, v[7], v[2])
        for v in pending if v[0] == inst.id and v[2] == inst.state
    ]  # fmt: skip


def delegations_of(cur: Any, st: Statements, actor: str | None, today: date) -> list[Delegation]:
    """The delegations from or to ``actor`` that run on ``today`` (factory time zone)."""
    when: Any = today.isoformat() if st.sqlite else today
    cur.execute(st.select_delegations, (actor, actor, when, when))
    return [Delegation(r[0], r[1], day(r[2]), day(r[3]), r[4]) for r in cur.fetchall()]


def since_bases(
    cur: Any, st: Statements, inst: HeldInstance, state: str, targets: list[str],
    pending: Iterable[tuple[Any, ...]], now: datetime,
) -> dict[str, datetime] | None:  # fmt: skip
    """Where the `since:` timers of ``state`` count from: the start, or a first entry
    (a region's initial state is entered with its parallel state)."""
    wanted = {t.since for t in inst.memo.definition.timers_for(state) if t.since}
    if not wanted:
        return None
    found: dict[str, datetime] = {"start": aware(inst.created_at)}
    for name in wanted - {"start"}:
        names = entry_names(inst.memo.definition, name)
        firsts = []
        for entered in names:
            cur.execute(st.first_entry, (inst.id, entered))
            firsts.append(cur.fetchone()[0])
        stored = [aware(f) for f in firsts if f is not None]
        earlier = [aware(h[6]) for h in pending if h[1] == inst.id and h[4] in names]
        if stored:
            found[name] = min(stored)
        elif earlier:
            found[name] = earlier[0]
        elif any(entered in targets for entered in names):
            found[name] = now
    return found
