"""Approval chains by amount: one, two or N of M approvers; delegation; no self-approval."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from crmflow.core.sqlrows import inserted_id
from crmflow.errors import InputError, RefusedError

from ._parse import as_date, as_enum, as_text
from .records import Approval, Delegation

__all__ = ["add_delegation", "approval_status", "record_approval", "required_approvals"]

_approvals = Approval.__table__  # type: ignore[attr-defined]
_delegations = Delegation.__table__  # type: ignore[attr-defined]


def required_approvals(amount: float, limits: dict[str, Any]) -> tuple[int, list[str]]:
    """How many approvals an amount needs, and from whom (empty list: any approver).

    Under ``approval_single_limit`` one; under ``approval_dual_limit`` two;
    above, ``approval_quorum`` of ``approval_board`` (N of M).
    """
    approvers = [str(a) for a in limits.get("approvers") or []]
    if amount < float(limits["approval_single_limit"]):
        return 1, approvers
    if amount < float(limits["approval_dual_limit"]):
        return 2, approvers
    board = [str(a) for a in limits.get("approval_board") or []] or approvers
    quorum = int(limits.get("approval_quorum") or 2)
    if board and quorum > len(board):
        quorum = len(board)
    return quorum, board


def _away(conn: sa.Connection, person: str, today: dt.date) -> str | None:
    """The delegate of ``person`` if away on ``today``."""
    return conn.execute(
        sa.select(_delegations.c.delegate).where(
            _delegations.c.approver == person, _delegations.c.start_date <= today,
            _delegations.c.end_date >= today).order_by(_delegations.c.id.desc())
    ).scalar()  # fmt: skip


def _principals(conn: sa.Connection, delegate: str, today: dt.date) -> list[str]:
    """Approvers away on ``today`` who handed their approvals to ``delegate``."""
    return list(conn.execute(
        sa.select(_delegations.c.approver).where(
            _delegations.c.delegate == delegate, _delegations.c.start_date <= today,
            _delegations.c.end_date >= today).order_by(_delegations.c.id)
    ).scalars())  # fmt: skip


def approval_status(conn: sa.Connection, subject: str, required: int) -> dict[str, Any]:
    rows = [dict(r) for r in conn.execute(
        sa.select(_approvals).where(_approvals.c.subject == subject).order_by(_approvals.c.id)
    ).mappings()]  # fmt: skip
    approved = [r for r in rows if r["decision"] == "approved"]
    if any(r["decision"] == "rejected" for r in rows):
        status = "rejected"
    elif len(approved) >= required:
        status = "approved"
    else:
        status = "pending"
    return {
        "subject": subject, "required": required, "count": len(approved), "status": status,
        "approvers": [r["on_behalf_of"] or r["approver"] for r in approved],
        "decisions": [{"approver": r["approver"], "on_behalf_of": r["on_behalf_of"],
                       "decision": r["decision"]} for r in rows],
    }  # fmt: skip


def record_approval(
    conn: sa.Connection, subject: str, approver: str, decision: str, *, requested_by: str,
    amount: float, limits: dict[str, Any], now: dt.datetime, comment: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Record one decision on ``subject``; refuse self-approval and people without the right.

    A delegate acts on behalf of an away approver of the chain; the away
    approver cannot decide while the delegation runs. Returns the subject's
    status: ``pending`` (more approvals needed), ``approved`` or ``rejected``.
    """
    subject = as_text("subject", subject)
    approver = as_text("approver", approver)
    decision = as_enum("approved", "rejected")("decision", decision)
    if amount < 0:
        raise InputError("must not be negative", field="amount")
    today = now.date()
    required, pool = required_approvals(float(amount), limits)
    if approver == requested_by:
        raise RefusedError(
            f"{approver} requested {subject} and cannot approve it", reason="self_approval"
        )
    on_behalf = None
    if pool and approver not in pool:
        for principal in _principals(conn, approver, today):
            if principal in pool:
                on_behalf = principal
                break
        if on_behalf is None:
            raise RefusedError(
                f"{approver} is not an approver of {subject} (approvers: {', '.join(pool)})",
                reason="not_an_approver",
            )
        if on_behalf == requested_by:
            raise RefusedError(
                f"{approver} acts for {on_behalf}, who requested {subject}", reason="self_approval"
            )
    elif (delegate := _away(conn, approver, today)) is not None:
        raise RefusedError(
            f"{approver} is away and delegated approvals to {delegate}", reason="delegated"
        )
    status = approval_status(conn, subject, required)
    if status["status"] != "pending":
        raise RefusedError(f"{subject} is already {status['status']}", reason="decided")
    who = on_behalf or approver
    if any(
        (d["on_behalf_of"] or d["approver"]) == who or d["approver"] == approver
        for d in status["decisions"]
    ):
        raise RefusedError(f"{who} already decided on {subject}", reason="duplicate")
    conn.execute(_approvals.insert().values(
        subject=subject, approver=approver, on_behalf_of=on_behalf, decision=decision,
        comment=comment, decided_at=now))  # fmt: skip
    return approval_status(conn, subject, required)


def add_delegation(
    conn: sa.Connection, approver: str, delegate: str, start: Any, end: Any, *, by: str,
    now: dt.datetime,
) -> dict[str, Any]:  # fmt: skip
    """Hand ``approver``'s approvals to ``delegate`` from ``start`` to ``end`` (inclusive)."""
    approver = as_text("approver", approver)
    delegate = as_text("delegate", delegate)
    if approver == delegate:
        raise InputError("must differ from the approver", field="delegate")
    first, last = as_date("start", start), as_date("end", end)
    if last < first:
        raise InputError("is before start", field="end")
    values = {
        "approver": approver,
        "delegate": delegate,
        "start_date": first,
        "end_date": last,
        "created_by": by,
        "created_at": now,
    }
    did = inserted_id(conn.execute(_delegations.insert().values(values)))
    return {**values, "id": did}
