"""The few user-facing exceptions; each message says what to fix."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConcurrencyError",
    "ConfigError",
    "ConnectorError",
    "CrmflowError",
    "ExpressionError",
    "InputError",
    "NotFoundError",
    "PluginError",
    "Problem",
    "RefusedError",
    "ValidationError",
]


class CrmflowError(Exception):
    """Base of every error crmflow shows to a user."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One finding of validation, located in a file."""

    file: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class ValidationError(CrmflowError):
    """A workflow or factory file is invalid; ``problems`` lists every finding."""

    exit_code = 1

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "invalid")


class ConfigError(CrmflowError):
    """The factory configuration or environment is wrong."""


class ConnectorError(CrmflowError):
    """An outside system (ERP, MES, SCM) refused or could not be reached.

    ``reason`` is ``credentials`` (401/403: fix the configuration, no retry),
    ``unavailable`` (timeouts, 429, 5xx after the retries) or ``remote`` (the
    system's own error, its message kept in ``str(exc)``).
    """

    def __init__(self, message: str, *, reason: str = "remote", status: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.status = status


class PluginError(CrmflowError):
    """A plugin is broken: duplicate names, unknown hooks, failing import."""


class NotFoundError(CrmflowError):
    """A workflow, instance, record or plugin does not exist."""

    exit_code = 4


class RefusedError(CrmflowError):
    """A trigger or command was refused; nothing changed."""

    exit_code = 3

    def __init__(self, message: str, *, reason: str = "refused") -> None:
        self.reason = reason
        super().__init__(message)


class ConcurrencyError(CrmflowError):
    """Another process changed the same instance first; retry the command."""

    exit_code = 5


class ExpressionError(CrmflowError):
    """A guard or template cannot be evaluated (bad syntax or unsafe access)."""


class InputError(CrmflowError):
    """Bad user input, located by file and line or by field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        elif line is not None:
            where = f"line {line}: "
        if field is not None:
            where += f"{field}: "
        super().__init__(where + message)
        self.message = message
