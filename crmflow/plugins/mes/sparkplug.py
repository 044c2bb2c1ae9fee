"""Sparkplug B payloads (Eclipse Tahu protobuf schema): decode with NBIRTH aliases, encode.

Only the ``Payload`` and ``Metric`` fields that carry values are read (name,
alias, timestamp, datatype, is_null and the scalar values); datasets,
templates and properties are skipped. A hand-written wire decoder keeps the
protobuf runtime and generated code out of the dependencies.
"""

from __future__ import annotations

import struct
from typing import Any

from .mapping import MappingError

__all__ = ["AliasBook", "decode_payload", "encode_payload"]

# Sparkplug B data types (the specification's table 6.4.16)
_SIGNED_BITS = {1: 8, 2: 16, 3: 32, 4: 64}
_INT_TYPES = {1, 2, 3, 5, 6, 7}
_LONG_TYPES = {4, 8, 13}
_FLOAT, _DOUBLE, _BOOLEAN, _STRING, _TEXT, _UUID = 9, 10, 11, 12, 14, 15


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise MappingError("Sparkplug B payload is truncated (in a varint)")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise MappingError("Sparkplug B payload has a varint longer than 10 bytes")


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of one protobuf message."""
    out = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise MappingError(f"Sparkplug B payload: unsupported wire type {wire}")
        if pos > len(buf):
            raise MappingError("Sparkplug B payload is truncated")
        out.append((number, wire, value))
    return out


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _metric(buf: bytes) -> dict[str, Any]:
    m: dict[str, Any] = {"name": None, "alias": None, "datatype": None, "value": None}
    raw: dict[int, Any] = {}
    for number, _wire, value in _fields(buf):
        if number == 1:
            m["name"] = value.decode("utf-8")
        elif number == 2:
            m["alias"] = value
        elif number == 3:
            m["timestamp"] = value
        elif number == 4:
            m["datatype"] = value
        elif number == 7:
            m["is_null"] = bool(value)
        elif 10 <= number <= 16:
            raw[number] = value
    dtype = m["datatype"]
    if 10 in raw:
        m["value"] = _signed(raw[10], _SIGNED_BITS[dtype]) if dtype in _SIGNED_BITS else raw[10]
    elif 11 in raw:
        m["value"] = _signed(raw[11], 64) if dtype == 4 else raw[11]
    elif 12 in raw:
        m["value"] = struct.unpack("<f", raw[12])[0]
    elif 13 in raw:
        m["value"] = struct.unpack("<d", raw[13])[0]
    elif 14 in raw:
        m["value"] = bool(raw[14])
    elif 15 in raw:
        m["value"] = raw[15].decode("utf-8")
    return m


def decode_payload(payload: bytes) -> dict[str, Any]:
    """``{"timestamp", "seq", "metrics": [{name, alias, datatype, value}]}`` of a payload."""
    if not payload:
        raise MappingError("empty Sparkplug B payload")
    out: dict[str, Any] = {"timestamp": None, "seq": None, "metrics": []}
    for number, _wire, value in _fields(payload):
        if number == 1:
            out["timestamp"] = value
        elif number == 2:
            out["metrics"].append(_metric(value))
        elif number == 3:
            out["seq"] = value
    return out


class AliasBook:
    """Metric names by alias per edge node (and device), learnt from NBIRTH/DBIRTH."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, int], str] = {}

    def message(self, topic: str, payload: bytes) -> dict[str, Any]:
        """The template context ``msg`` of a Sparkplug B message: metric name -> value."""
        levels = topic.split("/")
        if len(levels) < 4 or levels[0] != "spBv1.0":
            raise MappingError(f"not a Sparkplug B topic: {topic!r}")
        node = "/".join([levels[1], levels[3], *levels[4:5]])
        kind = levels[2]
        decoded = decode_payload(payload)
        if kind in ("NBIRTH", "DBIRTH"):
            for m in decoded["metrics"]:
                if m["name"] is not None and m["alias"] is not None:
                    self._names[(node, m["alias"])] = m["name"]
        msg: dict[str, Any] = {
            "timestamp": decoded["timestamp"],
            "seq": decoded["seq"],
            "message_type": kind,
        }
        for m in decoded["metrics"]:
            name = m["name"]
            if name is None and m["alias"] is not None:
                name = self._names.get((node, m["alias"]))
                if name is None:
                    raise MappingError(
                        f"metric alias {m['alias']} of {node} is unknown: no NBIRTH/DBIRTH "
                        "seen that defines it"
                    )
            if name is not None:
                msg[name] = m["value"]
        return msg


def _key(number: int, wire: int) -> bytes:
    return _enc_varint((number << 3) | wire)


def _enc_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _enc_metric(m: dict[str, Any]) -> bytes:
    out = bytearray()
    if m.get("name") is not None:
        name = m["name"].encode()
        out += _key(1, 2) + _enc_varint(len(name)) + name
    if m.get("alias") is not None:
        out += _key(2, 0) + _enc_varint(m["alias"])
    value = m.get("value")
    if isinstance(value, bool):
        dtype, body = _BOOLEAN, _key(14, 0) + _enc_varint(int(value))
    elif isinstance(value, int):
        dtype, body = 4, _key(11, 0) + _enc_varint(value)
    elif isinstance(value, float):
        dtype, body = _DOUBLE, _key(13, 1) + struct.pack("<d", value)
    else:
        text = str(value).encode()
        dtype, body = _STRING, _key(15, 2) + _enc_varint(len(text)) + text
    out += _key(4, 0) + _enc_varint(m.get("datatype", dtype)) + body
    return bytes(out)


def encode_payload(metrics: list[dict[str, Any]], *, seq: int, timestamp: int) -> bytes:
    """A Sparkplug B payload (publishers, tests and benchmarks): metrics with name/alias/value."""
    out = bytearray(_key(1, 0) + _enc_varint(timestamp))
    for m in metrics:
        body = _enc_metric(m)
        out += _key(2, 2) + _enc_varint(len(body)) + body
    out += _key(3, 0) + _enc_varint(seq)
    return bytes(out)
