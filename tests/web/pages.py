"""Small page helpers for web tests: sign in through the real form, read CSRF tokens."""

from __future__ import annotations

import re
from typing import Any

from crmflow.core.people.accounts import add_user

__all__ = ["PASSWORD", "csrf_of", "sign_in", "token_for"]

PASSWORD = "correct horse battery"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client: Any, engine: Any, username: str, roles: tuple[str, ...] = ()) -> str:
    """Create the login (if needed) and sign in with the login form; return a CSRF token."""
    add_user(engine, username, PASSWORD, roles=list(roles))
    token = csrf_of(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"username": username, "password": PASSWORD,
                                         "csrf_token": token})  # fmt: skip
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return csrf_of(client.get("/").get_data(as_text=True))


def token_for(engine: Any, username: str, roles: tuple[str, ...] = ()) -> dict[str, str]:
    from crmflow.core.people.accounts import create_token

    add_user(engine, username, PASSWORD, roles=list(roles))
    return {"Authorization": f"Bearer {create_token(engine, username)[1]}"}
