"""`crmflow user add/list/disable` and `crmflow token create/revoke`: logins in the database."""

from __future__ import annotations

import json
import sys

import click

from crmflow.cli_helpers import open_engine
from crmflow.errors import InputError

__all__ = ["register"]


def _roles(value: str | None) -> list[str]:
    return [r.strip() for r in (value or "").split(",") if r.strip()]


def register(cli: click.Group) -> None:
    """Add the `user` and `token` groups to the root group."""

    @cli.group()
    def user() -> None:
        """Logins of the web app and the API (password hashes in the database)."""

    @user.command("add")
    @click.argument("username")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    @click.option("--roles", metavar="R1,R2", help="Roles added to the factory's.")
    @click.option("--department", metavar="D", help="A department of the factory config.")
    @click.pass_context
    def user_add(ctx: click.Context, username: str, password_stdin: bool, roles: str | None,
                 department: str | None) -> None:  # fmt: skip
        """Create or update a login."""
        from crmflow.core.people.accounts import add_user

        password = None
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            if not password:
                raise InputError("no password on standard input", field="--password-stdin")
        account = add_user(open_engine(ctx), username, password, roles=_roles(roles),
                           department=department)  # fmt: skip
        click.echo(f"login {account.username}: roles {', '.join(account.roles) or '-'}"
                   + ("" if account.has_password else " (no password yet: cannot sign in)"))

    @user.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def user_list(ctx: click.Context, as_json: bool) -> None:
        """List the logins."""
        from crmflow.core.people.accounts import list_users
        from crmflow.core.people.authz import person_for

        engine = open_engine(ctx)
        rows = []
        for account in list_users(engine):
            person = person_for(engine, account)
            rows.append({**account.as_json(), "roles": sorted(person.roles),
                         "departments": list(person.departments)})  # fmt: skip
        if as_json:
            click.echo(json.dumps(rows))
            return
        for row in rows:
            state = "active" if row["active"] else "disabled"
            click.echo(f"{row['username']:<20} {state:<9} {', '.join(row['roles'])}")

    @user.command("disable")
    @click.argument("username")
    @click.pass_context
    def user_disable(ctx: click.Context, username: str) -> None:
        """Disable a login: no sign-in, its sessions and tokens stop working."""
        from crmflow.core.people.accounts import disable_user

        disable_user(open_engine(ctx), username)
        click.echo(f"login {username} disabled")

    @cli.command("change")
    @click.argument("order_id")
    @click.argument("sku")
    @click.argument("field", type=click.Choice(["quantity", "requested_date", "promised_date"]))
    @click.argument("new")
    @click.option("--reason", required=True, help="Why (a reason code such as customer_request).")
    @click.option("--as", "actor", required=True, metavar="USER",
                  help="Who records it (a login, a factory user or a role).")
    @click.option("--preview", is_flag=True, help="Print the impact only; record nothing.")
    @click.pass_context
    def change(ctx: click.Context, order_id: str, sku: str, field: str, new: str, reason: str,
               actor: str, preview: bool) -> None:  # fmt: skip
        """Record a demand change of an order line (JSON: change id, state, impact)."""
        from crmflow.core.people.authz import person_named
        from crmflow.core.people.worklist import preview_change, record_change

        engine = open_engine(ctx)
        person = person_named(engine, actor)
        if preview:
            result = preview_change(engine, person, order_id, sku, field, new)
        else:
            result = record_change(engine, person, order_id, sku, field, new, reason)
        click.echo(json.dumps(result, default=str))

    @cli.group()
    def token() -> None:
        """API tokens (stored hashed; shown once)."""

    @token.command("create")
    @click.argument("username")
    @click.option("--name", "label", metavar="LABEL", help="What the token is for.")
    @click.pass_context
    def token_create(ctx: click.Context, username: str, label: str | None) -> None:
        """Create a token; it is printed alone on the last line, and never again."""
        from crmflow.core.people.accounts import create_token

        tid, secret = create_token(open_engine(ctx), username, label)
        click.echo(f"token {tid} for {username} (revoke with `crmflow token revoke {tid}`):")
        click.echo(secret)

    @token.command("revoke")
    @click.argument("token_id", type=click.IntRange(min=1, max=2**63 - 1))
    @click.pass_context
    def token_revoke(ctx: click.Context, token_id: int) -> None:
        """Revoke a token by its id."""
        from crmflow.core.people.accounts import revoke_token

        revoke_token(open_engine(ctx), token_id)
        click.echo(f"token {token_id} revoked")
