"""EDIFACT D.96A: ORDERS out, DESADV in (pydifact parses; we check structure and counts)."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable
from typing import Any

from pydifact.parser import Parser
from pydifact.segments import Segment
from pydifact.serializer import Serializer

from .model import Advice, AdviceLine, EdiReject, PurchaseOrder

__all__ = ["build_orders", "parse_desadv", "parse_segments"]

_ARRIVAL = ("132", "17", "2", "11", "137")  # estimated arrival, delivery, despatch, document


def parse_segments(text: str) -> list[Segment]:
    """The segments of an interchange, or :class:`EdiReject` when it does not parse."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return list(Parser().parse(text))
        except Exception as exc:
            raise EdiReject(f"does not parse as EDIFACT: {exc}") from None


def _serialize(segments: Iterable[Segment]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Serializer().serialize(list(segments), with_una_header=True, break_lines=True)


def build_orders(po: PurchaseOrder) -> str:
    """An ORDERS D.96A interchange for one purchase order (one message)."""
    when = po.created
    body = [
        Segment("UNH", "1", ["ORDERS", "D", "96A", "UN"]),
        Segment("BGM", "220", po.po_id, "9"),
        Segment("DTM", ["137", when.strftime("%Y%m%d"), "102"]),
        Segment("NAD", "BY", [po.buyer_id, "", "9"]),
        Segment("NAD", "SU", [po.supplier_id, "", "9"]),
    ]
    for n, line in enumerate(po.lines, start=1):
        body += [
            Segment("LIN", str(n)),
            Segment("PIA", "1", [line.sku, "IN"]),
            Segment("QTY", ["21", f"{line.quantity:g}"]),
            Segment("DTM", ["2", line.date.strftime("%Y%m%d"), "102"]),
        ]
    body.append(Segment("UNS", "S"))
    body.append(Segment("UNT", str(len(body) + 1), "1"))
    segments = [
        Segment(
            "UNB",
            ["UNOC", "3"],
            [po.buyer_id, po.buyer_qualifier],
            [po.supplier_id, po.supplier_qualifier],
            [when.strftime("%y%m%d"), when.strftime("%H%M")],
            po.control,
        ),
        *body,
        Segment("UNZ", "1", po.control),
    ]
    return _serialize(segments)


def _el(seg: Segment, i: int, j: int | None = None) -> str:
    try:
        value = seg.elements[i]
    except IndexError:
        return ""
    if j is None:
        return value if isinstance(value, str) else value[0]
    if isinstance(value, str):
        return value if j == 0 else ""
    return value[j] if j < len(value) else ""


def _date(text: str, fmt: str, where: str) -> dt.date:
    try:
        if fmt == "203":
            return dt.datetime.strptime(text[:8], "%Y%m%d").date()
        if fmt == "101":
            return dt.datetime.strptime(text, "%y%m%d").date()
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise EdiReject(f"{where}: bad date {text!r} (format {fmt})") from None


def parse_desadv(text: str) -> Advice:
    """Check a DESADV interchange's envelope and counts and read what it advises.

    :raises EdiReject: with the reason, for anything that does not parse or count.
    """
    segs = [s for s in parse_segments(text) if s.tag != "UNA"]
    if not segs or segs[0].tag != "UNB":
        raise EdiReject("the interchange does not start with UNB")
    if segs[-1].tag != "UNZ":
        raise EdiReject("the interchange does not end with UNZ (truncated file?)")
    unb, unz = segs[0], segs[-1]
    sender, control = _el(unb, 1, 0), _el(unb, 4)
    if not sender or not control:
        raise EdiReject("UNB lacks the sender or the interchange control reference")
    if _el(unz, 1) != control:
        raise EdiReject(f"UNZ control reference {_el(unz, 1)!r} differs from UNB's {control!r}")
    messages: list[list[Segment]] = []
    current: list[Segment] | None = None
    for n, seg in enumerate(segs[1:-1], start=2):
        if seg.tag == "UNH":
            if current is not None:
                raise EdiReject(f"segment {n}: UNH before the previous message's UNT")
            current = [seg]
        elif current is None:
            raise EdiReject(f"segment {n}: {seg.tag} outside a message (missing UNH)")
        else:
            current.append(seg)
            if seg.tag == "UNT":
                messages.append(current)
                current = None
    if current is not None:
        raise EdiReject(f"message {_el(current[0], 0)!r} has no UNT")
    if _el(unz, 0) != str(len(messages)):
        raise EdiReject(f"UNZ counts {_el(unz, 0)} message(s); the interchange has {len(messages)}")
    advice = Advice(standard="edifact", sender=sender, control=control)
    for msg in messages:
        _message(msg, advice)
    if not advice.lines:
        raise EdiReject("the interchange advises no lines")
    return advice


def _message(msg: list[Segment], advice: Advice) -> None:
    unh, unt = msg[0], msg[-1]
    ref = _el(unh, 0)
    if _el(unh, 1, 0) != "DESADV":
        raise EdiReject(f"message {ref}: type {_el(unh, 1, 0)!r} is not DESADV")
    if _el(unt, 1) != ref:
        raise EdiReject(f"message {ref}: UNT names message {_el(unt, 1)!r}")
    if _el(unt, 0) != str(len(msg)):
        raise EdiReject(f"message {ref}: UNT counts {_el(unt, 0)} segments; it has {len(msg)}")
    tags = [s.tag for s in msg]
    if "BGM" not in tags:
        raise EdiReject(f"message {ref}: BGM (despatch advice number) is missing")
    order = None
    dates: dict[str, dt.date] = {}
    lines: list[dict[str, Any]] = []
    for seg in msg[1:-1]:
        if seg.tag == "RFF" and _el(seg, 0, 0) == "ON":
            if lines:
                lines[-1]["po"] = _el(seg, 0, 1)
            else:
                order = _el(seg, 0, 1)
        elif seg.tag == "DTM":
            qualifier = _el(seg, 0, 0)
            target = lines[-1]["dates"] if lines else dates
            target[qualifier] = _date(
                _el(seg, 0, 1), _el(seg, 0, 2) or "102", f"message {ref}: DTM+{qualifier}"
            )
        elif seg.tag == "LIN":
            sku = _el(seg, 2, 0)
            lines.append({"sku": sku or None, "qty": None, "dates": {}, "po": None})
        elif seg.tag == "PIA" and lines and not lines[-1]["sku"]:
            lines[-1]["sku"] = _el(seg, 1, 0)
        elif seg.tag == "QTY" and lines and _el(seg, 0, 0) in ("12", "21", "113"):
            try:
                lines[-1]["qty"] = float(_el(seg, 0, 1))
            except ValueError:
                raise EdiReject(f"message {ref}: bad quantity {_el(seg, 0, 1)!r}") from None
    if not lines:
        raise EdiReject(f"message {ref}: no LIN segment")
    for i, line in enumerate(lines, start=1):
        po = line["po"] or order
        if not po:
            raise EdiReject(f"message {ref}: line {i} names no order (RFF+ON)")
        if not line["sku"]:
            raise EdiReject(f"message {ref}: line {i} has no item number (LIN or PIA)")
        if line["qty"] is None:
            raise EdiReject(f"message {ref}: line {i} has no despatch quantity (QTY+12)")
        merged = {**dates, **line["dates"]}
        when = next((merged[q] for q in _ARRIVAL if q in merged), None)
        if when is None:
            raise EdiReject(f"message {ref}: no delivery or despatch date (DTM+132/17/2/11)")
        advice.lines.append(AdviceLine(po, line["sku"], line["qty"], when))
