"""People who sign in: logins, API tokens and what each person may do (see docs/web.md)."""

__all__: list[str] = []
