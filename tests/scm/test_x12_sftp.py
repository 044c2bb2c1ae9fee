"""X12 850 out and 856 in; EDI files over a real SFTP server (asyncssh, in-process)."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import sqlalchemy as sa
from pyx12.x12file import X12Reader

from crmflow import Engine
from crmflow.core.engine.inbox import inbox
from crmflow.plugins.scm.service import poll

from .conftest import ACME_GLN, OUR_GLN, approved_request, open_engine, purchase, scm_section
from .test_edifact import DESADV


def isa(sender: str, receiver: str, control: str) -> str:
    return (
        f"ISA*00*          *00*          *14*{sender:<15}*14*{receiver:<15}*261203*1015*U*00401*"
        f"{control}*0*P*>~"
    )


# The shape of X12 004010's own 856 example (shipment / order / item levels).
SHIP_NOTICE = (
    isa(ACME_GLN, OUR_GLN, "000000101") + "\n"
    "GS*SH*4012345000009*4000001000002*20261203*1015*101*X*004010~\n"
    "ST*856*0001~\n"
    "BSN*00*SHIP-9001*20261203*1015~\n"
    "DTM*011*20261203~\n"
    "DTM*017*20261209~\n"
    "HL*1**S~\n"
    "TD5*B*2*UPSN~\n"
    "HL*2*1*O~\n"
    "PRF*PR000001~\n"
    "HL*3*2*I~\n"
    "LIN**BP*B1~\n"
    "SN1**38*EA~\n"
    "CTT*3~\n"
    "SE*13*0001~\n"
    "GE*1*101~\n"
    "IEA*1*000000101~\n"
)


@pytest.fixture
def x12_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(tmp_path, scm_section(tmp_path, "x12"))
    yield engine
    engine.close()


def read_x12(text: str) -> list[Any]:
    reader = X12Reader(io.StringIO(text))
    segments = list(reader)
    assert reader.pop_errors() == []
    return segments


def test_an_approved_request_becomes_an_x12_850(x12_engine: Engine, tmp_path: Path) -> None:
    approved_request(x12_engine, "B1", 40)
    approved_request(x12_engine, "B2", 25)
    assert poll(x12_engine).sent == ["850_PR000001_1.edi", "850_PR000002_2.edi"]
    text = (tmp_path / "edi" / "out" / "850_PR000002_2.edi").read_text(encoding="utf-8")
    assert len(text.splitlines()[0]) == 106
    segs = read_x12(text)
    ids = [s.get_seg_id() for s in segs]
    assert ids == ["ISA", "GS", "ST", "BEG", "N1", "N1", "PO1", "DTM", "CTT", "SE", "GE", "IEA"]
    by = {s.get_seg_id(): s for s in segs}
    assert by["ISA"].get_value("ISA06").strip() == OUR_GLN
    assert by["ISA"].get_value("ISA08").strip() == ACME_GLN
    assert by["ISA"].get_value("ISA13") == "000000002" == by["IEA"].get_value("IEA02")
    assert by["GS"].get_value("GS06") == "2" == by["GE"].get_value("GE02")
    assert by["ST"].get_value("ST01") == "850"
    assert by["SE"].get_value("SE01") == str(ids.index("SE") - ids.index("ST") + 1) == "8"
    assert by["BEG"].get_value("BEG03") == "PR000002"
    assert by["PO1"].get_value("PO102") == "25" and by["PO1"].get_value("PO107") == "B2"
    assert by["CTT"].get_value("CTT01") == "1"


def test_an_856_advises_the_purchase(x12_engine: Engine, tmp_path: Path) -> None:
    approved_request(x12_engine, "B1", 40)
    poll(x12_engine)
    box = tmp_path / "edi" / "in"
    box.mkdir(parents=True)
    assert len(SHIP_NOTICE.splitlines()[0]) == 106
    (box / "asn.x12").write_text(SHIP_NOTICE, encoding="utf-8")
    assert poll(x12_engine).applied == ["asn.x12"]
    row = purchase(x12_engine, "PR000001", "B1")
    assert (row["advised_quantity"], str(row["advised_date"])) == (38.0, "2026-12-09")
    (box / "bad.x12").write_text(
        SHIP_NOTICE.replace("SE*13*0001", "SE*12*0001").replace("101", "102"), encoding="utf-8"
    )
    report = poll(x12_engine)
    assert [n for n, _ in report.rejected] == ["bad.x12"]
    assert "SE count of 12" in (box / "rejected" / "bad.x12.reason").read_text()


def test_an_856_for_an_unknown_order_changes_nothing(x12_engine: Engine, tmp_path: Path) -> None:
    approved_request(x12_engine, "B1", 40)
    poll(x12_engine)
    box = tmp_path / "edi" / "in"
    box.mkdir(parents=True)
    (box / "asn.x12").write_text(SHIP_NOTICE.replace("PRF*PR000001", "PRF*PO-NOPE"), "utf-8")
    assert poll(x12_engine).rejected == [("asn.x12", "line 1: unknown order PO-NOPE")]
    assert purchase(x12_engine, "PR000001", "B1")["advised_quantity"] is None


class SftpServer:
    """An asyncssh SFTP server on a free loopback port, rooted in a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        key = asyncssh.generate_private_key("ssh-ed25519")

        class Auth(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == "acme" and password == "s3cret"

        def sftp(chan: Any) -> asyncssh.SFTPServer:
            return asyncssh.SFTPServer(chan, chroot=str(root))

        async def start() -> Any:
            return await asyncssh.create_server(
                Auth, "127.0.0.1", 0, server_host_keys=[key], sftp_factory=sftp
            )

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    def close(self) -> None:
        self.server.close()
        asyncio.run_coroutine_threadsafe(self.server.wait_closed(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_edi_over_sftp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "partner"
    (root / "to_acme").mkdir(parents=True)
    (root / "from_acme").mkdir()
    (root / "from_acme" / "desadv.edi").write_text(DESADV, encoding="utf-8")
    server = SftpServer(root)
    monkeypatch.setenv("ACME_SFTP_PASSWORD", "s3cret")
    url = f"sftp://acme@127.0.0.1:{server.port}"
    scm = scm_section(tmp_path, inbox=f"{url}/from_acme", outbox=f"{url}/to_acme",
                      sftp_password_env="ACME_SFTP_PASSWORD")  # fmt: skip
    engine = open_engine(tmp_path, scm)
    try:
        approved_request(engine, "B1", 40)
        report = poll(engine)
    finally:
        engine.close()
        server.close()
    assert report.sent == ["ORDERS_PR000001_1.edi"] and report.applied == ["desadv.edi"]
    assert [p.name for p in (root / "to_acme").iterdir()] == ["ORDERS_PR000001_1.edi"]
    assert "BGM+220+PR000001+9'" in (root / "to_acme" / "ORDERS_PR000001_1.edi").read_text()
    assert (root / "from_acme" / "done" / "desadv.edi").exists()
    engine = open_engine(tmp_path, scm)
    try:
        assert purchase(engine, "PR000001", "B1")["advised_quantity"] == 36.0
        with engine.db.connect() as conn:
            assert conn.execute(sa.select(inbox.c.event)).scalars().all() == ["shipment.advised"]
    finally:
        engine.close()
