"""What looks like a secret: by its name or by its value; masking it for display."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "MASK",
    "find_secrets",
    "is_secret_name",
    "looks_like_secret_value",
    "mask_secrets",
    "public_settings",
]

MASK = "***"

# Words that make a name a secret's, matched on the name split at _ - . and case changes.
_WORDS = {
    "password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "credential",
    "credentials", "apikey", "privatekey", "authorization", "bearer",
}  # fmt: skip
_PAIRS = {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"),
          ("client", "secret"), ("signing", "key"), ("encryption", "key")}  # fmt: skip
_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)
_BEARER = re.compile(r"^\s*(bearer|basic|token)\s+\S{8,}", re.I)
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
_KEY_SHAPES = (
    re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$"),  # AWS access key id
    re.compile(r"^(sk|pk|rk)_(live|test)_[A-Za-z0-9]{16,}$"),  # Stripe-style keys
    re.compile(r"^gh[pousr]_[A-Za-z0-9]{30,}$"),  # GitHub tokens
    re.compile(r"^xox[abpr]-[A-Za-z0-9-]{10,}$"),  # Slack tokens
)


def _words(name: str) -> list[str]:
    return [w for w in _SPLIT.split(_CAMEL.sub("_", name).lower()) if w]


def is_secret_name(name: Any) -> bool:
    """True for names like ``smtp_password``, ``db_pwd``, ``aws_access_key``, ``apiKey``.

    A name ending in ``_env`` names the environment variable holding the
    secret, not the secret, and is not one.
    """
    words = _words(str(name))
    if not words or words[-1] == "env":
        return False
    if any(w in _WORDS for w in words):
        return True
    return any(pair in _PAIRS for pair in zip(words, words[1:], strict=False))


def looks_like_secret_value(value: Any) -> bool:
    """True for URLs with ``user:password@``, bearer values, private keys, known key shapes."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(
        _URL_PASSWORD.match(text)
        or _BEARER.match(text)
        or _PEM.search(text)
        or any(shape.match(text) for shape in _KEY_SHAPES)
    )


def find_secrets(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(path, why) of every secret-looking entry in nested mappings and lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = (*at, key)
            if is_secret_name(key) and item not in (None, "", {}, []):
                yield path, "name"
            else:
                yield from find_secrets(item, path)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from find_secrets(item, (*at, index))
    elif looks_like_secret_value(value):
        yield at, "value"


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` with secret-named fields and secret-looking values masked."""
    if isinstance(value, dict):
        return {
            k: (MASK if is_secret_name(k) and v not in (None, "") else mask_secrets(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    if looks_like_secret_value(value):
        return MASK
    return value


def public_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` without the secret-looking entries: what expressions may read."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if is_secret_name(key) or looks_like_secret_value(value):
            continue
        out[key] = public_settings(value) if isinstance(value, dict) else value
    return out
