"""Pipeline, market indicators and feedback: imported, then used by forecast-run where they help."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from crmflow.core.domain.imports import import_csv
from crmflow.plugins.forecast import refresh

from ..domain.conftest import write_csv
from .conftest import load

MONTHS = 48


def _month(k: int) -> dt.date:
    """The first day of the k-th month of the history (month 0 is January 2022)."""
    return dt.date(2022 + k // 12, k % 12 + 1, 1)


def test_signal_imports_check_their_rows(make_sop, tmp_path: Path) -> None:
    eng = make_sop()
    path = write_csv(tmp_path / "opp.csv",
        "opportunity_id,customer_id,sku,family,quantity,expected_date,probability,stage\n"
        "OP1,C1,B1,,40,2026-02-10,0.5,quoted\n"
        "OP2,C1,,gears,10,2026-03-01,0.9,negotiation\n"
        "OP3,C9,B1,,5,2026-03-01,0.5,quoted\n"
        "OP4,C1,,,5,2026-03-01,0.5,quoted\n"
        "OP5,C1,B1,,5,2026-03-01,1.5,quoted\n"
        "OP6,C1,,pumps,5,2026-03-01,0.5,quoted")  # fmt: skip
    report = import_csv(eng, "opportunities", path, actor="t")
    assert report.added == 2
    assert report.rejected == [
        (4, "customer_id: unknown customer 'C9'"), (5, "sku: give a sku or a family"),
        (6, "probability: must be at most 1 (got 1.5)"),
        (7, "family: no product of family 'pumps'"),
    ]  # fmt: skip
    path = write_csv(tmp_path / "fb.csv", "date,customer_id,sku,family,signal,quantity,note\n"
                     "2026-01-02,C1,B1,,up,30,new project\n2026-01-02,C2,,gears,lost,,\n"
                     "2026-01-03,C2,B1,,sideways,,")  # fmt: skip
    report = import_csv(eng, "feedback", path, actor="t")
    assert report.added == 2
    assert report.rejected == [(4, "signal: must be one of up, down, new, lost (got 'sideways')")]
    path = write_csv(tmp_path / "mi.csv", "date,name,value\n2026-01-01,steel,101.5\n"
                     "2026-01-01,steel,99\n2026-02-01,steel,x")  # fmt: skip
    report = import_csv(eng, "market_indicators", path, actor="t")
    assert report.added == 1 and [line for line, _ in report.rejected] == [3, 4]
    again = import_csv(eng, "opportunities", tmp_path / "opp.csv", actor="t")
    assert (again.added, again.unchanged) == (0, 2)


def test_forecast_run_uses_the_pipeline_where_it_beats_orders_alone(
    make_sop, tmp_path: Path, sop_clock
) -> None:
    eng = make_sop(forecast=True)
    rng = np.random.default_rng(3)
    pipeline = rng.uniform(5, 200, MONTHS + 6)
    pulled = np.round(20 * (1 + pipeline[:MONTHS]) ** 0.8)  # demand follows the pipeline
    plain = np.round(60 + rng.normal(0, 4, MONTHS))
    orders = ["order_id,customer_id,order_date,sku,quantity,unit_price,requested_date"]
    for k in range(MONTHS):
        day = _month(k) + dt.timedelta(days=9)
        orders.append(f"P{k},C1,{day},M1,{pulled[k]:g},10,{day}")
        orders.append(f"Q{k},C2,{day},B1,{plain[k]:g},3,{day}")
    load(eng, tmp_path, "orders", "\n".join(orders))
    opps = ["opportunity_id,customer_id,sku,family,quantity,expected_date,probability,stage"]
    for k in range(MONTHS + 6):
        opps.append(f"OP{k},C1,M1,,{pipeline[k]:.2f},{_month(k) + dt.timedelta(days=3)},1,won")
    load(eng, tmp_path, "opportunities", "\n".join(opps))
    now = dt.datetime.combine(_month(MONTHS), dt.time(6), tzinfo=dt.UTC)
    assert refresh(eng, now=now) is not None
    with eng.db.connect() as conn:
        rows = {r.sku: r for r in conn.execute(sa.text(
            "SELECT sku, model, sources, scores, reason FROM forecast_champions"))}  # fmt: skip
    assert rows["M1"].sources == "orders+pipeline"
    assert "+regressors" in rows["M1"].model
    assert rows["B1"].sources == "orders"  # no pipeline for B1: orders alone
    scores = json.loads(rows["M1"].scores)
    with_pipe = min(v for k, v in scores.items() if k.endswith("+regressors") and v is not None)
    without = min(v for k, v in scores.items() if "+regressors" not in k and v is not None)
    assert with_pipe < without


@pytest.mark.parametrize("stage", ["lost"])
def test_lost_opportunities_bring_no_demand(make_sop, tmp_path: Path, stage: str) -> None:
    from crmflow.plugins.forecast.signals import signal_sources

    eng = make_sop()
    load(eng, tmp_path, "opportunities",
         "opportunity_id,customer_id,sku,family,quantity,expected_date,probability,stage\n"
         f"OP1,C1,B1,,40,2026-02-10,0.5,{stage}\nOP2,C1,B1,,10,2026-02-11,0.5,quoted")  # fmt: skip
    with eng.db.connect() as conn:
        [pipe] = signal_sources(conn)
    assert pipe.values == {("series_id:B1", "2026-02-01"): 5.0}
