"""Subscriptions of the factory's `connectors.mes`: sandboxed templates from message to event."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from jinja2 import ChainableUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crmflow.errors import ConfigError

__all__ = [
    "REQUIRED",
    "Connector",
    "MappingError",
    "Subscription",
    "decode_json",
    "message_key",
    "opcua_source",
    "parse_connectors",
]

#: Fields an event's rendered data must have (architecture.md, connectors.md).
REQUIRED: dict[str, tuple[str, ...]] = {
    "capacity.changed": ("line", "date"),
    "machine.state_changed": ("line", "state"),
    "inventory.changed": ("sku", "location", "on_hand"),
    "delivery.recorded": ("order_id", "sku", "quantity", "delivered_date"),
}
FORMATS = ("json", "sparkplug_b")
KINDS = ("mqtt", "opcua")

# A field the payload lacks renders empty (an optional field stays empty; a required one is
# named in the quarantine reason); arithmetic on it, or any other failure, is a template error.
_env = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
_SEP = "\x1f"  # ASCII unit separator: never in a field a machine sends, checked anyway
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class MappingError(Exception):
    """A message that cannot become its event; the text is the quarantine reason."""


@dataclass
class Subscription:
    """One topic filter (MQTT) or node group (OPC UA) and the event it becomes."""

    event: str
    data: dict[str, Any]
    topic: str | None = None
    nodes: dict[str, str] = field(default_factory=dict)
    format: str = "json"
    qos: int = 1
    stamp: Any = None  # template of the device's timestamp or sequence number
    where: str = ""
    joined: Any = None  # every data template in one, split by _SEP: one render per message

    def render(self, context: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The event's data and the device stamp; :class:`MappingError` says why not."""
        data = self._render_joined(context)
        if data is None:
            data = self._render_each(context)
        missing = [f for f in REQUIRED.get(self.event, ()) if data.get(f) in (None, "")]
        if missing:
            raise MappingError(
                f"{self.event} needs {', '.join(missing)}; the rendered data lacks "
                f"{'it' if len(missing) == 1 else 'them'}"
            )
        stamp = None
        if self.stamp is not None:
            try:
                stamp = self.stamp.render(context)
            except Exception as exc:
                raise MappingError(f"stamp: template failed: {exc}") from None
        return data, stamp

    def _render_joined(self, context: dict[str, Any]) -> dict[str, Any] | None:
        if self.joined is None:
            return None
        try:
            parts = self.joined.render(context).split(_SEP)
        except Exception:
            return None  # rendered field by field, which names the field that fails
        if len(parts) != len(self.data):
            return None  # a value holds the separator itself
        return {name: _coerce(part) for name, part in zip(self.data, parts, strict=True)}

    def _render_each(self, context: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, template in self.data.items():
            try:
                data[name] = _coerce(template.render(context))
            except TemplateError as exc:
                raise MappingError(f"data.{name}: template failed: {exc}") from None
            except Exception as exc:  # a filter or a method of the payload raised
                raise MappingError(f"data.{name}: template failed: {exc!r}") from None
        return data


@dataclass
class Connector:
    """One MES connection (an MQTT broker or an OPC UA server) and its subscriptions."""

    name: str
    kind: str
    settings: dict[str, Any]
    subscriptions: list[Subscription]


def _coerce(text: str) -> Any:
    """Rendered text back to a value: numbers, booleans and empty become JSON values."""
    value = text.strip()
    if value in ("", "None", "null"):
        return None
    if value in ("true", "True"):
        return True
    if value in ("false", "False"):
        return False
    if _NUMBER.fullmatch(value):
        number = float(value)
        plain_int = "." not in value and "e" not in value.lower()
        return int(number) if plain_int else number
    return value


def _template(value: Any, where: str) -> Any:
    try:
        return _env.from_string(str(value))
    except TemplateError as exc:
        raise ConfigError(f"{where}: bad template {value!r}: {exc}") from None


def message_key(source: str, payload: bytes, stamp: str | None) -> str:
    """The identity of a message: source (topic or nodes), payload hash, device stamp."""
    digest = hashlib.sha256(payload).hexdigest()[:32]
    head = source if len(source) <= 200 else hashlib.sha256(source.encode()).hexdigest()
    return f"{head}#{digest}" + (f"@{stamp}"[:60] if stamp else "")


def parse_connectors(section: Any) -> list[Connector]:
    """Validate `connectors.mes` (a list, or one mapping); errors name the entry and key."""
    if section is None:
        return []
    items = section if isinstance(section, list) else [section]
    result = []
    names: set[str] = set()
    for i, item in enumerate(items):
        where = f"connectors.mes[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: must be a mapping with kind, … and subscribe")
        kind = item.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"{where}.kind: must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "mqtt" and not item.get("host"):
            raise ConfigError(f"{where}.host: an MQTT connector needs the broker's host")
        if kind == "opcua" and not str(item.get("url", "")).startswith("opc.tcp://"):
            raise ConfigError(f"{where}.url: an OPC UA connector needs an opc.tcp:// url")
        name = str(item.get("name") or f"{kind}:{item.get('host') or item.get('url')}")
        if not name.startswith(f"{kind}:"):
            name = f"{kind}:{name}"
        if name in names:
            raise ConfigError(f"{where}.name: {name!r} is used twice")
        names.add(name)
        subs = item.get("subscribe")
        if not isinstance(subs, list) or not subs:
            raise ConfigError(f"{where}.subscribe: list at least one subscription")
        parsed = [_subscription(kind, s, f"{where}.subscribe[{j}]") for j, s in enumerate(subs)]
        settings = {k: v for k, v in item.items() if k not in ("subscribe", "name")}
        result.append(Connector(name, kind, settings, parsed))
    return result


