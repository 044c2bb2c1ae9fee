"""Votes in an `approval:` state: who may vote, for whom, and when the decision is made."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from crmflow.errors import ExpressionError

from .definition import ApprovalDef
from .expressions import Expression, MissingField

__all__ = ["Ballot", "Delegation", "Vote", "cast_vote", "required_votes"]


@dataclass(frozen=True)
class Vote:
    """One counted vote: ``by`` cast it, for ``for_person`` (the voter unless delegated)."""

    by: str
    for_person: str
    decision: str  # approve | reject
    at: datetime
    comment: str | None = None
    state: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "for": self.for_person,
            "decision": self.decision,
            "at": self.at.isoformat(),
            "comment": self.comment,
            "state": self.state,
        }


@dataclass(frozen=True)
class Delegation:
    """``from_person`` hands their votes to ``to_person`` from ``start`` to ``end`` (both in)."""

    from_person: str
    to_person: str
    start: date
    end: date
    reason: str | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Ballot:
    """The outcome of casting a vote: the vote to record, or why it was refused."""

    vote: Vote | None
    refusal: str | None
    decided: str | None = None  # the state to enter, when this vote decides


def required_votes(
    approval: ApprovalDef, context: Mapping[str, Any], is_person: Callable[[str], bool]
) -> int:
    """How many approvals ``approval`` needs in ``context`` (at least one)."""
    required = approval.required
    if isinstance(required, Expression):
        try:
            value = required(context)
        except MissingField as missing:
            raise ExpressionError(
                f"approval required {required.source!r} reads missing field {missing.field!r}"
            ) from missing
        try:
            return max(1, int(value))
        except (TypeError, ValueError) as exc:
            raise ExpressionError(
                f"approval required {required.source!r} gave {value!r}, not a number"
            ) from exc
    if required == "all":
        return max(1, len([a for a in approval.approvers if is_person(a)]))
    return max(1, int(required))


def _qualifies(approval: ApprovalDef, person: str, roles: frozenset[str]) -> bool:
    return person in approval.approvers or not roles.isdisjoint(approval.approvers)


def cast_vote(
    approval: ApprovalDef, state: str, decision: str, actor: str | None, *,
    roles_of: Callable[[str | None], frozenset[str]], votes: Iterable[Vote],
    delegations: Iterable[Delegation], started_by: str | None, required: int,
    now: datetime, today: date, comment: str | None = None, everyone: Iterable[str] = (),
) -> Ballot:  # fmt: skip
    """Decide one vote by ``actor``; pure: the caller records the vote it returns.

    ``everyone`` (``required: all``): the people listed by name, each of whom must approve.
    """
    if actor is None or actor == "system":
        who = "an actor with no name" if actor is None else "system"
        return Ballot(None, f"approval: {who} cannot vote in {state!r}; fire with --as PERSON")
    counted = list(votes)
    voted = {v.for_person for v in counted}
    active = [d for d in delegations if d.covers(today)]
    four_eyes = approval.four_eyes and started_by is not None
    for_person: str | None = None
    reasons: list[str] = []
    for d in sorted((d for d in active if d.to_person == actor), key=lambda d: d.from_person):
        source = d.from_person
        if not _qualifies(approval, source, roles_of(source)):
            continue
        if four_eyes and actor == started_by:
            reasons.append(
                f"approval: four eyes: {actor!r} started this instance and may not vote, "
                f"not even for {source!r}"
            )
            continue
        if four_eyes and source == started_by:
            reasons.append(
                f"approval: {source!r} started this instance, so under four eyes neither "
                f"{source!r} nor their delegate {actor!r} may vote"
            )
            continue
        if source in voted:
            reasons.append(f"approval: the vote of {source!r} was already cast in {state!r}")
            continue
        for_person = source
        break
    if for_person is None:
        handed = [d for d in active if d.from_person == actor]
        if handed:
            d = handed[0]
            return Ballot(
                None,
                f"approval: {actor!r} has delegated approvals to {d.to_person!r} until "
                f"{d.end.isoformat()}; only {d.to_person!r} votes for {actor!r}",
            )
        if not _qualifies(approval, actor, roles_of(actor)):
            if reasons:
                return Ballot(None, reasons[0])
            return Ballot(
                None,
                f"approval: {actor!r} is not an approver in {state!r} "
                f"(approvers: {', '.join(approval.approvers)})",
            )
        if four_eyes and actor == started_by:
            return Ballot(
                None, f"approval: four eyes: {actor!r} started this instance and may not vote"
            )
        if actor in voted:
            return Ballot(None, f"approval: {actor!r} already voted in {state!r}")
        for_person = actor
    vote = Vote(actor, for_person, decision, now, comment, state)
    if decision == "reject":
        return Ballot(vote, None, approval.on_rejected)
    approved = {v.for_person for v in counted if v.decision == "approve"} | {for_person}
    done = len(approved) >= required and approved.issuperset(everyone)
    return Ballot(vote, None, approval.on_approved if done else None)
