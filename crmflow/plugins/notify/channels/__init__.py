"""Outside channels of notifications: mail over SMTP and the WeCom, DingTalk and Feishu robots."""

from __future__ import annotations

from .base import ChannelConfigError, Permanent, Transient
from .mail import send_mail
from .robots import ROBOTS, post_robot, sign_dingtalk, sign_feishu

__all__ = [
    "ROBOTS",
    "ChannelConfigError",
    "Permanent",
    "Transient",
    "post_robot",
    "send_mail",
    "sign_dingtalk",
    "sign_feishu",
]
