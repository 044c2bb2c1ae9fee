"""The CRM and S&OP records and their services (see docs/domain.md)."""

__all__: list[str] = []
