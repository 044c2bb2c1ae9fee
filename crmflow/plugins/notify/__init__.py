"""The built-in `notify` action: in-app inbox, mail and group robots, sent once from the outbox."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from crmflow.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from crmflow.core.engine import ActionContext

__all__ = [
    "notify", "register_actions", "register_admin_blueprints", "register_commands", "run_scheduled",
]

log = logging.getLogger("crmflow.notify")


def notify(
    ctx: ActionContext, to: Any = None, text: Any = None, template: str | None = None,
    params: dict[str, Any] | None = None, link: str | None = None, urgent: bool = False,
    channels: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """Notify people, roles or departments of a workflow step.

    Runs from the outbox after the step's commit: it writes the message and one
    delivery per person and channel under the step's key (so a worker that
    restarts never writes or sends it twice), then sends what may go out now;
    the rest (quiet hours, digests, retries) goes out from the workers.
    """
    from .sending import send_due  # the plugin's modules load when a step notifies
    from .service import announce, write_message

    engine = ctx.engine
    with engine.db.begin() as conn:
        written = write_message(
            engine, conn, key=f"notify:{ctx.idempotency_key}", to=to, text=text,
            template=template, params=params, link=link, urgent=urgent, channels=channels,
            instance_id=ctx.instance_id, workflow=ctx.workflow, now=ctx.now,
        )  # fmt: skip
    if written.created:
        announce(engine, written.message_id)
    if written.due_now:
        send_due(engine, ctx.now, message_id=written.message_id)
    return {"notified": written.persons, "message": written.message_id}


@hookimpl
def register_actions(register: Any) -> None:
    register(
        "notify", notify, outbox=True, max_attempts=3,
        description="Notify people, roles or departments: in-app, mail, WeCom/DingTalk/Feishu",
    )  # fmt: skip


@hookimpl
def register_admin_blueprints(register: Any) -> None:
    from crmflow.lazy import lazy

    # the bell in the app's header links to it; Flask loads when the web app mounts it
    register(lazy(f"{__name__}.web:bp", name="notifications"))


@hookimpl
def register_commands(cli: Any) -> None:
    from .cli import add_commands

    add_commands(cli)


@hookimpl
def run_scheduled(engine: Any, now: datetime) -> None:
    """Send deliveries that are due: retries, the end of quiet hours, digests."""
    from .sending import send_due

    send_due(engine, now)
