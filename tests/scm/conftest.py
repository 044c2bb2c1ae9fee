"""Fixtures of the EDI tests: a factory trading by EDI, an approved purchase request."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crmflow import Engine
from crmflow.core.domain.imports import import_csv
from crmflow.core.domain.planning import create_proposal, decide_proposal
from crmflow.core.factory import FactoryConfig
from crmflow.testing import FakeClock

START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
OUR_GLN = "4000001000002"
ACME_GLN = "4012345000009"


def scm_section(tmp_path: Path, standard: str = "edifact", **more: Any) -> dict[str, Any]:
    return {
        "kind": "edi",
        "standard": standard,
        "our_id": {"id": OUR_GLN, "qualifier": "14"},
        "partners": {"SUP-ACME": {"id": ACME_GLN, "qualifier": "14"}},
        "inbox": str(tmp_path / "edi" / "in"),
        "outbox": str(tmp_path / "edi" / "out"),
        **more,
    }


def open_engine(tmp_path: Path, scm: dict[str, Any]) -> Engine:
    (tmp_path / "wf").mkdir(exist_ok=True)
    factory = FactoryConfig(name="plant", connectors={"scm": scm})
    engine = Engine.open(
        f"sqlite:///{tmp_path / 'scm.sqlite3'}",
        workflows=tmp_path / "wf",
        factory=factory,
        clock=FakeClock(START),
        load_entry_points=False,
    )
    products = tmp_path / "products.csv"
    products.write_text(
        "sku,name,family,kind,unit_cost,lead_time_days,supplier\n"
        "B1,Bolt,fasteners,bought,2,10,SUP-ACME\n"
        "B2,Nut,fasteners,bought,1,10,SUP-ACME\n"
        "B3,Washer,fasteners,bought,1,10,SUP-OTHER\n",
        encoding="utf-8",
    )
    assert not import_csv(engine, "products", products, actor="test").rejected
    return engine


def approved_request(engine: Engine, sku: str = "B1", quantity: float = 40) -> int:
    with engine.db.begin() as conn:
        req = create_proposal(
            conn, sku=sku, kind="purchase_request", quantity=quantity, by="bea",
            now=engine.now(), need_date=dt.date(2026, 12, 10),
        )  # fmt: skip
        decide_proposal(
            conn, f"purchase_request:{req['id']}", approve=True, by="sam", now=engine.now()
        )
    return int(req["id"])


def purchase(engine: Engine, po_id: str, sku: str) -> dict[str, Any]:
    from crmflow.core.domain.records import Purchase

    t = Purchase.__table__  # type: ignore[attr-defined]
    with engine.db.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.po_id == po_id, t.c.sku == sku)).mappings()
        return dict(row.one())


@pytest.fixture
def edi_engine(tmp_path: Path) -> Engine:
    engine = open_engine(tmp_path, scm_section(tmp_path))
    yield engine
    engine.close()
