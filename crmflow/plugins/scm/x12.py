"""X12 004010: 850 out (a small builder of ours), 856 in (pyx12's reader checks the envelope)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from .model import Advice, AdviceLine, EdiReject, PurchaseOrder

__all__ = ["build_850", "parse_856", "read_segments"]


def _isa(po: PurchaseOrder) -> str:
    when = po.created
    fields = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        po.buyer_qualifier[:2].ljust(2),
        po.buyer_id[:15].ljust(15),
        po.supplier_qualifier[:2].ljust(2),
        po.supplier_id[:15].ljust(15),
        when.strftime("%y%m%d"),
        when.strftime("%H%M"),
        "U",
        "00401",
        po.control.zfill(9)[-9:],
        "0",
        "P",
        ">",
    ]
    segment = "*".join(fields) + "~"
    assert len(segment) == 106, segment  # the fixed-width envelope every X12 reader relies on
    return segment


def build_850(po: PurchaseOrder) -> str:
    """An X12 850 purchase order interchange (ISA/GS/ST … SE/GE/IEA) for one order."""
    when = po.created
    group = str(int(po.control))
    body = [
        ["ST", "850", "0001"],
        ["BEG", "00", "SA", po.po_id, "", when.strftime("%Y%m%d")],
        ["N1", "BY", "", _x12_qualifier(po.buyer_qualifier), po.buyer_id],
        ["N1", "SU", "", _x12_qualifier(po.supplier_qualifier), po.supplier_id],
    ]
    for n, line in enumerate(po.lines, start=1):
        body.append(["PO1", str(n), f"{line.quantity:g}", "EA", "", "", "BP", line.sku])
        body.append(["DTM", "002", line.date.strftime("%Y%m%d")])
    body.append(["CTT", str(len(po.lines))])
    body.append(["SE", str(len(body) + 1), "0001"])
    segments = [
        [
            "GS",
            "PO",
            po.buyer_id,
            po.supplier_id,
            when.strftime("%Y%m%d"),
            when.strftime("%H%M"),
            group,
            "X",
            "004010",
        ],
        *body,
        ["GE", "1", group],
        ["IEA", "1", po.control.zfill(9)[-9:]],
    ]
    return (
        _isa(po) + "\n" + "\n".join("*".join(_clean(f) for f in s) + "~" for s in segments) + "\n"
    )


def _clean(value: str) -> str:
    for ch in "*~>^":
        if ch in value:
            raise ValueError(f"{value!r} contains the X12 separator {ch!r}")
    return value


def _x12_qualifier(edifact_qualifier: str) -> str:
    """EDIFACT code list 3055 / ISA qualifiers to N103: a GLN (14) is UL, else 92 (ours)."""
    return "UL" if edifact_qualifier in ("14", "9", "UL") else "92"


def read_segments(text: str) -> list[Any]:
    """The segments of an X12 interchange, checked by pyx12's reader (ISA, counts, ids)."""
    from pyx12.errors import X12Error
    from pyx12.x12file import X12Reader

    if not text.lstrip().startswith("ISA"):
        raise EdiReject("does not start with an ISA segment")
    try:
        reader = X12Reader(io.StringIO(text.strip()))
        segments = list(reader)
        errors = reader.pop_errors()
        reader.cleanup()
        errors += reader.pop_errors()
    except X12Error as exc:
        raise EdiReject(f"X12 envelope: {exc}") from None
    except Exception as exc:
        raise EdiReject(f"does not parse as X12: {exc}") from None
    if errors:
        raise EdiReject("; ".join(str(e[2]) for e in errors))
    return segments


def _date(text: str, where: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise EdiReject(f"{where}: bad date {text!r} (CCYYMMDD)") from None


def parse_856(text: str) -> Advice:
    """Check an 856 ship notice and read per item its order, quantity and date."""
    segments = read_segments(text)
    isa = segments[0]
    advice = Advice(
        standard="x12",
        sender=(isa.get_value("ISA06") or "").strip(),
        control=(isa.get_value("ISA13") or "").strip(),
    )
    order: str | None = None
    shipped: dt.date | None = None
    estimated: dt.date | None = None
    item: dict[str, Any] | None = None
    items: list[dict[str, Any]] = []
    for seg in segments:
        sid = seg.get_seg_id()
        if sid == "ST" and seg.get_value("ST01") != "856":
            raise EdiReject(f"transaction set {seg.get_value('ST01')} is not an 856")
        elif sid == "DTM":
            qual, value = seg.get_value("DTM01"), seg.get_value("DTM02") or ""
            if qual == "011":
                shipped = _date(value, "DTM*011")
            elif qual in ("017", "067", "002"):
                estimated = _date(value, f"DTM*{qual}")
        elif sid == "HL":
            level = seg.get_value("HL03")
            if level == "I":
                item = {"po": order, "sku": None, "qty": None}
                items.append(item)
            elif level == "O":
                order, item = None, None
        elif sid == "PRF":
            order = seg.get_value("PRF01")
        elif sid == "LIN" and item is not None:
            item["sku"] = _part(seg)
        elif sid == "SN1" and item is not None:
            try:
                item["qty"] = float(seg.get_value("SN102") or "")
            except ValueError:
                raise EdiReject(f"SN1: bad quantity {seg.get_value('SN102')!r}") from None
    when = estimated or shipped
    if not items:
        raise EdiReject("the 856 has no item level (HL*…*I)")
    if when is None:
        raise EdiReject("the 856 has no ship or estimated delivery date (DTM*011/017)")
    for n, it in enumerate(items, start=1):
        if not it["po"]:
            raise EdiReject(f"item {n}: no order level with PRF (purchase order number)")
        if not it["sku"] or it["qty"] is None:
            raise EdiReject(f"item {n}: needs LIN (part number) and SN1 (quantity)")
        advice.lines.append(AdviceLine(it["po"], it["sku"], it["qty"], when))
    return advice


def _part(seg: Any) -> str | None:
    """The buyer's part number of a LIN (qualifier BP), else the first product id."""
    pairs = [(seg.get_value(f"LIN{i:02d}"), seg.get_value(f"LIN{i + 1:02d}")) for i in (2, 4, 6)]
    for qual, value in pairs:
        if qual == "BP" and value:
            return str(value)
    return next((str(v) for q, v in pairs if q and v), None)