def _subscription(kind: str, raw: Any, where: str) -> Subscription:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping")
    event = raw.get("event")
    if not isinstance(event, str) or "." not in event:
        raise ConfigError(f"{where}.event: name the domain event, e.g. capacity.changed")
    data = raw.get("data")
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{where}.data: map the event's fields to templates")
    missing = [f for f in REQUIRED.get(event, ()) if f not in data]
    if missing:
        raise ConfigError(f"{where}.data: {event} needs {', '.join(missing)}")
    fmt = raw.get("format", "json")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}.format: must be one of {', '.join(FORMATS)}")
    sub = Subscription(
        event=event,
        joined=_template(_SEP.join(str(v) for v in data.values()), f"{where}.data"),
        data={k: _template(v, f"{where}.data.{k}") for k, v in data.items()},
        format=fmt,
        qos=int(raw.get("qos", 1)),
        stamp=_template(raw["stamp"], f"{where}.stamp") if raw.get("stamp") else None,
        where=where,
    )
    if kind == "mqtt":
        if not isinstance(raw.get("topic"), str) or not raw["topic"]:
            raise ConfigError(f"{where}.topic: give the MQTT topic filter")
        sub.topic = raw["topic"]
    else:
        nodes = raw.get("nodes")
        if not isinstance(nodes, dict) or not nodes:
            raise ConfigError(f"{where}.nodes: map names to node ids, e.g. state: ns=2;s=L1.State")
        sub.nodes = {str(k): str(v) for k, v in nodes.items()}
    return sub


def decode_json(payload: bytes) -> Any:
    """The JSON payload of a message, or :class:`MappingError` saying why not."""
    if not payload:
        raise MappingError("empty payload (a cleared retained message?)")
    try:
        return json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MappingError(f"payload is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise MappingError(f"payload is not JSON: {exc}") from None


def opcua_source(sub: Subscription) -> str:
    """The message source of an OPC UA subscription: its node ids."""
    return "opcua:" + ",".join(f"{k}={v}" for k, v in sorted(sub.nodes.items()))
