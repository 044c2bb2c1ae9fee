"""The public notifications API for plugins: notify people, read a person's inbox."""

from __future__ import annotations

from crmflow.plugins.notify.sending import delivery_log, retry_failed, send_due
from crmflow.plugins.notify.service import (
    inbox,
    mark_all_read,
    mark_read,
    notify,
    preferences_of,
    set_preferences,
    unread_count,
    write_message,
)

__all__ = [
    "delivery_log",
    "inbox",
    "mark_all_read",
    "mark_read",
    "notify",
    "preferences_of",
    "retry_failed",
    "send_due",
    "set_preferences",
    "unread_count",
    "write_message",
]
