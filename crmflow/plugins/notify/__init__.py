"""The built-in `notify` action: a notification row for a person or role, and a log line."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from crmflow.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import ActionContext

__all__ = ["notify", "register_actions"]

log = logging.getLogger("crmflow.notify")


def notify(ctx: ActionContext, to: Any = None, text: Any = "", channel: str = "inbox") -> dict:
    """Write a notification in the firing transaction, so it exists iff the transition does.

    Mail or chat delivery is a separate outbox action a plugin can add; the
    inbox row is what the admin UI shows a person or a role.
    """
    if not to:
        raise ValueError("notify needs 'to': a user or role name")
    from crmflow.core.engine.repository import notifications

    recipients = [str(r) for r in to] if isinstance(to, list) else [str(to)]
    assert ctx.connection is not None  # registered without outbox: runs in the transaction
    ids = []
    for recipient in recipients:
        result = ctx.connection.execute(
            notifications.insert()
            .values(
                instance_id=ctx.instance_id,
                recipient=recipient,
                text=str(text),
                channel=channel,
                created_at=ctx.now,
            )
            .returning(notifications.c.id)
        )
        ids.append(int(result.scalar_one()))
        log.info("notify %s (instance %s): %s", recipient, ctx.instance_id, text)
    return {"notified": recipients, "ids": ids}


@hookimpl
def register_actions(register: Any) -> None:
    register("notify", notify, description="Notify a person or role (inbox row and log)")
