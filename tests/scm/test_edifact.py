"""EDIFACT with a supplier: ORDERS D.96A out, DESADV in, bad files set aside with a reason."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import sqlalchemy as sa
from pydifact.parser import Parser

from crmflow import Engine
from crmflow.core.domain.inventory import projected_inventory
from crmflow.core.engine.inbox import inbox
from crmflow.plugins.scm.service import poll

from .conftest import ACME_GLN, OUR_GLN, approved_request, purchase


def segments(text: str) -> list[tuple[str, list[object]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydifact lacks the D.96A directory files
        return [(s.tag, s.elements) for s in Parser().parse(text) if s.tag != "UNA"]


def test_an_approved_request_for_an_edi_supplier_becomes_an_orders_interchange(
    edi_engine: Engine, tmp_path: Path
) -> None:
    rid = approved_request(edi_engine, "B1", 40)
    approved_request(edi_engine, "B3", 5)  # SUP-OTHER does not trade by EDI
    report = poll(edi_engine)
    out = tmp_path / "edi" / "out"
    assert report.sent == ["ORDERS_PR000001_1.edi"] and report.rejected == []
    assert sorted(p.name for p in out.iterdir()) == ["ORDERS_PR000001_1.edi"]  # no .part left
    segs = segments((out / "ORDERS_PR000001_1.edi").read_text(encoding="utf-8"))
    tags = [t for t, _ in segs]
    assert tags == ["UNB", "UNH", "BGM", "DTM", "NAD", "NAD", "LIN", "PIA", "QTY", "DTM",
                    "UNS", "UNT", "UNZ"]  # fmt: skip
    unb, unh, bgm = segs[0][1], segs[1][1], segs[2][1]
    assert unb[1] == [OUR_GLN, "14"] and unb[2] == [ACME_GLN, "14"] and unb[4] == "1"
    assert unh == ["1", ["ORDERS", "D", "96A", "UN"]]
    assert bgm == ["220", "PR000001", "9"]
    assert segs[3][1] == [["137", "20261201", "102"]]
    assert segs[4][1] == ["BY", [OUR_GLN, "", "9"]] and segs[5][1] == ["SU", [ACME_GLN, "", "9"]]
    assert segs[7][1] == ["1", ["B1", "IN"]] and segs[8][1] == [["21", "40"]]
    assert segs[9][1] == [["2", "20261210", "102"]]
    unt, unz = segs[-2][1], segs[-1][1]
    assert unt == [str(tags.index("UNT") - tags.index("UNH") + 1), "1"] == ["11", "1"]
    assert unz == ["1", "1"]
    with edi_engine.db.connect() as conn:
        status = conn.execute(sa.text("select status, po_id from purchase_requests where id = :i"),
                              {"i": rid}).one()  # fmt: skip
    assert tuple(status) == ("ordered", "PR000001")
    assert purchase(edi_engine, "PR000001", "B1")["supplier"] == "SUP-ACME"
    assert poll(edi_engine).sent == []  # sent once


DESADV = (
    "UNA:+.? '\n"
    "UNB+UNOC:3+4012345000009:14+4000001000002:14+261203:1015+DES0001'\n"
    "UNH+1+DESADV:D:96A:UN'\n"
    "BGM+351+DN-7781+9'\n"
    "DTM+137:20261203:102'\n"
    "DTM+11:20261203:102'\n"
    "DTM+132:20261208:102'\n"
    "RFF+ON:PR000001'\n"
    "NAD+SU+4012345000009::9'\n"
    "NAD+BY+4000001000002::9'\n"
    "CPS+1'\n"
    "LIN+1++B1:IN'\n"
    "QTY+12:36'\n"
    "UNT+12+1'\n"
    "UNZ+1+DES0001'\n"
)


def test_a_desadv_advises_quantity_and_date_once(edi_engine: Engine, tmp_path: Path) -> None:
    approved_request(edi_engine, "B1", 40)
    poll(edi_engine)
    box = tmp_path / "edi" / "in"
    box.mkdir(parents=True)
    (box / "desadv1.edi").write_text(DESADV, encoding="utf-8")
    report = poll(edi_engine)
    assert report.applied == ["desadv1.edi"] and report.rejected == []
    assert (box / "done" / "desadv1.edi").exists() and not (box / "desadv1.edi").exists()
    row = purchase(edi_engine, "PR000001", "B1")
    assert (row["advised_quantity"], str(row["advised_date"]), str(row["due_date"])) == (
        36.0, "2026-12-08", "2026-12-08")  # fmt: skip
    with edi_engine.db.connect() as conn:
        events = conn.execute(sa.select(inbox.c.event, inbox.c.payload, inbox.c.status)).all()
    assert [(e.event, json.loads(e.payload), e.status) for e in events] == [
        ("shipment.advised",
         {"po_id": "PR000001", "sku": "B1", "quantity": 36.0, "expected_date": "2026-12-08"},
         "done")]  # fmt: skip
    projected = projected_inventory(edi_engine, "B1", days=14)
    receipts = {d["date"]: d["receipts"] for d in projected["daily"] if d["receipts"]}
    assert receipts == {"2026-12-08": 36.0}
    # the same interchange dropped again is set aside, and changes nothing
    (box / "desadv1.edi").write_text(DESADV, encoding="utf-8")
    again = poll(edi_engine)
    assert again.applied == [] and "already applied" in again.rejected[0][1]
    assert "already applied" in (box / "rejected" / "desadv1.edi.reason").read_text()


def _broken(text: str, tmp_path: Path, edi_engine: Engine) -> str:
    approved_request(edi_engine, "B1", 40)
    poll(edi_engine)
    box = tmp_path / "edi" / "in"
    box.mkdir(parents=True, exist_ok=True)
    (box / "bad.edi").write_text(text, encoding="utf-8")
    report = poll(edi_engine)
    assert report.applied == [] and [n for n, _ in report.rejected] == ["bad.edi"]
    assert (box / "rejected" / "bad.edi").read_text(encoding="utf-8") == text
    row = purchase(edi_engine, "PR000001", "B1")
    assert row["advised_quantity"] is None and str(row["due_date"]) == "2026-12-10"
    with edi_engine.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one() == 0
    return (box / "rejected" / "bad.edi.reason").read_text(encoding="utf-8")


def test_a_desadv_without_unt_is_rejected(edi_engine: Engine, tmp_path: Path) -> None:
    reason = _broken(DESADV.replace("UNT+12+1'\n", ""), tmp_path, edi_engine)
    assert "has no UNT" in reason


def test_a_desadv_with_a_wrong_segment_count_is_rejected(
    edi_engine: Engine, tmp_path: Path
) -> None:
    reason = _broken(DESADV.replace("UNT+12+1'", "UNT+11+1'"), tmp_path, edi_engine)
    assert reason.strip() == "message 1: UNT counts 11 segments; it has 12"


def test_a_desadv_with_a_wrong_message_count_is_rejected(
    edi_engine: Engine, tmp_path: Path
) -> None:
    reason = _broken(DESADV.replace("UNZ+1+DES0001", "UNZ+2+DES0001"), tmp_path, edi_engine)
    assert "UNZ counts 2 message(s); the interchange has 1" in reason


def test_a_desadv_for_an_unknown_order_is_rejected(edi_engine: Engine, tmp_path: Path) -> None:
    reason = _broken(DESADV.replace("RFF+ON:PR000001", "RFF+ON:PR999999"), tmp_path, edi_engine)
    assert reason.strip() == "line 1: unknown order PR999999"


def test_a_file_that_is_not_edifact_is_rejected(edi_engine: Engine, tmp_path: Path) -> None:
    assert "neither EDIFACT" in _broken("hello supplier\n", tmp_path, edi_engine)


def test_the_worker_polls_every_minute(edi_engine: Engine, tmp_path: Path) -> None:
    from crmflow.core.engine.worker import Worker

    out = tmp_path / "edi" / "out"
    approved_request(edi_engine, "B1", 40)
    Worker(edi_engine).run_once()
    assert [p.name for p in out.iterdir()] == ["ORDERS_PR000001_1.edi"]
    approved_request(edi_engine, "B2", 10)
    Worker(edi_engine).run_once()  # the same minute: not yet
    assert len(list(out.iterdir())) == 1
    edi_engine.clock.advance(minutes=1)  # type: ignore[attr-defined]
    Worker(edi_engine).run_once()
    assert sorted(p.name for p in out.iterdir()) == [
        "ORDERS_PR000001_1.edi", "ORDERS_PR000002_2.edi"]  # fmt: skip
