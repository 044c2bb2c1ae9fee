"""Mail over SMTP: STARTTLS and login when configured, a plain-text and an HTML part."""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from .base import ChannelConfigError, Permanent, Transient, env_value

__all__ = ["send_mail"]


def _tls(config: dict[str, Any]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.get("cafile") or None)
    return context


def _message(config: dict[str, Any], to: str, subject: str, text: str, html: str,
             language: str, message_id: str, now: datetime) -> EmailMessage:  # fmt: skip
    msg = EmailMessage()
    msg["From"] = str(config["sender"])
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    # after the parts: making the message multipart moves Content-* headers into a part
    msg["Content-Language"] = language
    return msg


def send_mail(
    config: dict[str, Any], to: str, subject: str, text: str, html: str, *,
    language: str, message_id: str, now: datetime,
) -> None:  # fmt: skip
    """Send one mail; raise :class:`Permanent` or :class:`Transient` when it fails."""
    if not config.get("host") or not config.get("sender"):
        raise ChannelConfigError("mail: notify.mail needs host and sender")
    use_ssl, starttls = bool(config.get("ssl")), bool(config.get("starttls"))
    login = config.get("login")
    password = env_value(config, "password_env", "mail") if login else None
    if login and not (use_ssl or starttls):
        raise ChannelConfigError(
            "mail: refusing to send the SMTP password unencrypted; set notify.mail.starttls: "
            "true (or ssl: true)"
        )
    port = int(config.get("port") or (465 if use_ssl else 587 if starttls else 25))
    timeout = float(config.get("timeout") or 20)
    msg = _message(config, to, subject, text, html, language, message_id, now)
    try:
        smtp: smtplib.SMTP
        if use_ssl:
            smtp = smtplib.SMTP_SSL(str(config["host"]), port, timeout=timeout,
                                    context=_tls(config))  # fmt: skip
        else:
            smtp = smtplib.SMTP(str(config["host"]), port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if starttls:
                smtp.starttls(context=_tls(config))
                smtp.ehlo()
            if login:
                smtp.login(str(login), str(password))
            smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise Permanent(f"mail: the server refused the login: {exc.smtp_code} "
                        f"{_text(exc.smtp_error)}") from exc  # fmt: skip
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        _raise(code, f"mail: {to} refused: {code} {_text(reply)}", exc)
    except smtplib.SMTPResponseException as exc:
        _raise(exc.smtp_code, f"mail: the server answered {exc.smtp_code} "
                              f"{_text(exc.smtp_error)}", exc)  # fmt: skip
    except smtplib.SMTPNotSupportedError as exc:
        raise Permanent(f"mail: {exc} (check notify.mail.starttls and login)") from exc
    except ssl.SSLCertVerificationError as exc:
        raise Permanent(f"mail: the server's certificate is not trusted: "
                        f"{exc.verify_message} (notify.mail.cafile names a private CA)"
                        ) from exc  # fmt: skip
    except OSError as exc:  # refused, reset, timed out, disconnected: try again later
        raise Transient(f"mail: {config['host']}:{port}: {exc}") from exc


def _text(reply: Any) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _raise(code: int, message: str, exc: Exception) -> None:
    """4xx replies are temporary (greylisting, a full queue); 5xx are final."""
    if 400 <= code < 500:
        raise Transient(message) from exc
    raise Permanent(message) from exc
