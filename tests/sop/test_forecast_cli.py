"""`forecast champions` and `forecast-accuracy` as a planner reads them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from crmflow import Engine
from crmflow.cli import cli
from crmflow.core.factory import FactoryConfig
from crmflow.plugins.forecast import refresh
from crmflow.plugins.forecast.champions import champion_report
from crmflow.testing import FakeClock

from ..domain.conftest import SHIPPED, write_csv


def _cli(db: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, [*args, "--db", db], catch_exceptions=False)


def test_champions_and_accuracy_explain_themselves(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    write_csv(tmp_path / "c.csv", "customer_id,name,industry,size,region,segment\n"
              "C1,Acme,water,large,EU,large/water\nC2,Beta,food,small,US,small/food")  # fmt: skip
    write_csv(tmp_path / "p.csv", "sku,name,family,kind,unit_cost\nS1,Pump,pumps,made,10\n"
              "S2,Seal,seals,bought,1")  # fmt: skip
    lines = ["order_id,customer_id,order_date,sku,quantity,unit_price,requested_date"]
    for k in range(44):
        day = dt.date(2023 + k // 12, k % 12 + 1, 5)
        lines.append(f"A{k},C2,{day},S1,{100 + 10 * (k % 3)},5,{day}")
        lines.append(f"B{k},C2,{day},S2,{40 + (k % 4)},1,{day}")
        if k >= 30:  # the large water customer buys a share, then almost nothing in August
            lines.append(f"W{k},C1,{day},S1,{3 if k == 43 else 100},5,{day}")
    write_csv(tmp_path / "o.csv", "\n".join(lines))
    for kind, name in (("customers", "c"), ("products", "p"), ("orders", "o")):
        assert _cli(db, "import", kind, str(tmp_path / f"{name}.csv"), "--no-events").exit_code == 0
    # Forecasts made before July and August 2026, as a monthly run would have.
    engine = Engine.open(db, workflows=SHIPPED, factory=FactoryConfig(name="t"),
                         clock=FakeClock(dt.datetime(2026, 9, 1, tzinfo=dt.UTC)),
                         load_entry_points=False)  # fmt: skip
    try:
        for month in (7, 8):
            assert refresh(engine, now=dt.datetime(2026, month, 1, tzinfo=dt.UTC)) is not None
        before = {r["sku"]: r for r in champion_report(engine.db)}
        # A run on the same history keeps each live model: its "since" does not move.
        assert refresh(engine, now=dt.datetime(2026, 8, 15, tzinfo=dt.UTC)) is not None
        after = {r["sku"]: r for r in champion_report(engine.db)}
    finally:
        engine.close()

    listed = json.loads(_cli(db, "forecast", "champions", "--json").stdout)
    assert [r["sku"] for r in listed] == ["S1", "S2"]
    first = listed[0]
    assert first["sources"] == "orders" and first["updated_at"].startswith("2026-08-15")
    assert [after[s]["model"] for s in after] == [before[s]["model"] for s in before]
    assert [after[s]["since"] for s in after] == [before[s]["since"] for s in before]
    assert first["since"][:10] in {"2026-07-01", "2026-08-01"}
    assert first["challengers"] and all(
        c["model"] != first["model"] for c in first["challengers"])  # fmt: skip
    scores = [c["backtest_mase"] for c in first["challengers"] if c["backtest_mase"] is not None]
    assert scores == sorted(scores) and first["backtest_mase"] <= scores[0]
    text = _cli(db, "forecast", "champions", "--sku", "S1")
    assert text.exit_code == 0
    header = text.stdout.splitlines()[0].split()
    assert header[:3] == ["sku", "live", "model"]
    assert f"why: {first['reason']}" in text.stdout
    assert _cli(db, "forecast", "champions", "--sku", "NOPE").exit_code == 1

    report = _cli(db, "forecast-accuracy", "--by", "segment")
    assert report.exit_code == 0
    head = report.stdout.splitlines()[0].split()
    assert head[:4] == ["segment", "accuracy", "WAPE", "bias"]
    assert "below 0 when the errors add up to more than the demand itself" in report.stdout
    rows = json.loads(_cli(db, "forecast-accuracy", "--by", "segment", "--json").stdout)
    water = next(r for r in rows["accuracy"] if r["segment"] == "large/water")
    # its share of the forecast (about half of S1) against 3 units: far off, below 0
    assert water["wape"] > 1 and water["accuracy"] == 1 - water["wape"] < 0
    assert water["bias"] > 0  # over-forecast
    assert f"{water['wape']:.3f}" in report.stdout
    by_sku = json.loads(_cli(db, "forecast-accuracy", "--json").stdout)["accuracy"]
    assert by_sku[0]["champion"]["model"] == first["model"]
