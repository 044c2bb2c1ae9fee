"""Factory configuration: time zone, plugins, departments, calendar, settings."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crmflow.errors import ConfigError, Problem, ValidationError

from .engine.yamlmarks import YamlSyntaxError, load_with_marks
from .rollout import RolloutState, parse_rollout

__all__ = ["Calendar", "Department", "FactoryConfig", "find_factory", "load_factory"]

FACTORY_KEYS = (
    "factory", "title", "timezone", "workflows", "plugins", "departments", "calendar",
    "settings", "users", "secrets", "description", "notify", "connectors", "rollout",
)  # fmt: skip
DEPARTMENT_KEYS = ("id", "title", "members", "roles", "pilot_start", "description")
CALENDAR_KEYS = ("working_days", "hours", "holidays")
NOTIFY_CHANNELS = {
    "mail": ("host", "port", "sender", "login", "password_env", "starttls", "ssl", "cafile",
             "timeout"),
    "wecom": ("webhook_env", "timeout"),
    "dingtalk": ("webhook_env", "secret_env", "timeout"),
    "feishu": ("webhook_env", "secret_env", "timeout"),
}  # fmt: skip
NOTIFY_KEYS = (*NOTIFY_CHANNELS, "base_url", "language", "templates", "digest", "quiet_hours")
DAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
FACTORY_DIRS_ENV = "CRMFLOW_FACTORIES"


@dataclass(frozen=True)
class Department:
    id: str
    title: str
    members: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    pilot_start: date | None = None


@dataclass(frozen=True)
class Calendar:
    """Working time: days of the week, hours of the day, holidays."""

    working_days: frozenset[int] = frozenset(range(5))
    hours: tuple[tuple[time, time], ...] = ((time(8), time(17)),)
    holidays: frozenset[date] = frozenset()


@dataclass
class FactoryConfig:
    """One factory: the default one has no file, UTC and every plugin enabled."""

    name: str = "default"
    title: str = "crmflow"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    workflows: Path | None = None
    plugins: dict[str, Any] | None = None
    departments: list[Department] = field(default_factory=list)
    calendar: Calendar = field(default_factory=Calendar)
    settings: dict[str, Any] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    #: the `notify:` section: channels (mail, wecom, dingtalk, feishu) and defaults
    notify: dict[str, Any] = field(default_factory=dict)
    #: the raw `connectors:` section; each connector plugin validates its own part
    connectors: dict[str, Any] = field(default_factory=dict)
    #: `rollout:` as written: workflow or plugin name -> its RolloutState (absent = all)
    rollout: dict[str, RolloutState] = field(default_factory=dict)
    file: Path | None = None
    marks: Any = field(default=None, repr=False, compare=False)

    def locate(self, at: tuple[Any, ...], value: bool = False) -> tuple[str, int, int]:
        """File, line and column of a key (or its value) of this factory's YAML."""
        if self.marks is None:
            return (str(self.file or "<factory>"), 1, 1)
        mark = self.marks.value(at) if value else self.marks.key(at)
        return (str(self.file), mark.line, mark.column)

    def plugin_settings(self, name: str) -> dict[str, Any]:
        value = (self.plugins or {}).get(name)
        return dict(value) if isinstance(value, dict) else {}

    def secret(self, name: str) -> str | None:
        """The value of a secret, read from the environment variable the config names."""
        var = self.secrets.get(name)
        return os.environ.get(var) if var else None

    @property
    def people(self) -> frozenset[str]:
        """The persons of the factory: its users and its departments' members."""
        return frozenset(self.users) | {m for d in self.departments for m in d.members}

    def department_of(self, member: str | None) -> str | None:
        for dept in self.departments:
            if member is not None and member in dept.members:
                return dept.id
        return None


def find_factory(name_or_path: str) -> Path:
    """A factory file: a path, else `factories/NAME.yaml` here or in $CRMFLOW_FACTORIES."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    if candidate.is_dir() and (candidate / "factory.yaml").is_file():
        return candidate / "factory.yaml"
    folders = [Path("factories")]
    folders += [Path(p) for p in os.environ.get(FACTORY_DIRS_ENV, "").split(os.pathsep) if p]
    for folder in folders:
        for suffix in (".yaml", ".yml"):
            path = folder / f"{name_or_path}{suffix}"
            if path.is_file():
                return path
    raise ConfigError(
        f"factory {name_or_path!r} not found: give a YAML path or put factories/"
        f"{name_or_path}.yaml in the current folder (or a folder in ${FACTORY_DIRS_ENV})"
    )


def load_factory(path: Path, plugin_names: set[str] | None = None) -> FactoryConfig:
    """Read and validate a factory file; raise ValidationError with file:line problems."""
    text = path.read_text(encoding="utf-8")
    problems: list[Problem] = []
    try:
        doc, marks = load_with_marks(text)
    except YamlSyntaxError as exc:
        raise ValidationError(
            [Problem(str(path), exc.mark.line, exc.mark.column, str(exc))]
        ) from exc

    def error(message: str, at: tuple[Any, ...], value: bool = False) -> None:
        mark = marks.value(at) if value else marks.key(at)
        problems.append(Problem(str(path), mark.line, mark.column, message))

    if not isinstance(doc, dict):
        raise ValidationError([Problem(str(path), 1, 1, "a factory file must be a mapping")])
    for key in doc:
        if key not in FACTORY_KEYS:
            hint = difflib.get_close_matches(str(key), FACTORY_KEYS, n=1, cutoff=0.6)
            error(
                f"unknown factory key {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""),
                (key,),
            )
    config = FactoryConfig(name=str(doc.get("factory") or path.stem), file=path)
    config.title = str(doc.get("title") or config.name)
    tz = doc.get("timezone", "UTC")
    try:
        config.timezone = ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        error(
            f"unknown time zone {tz!r}; use an IANA name such as Europe/Berlin", ("timezone",), True
        )
    if doc.get("workflows"):
        config.workflows = (path.parent / str(doc["workflows"])).resolve()
    plugins = doc.get("plugins") or {}
    if isinstance(plugins, list):
        plugins = {str(p): {} for p in plugins}
    if not isinstance(plugins, dict):
        error("plugins must map plugin names to their settings", ("plugins",), True)
        plugins = {}
    for name, settings in plugins.items():
        if plugin_names is not None and name not in plugin_names:
            hint = difflib.get_close_matches(str(name), sorted(plugin_names), n=1, cutoff=0.6)
            error(
                f"plugin {name!r} is not installed"
                + (
                    f"; did you mean {hint[0]!r}?"
                    if hint
                    else f"; installed: {', '.join(sorted(plugin_names))}"
                ),
                ("plugins", name),
            )
        if settings is not None and not isinstance(settings, dict | bool):
            error("plugin settings must be a mapping, true or false", ("plugins", name), True)
        _check_secret_values(settings, ("plugins", name), error)
    config.plugins = {k: ({} if v is None or v is True else v) for k, v in plugins.items()}
    config.departments = _departments(doc.get("departments"), error)
    config.calendar = _calendar(doc.get("calendar"), error)
    config.rollout = parse_rollout(doc.get("rollout"), [d.id for d in config.departments], error)
    settings = doc.get("settings") or {}
    if not isinstance(settings, dict):
        error("settings must be a mapping of names to values", ("settings",), True)
        settings = {}
    _check_secret_values(settings, ("settings",), error)
    config.settings = settings
    users = doc.get("users") or {}
    _check_secret_values(users, ("users",), error)
    config.users = users if isinstance(users, dict) else {}
    secrets = doc.get("secrets") or {}
    if not isinstance(secrets, dict) or not all(
        isinstance(v, str) and v.isupper() for v in secrets.values()
    ):
        error(
            "secrets map a name to an ENVIRONMENT_VARIABLE name (the value never goes in YAML)",
            ("secrets",),
            True,
        )
        secrets = {}
    config.secrets = secrets
    config.notify = _notify(doc.get("notify"), error)
    connectors = doc.get("connectors") or {}
    if not isinstance(connectors, dict):
        error("connectors must map a connector name (erp, mes, scm) to its settings",
              ("connectors",), True)  # fmt: skip
        connectors = {}
    _check_secret_values(connectors, ("connectors",), error)
    config.connectors, config.marks = connectors, marks
    if problems:
        raise ValidationError(problems)
    return config


def _check_secret_values(settings: Any, at: tuple[Any, ...], error: Any) -> None:
    """Secrets never go in the YAML: by name (``smtp_password``) or by value (``user:pw@``)."""
    from .secrets import find_secrets

    for path, why in find_secrets(settings, at):
        key = path[-1]
        if why == "name":
            error(
                f"{key!r} looks like a secret; store it in an environment variable and "
                f"write '{key}_env: VARIABLE_NAME' instead",
                path,
            )
        else:
            error(
                "this value looks like a secret (a password in a URL, a bearer token, a "
                "private or access key); store it in an environment variable and name "
                "the variable here instead",
                path,
                True,
            )


def _notify(raw: Any, error: Any) -> dict[str, Any]:
    """The `notify:` section: known channels and keys; secrets only as `*_env` names."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        error("notify must be a mapping of channels (mail, wecom, dingtalk, feishu)",
              ("notify",), True)  # fmt: skip
        return {}
    for key, value in raw.items():
        if key not in NOTIFY_KEYS:
            hint = difflib.get_close_matches(str(key), NOTIFY_KEYS, n=1, cutoff=0.6)
            error(f"unknown notify key {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else
                  f"; allowed: {', '.join(NOTIFY_KEYS)}"), ("notify", key))  # fmt: skip
        elif key in NOTIFY_CHANNELS:
            if not isinstance(value, dict):
                error(f"notify.{key} must be a mapping", ("notify", key), True)
                continue
            for sub in value:
                if sub not in NOTIFY_CHANNELS[key]:
                    error(f"unknown notify.{key} key {sub!r}; allowed: "
                          f"{', '.join(NOTIFY_CHANNELS[key])}", ("notify", key, sub))  # fmt: skip
                elif str(sub).endswith("_env") and not str(value[sub]).isupper():
                    error(f"notify.{key}.{sub} names an ENVIRONMENT_VARIABLE (the value never "
                          "goes in YAML)", ("notify", key, sub), True)  # fmt: skip
    _check_secret_values(raw, ("notify",), error)
    return dict(raw)


def _departments(raw: Any, error: Any) -> list[Department]:
    if raw is None:
        return []
    items = [{"id": k, **(v or {})} for k, v in raw.items()] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        error("departments must be a list or a mapping", ("departments",), True)
        return []
    result = []
    for i, item in enumerate(items):
        at = ("departments", item.get("id") if isinstance(raw, dict) else i)
        if not isinstance(item, dict) or not item.get("id"):
            error("a department needs an id", at, True)
            continue
        for key in item:
            if key not in DEPARTMENT_KEYS:
                error(f"unknown department key {key!r}", (*at, key))
        pilot = item.get("pilot_start")
        if pilot is not None and not isinstance(pilot, date):
            error("pilot_start must be a date (YYYY-MM-DD)", (*at, "pilot_start"), True)
            pilot = None
        result.append(
            Department(
                id=str(item["id"]),
                title=str(item.get("title") or item["id"]),
                members=tuple(str(m) for m in item.get("members") or ()),
                roles=tuple(str(r) for r in item.get("roles") or ()),
                pilot_start=pilot,
            )
        )
    return result


def _calendar(raw: Any, error: Any) -> Calendar:
    if raw is None:
        return Calendar()
    if not isinstance(raw, dict):
        error("calendar must be a mapping", ("calendar",), True)
        return Calendar()
    for key in raw:
        if key not in CALENDAR_KEYS:
            error(
                f"unknown calendar key {key!r}; allowed: {', '.join(CALENDAR_KEYS)}",
                ("calendar", key),
            )
    days = set()
    for i, day in enumerate(raw.get("working_days") or DAY_NAMES[:5]):
        name = str(day).upper()[:3]
        if name not in DAY_NAMES:
            error(f"unknown day {day!r}; use MON … SUN", ("calendar", "working_days", i), True)
            continue
        days.add(DAY_NAMES.index(name))
    hours = []
    for i, span in enumerate(raw.get("hours") or ["08:00-17:00"]):
        try:
            start_s, end_s = str(span).split("-")
            start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
            if end <= start:
                raise ValueError
            hours.append((start, end))
        except ValueError:
            error(
                f"working hours {span!r} must look like 08:00-12:00", ("calendar", "hours", i), True
            )
    holidays = set()
    for i, day in enumerate(raw.get("holidays") or []):
        if isinstance(day, date):
            holidays.add(day)
        else:
            error(f"holiday {day!r} must be a date (YYYY-MM-DD)", ("calendar", "holidays", i), True)
    return Calendar(frozenset(days), tuple(sorted(hours)), frozenset(holidays))
