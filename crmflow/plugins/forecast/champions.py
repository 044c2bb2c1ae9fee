"""Champion/challenger per SKU: the live model, every candidate's backtest score, since when."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import click

from crmflow.textable import format_table

if TYPE_CHECKING:  # pragma: no cover
    import sqlalchemy as sa

__all__ = ["build_champions", "champion_report"]

def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return str(value.isoformat())


def champion_report(db: sa.Engine, *, sku: str | None = None) -> list[dict[str, Any]]:
    """Each SKU's live model, its challengers best first with their backtest MASE, and why.

    ``since`` is when the live model last changed (a run that keeps the same
    model does not move it), ``updated_at`` the run that last confirmed it.
    """
    import sqlalchemy as sa

    from crmflow.core.store import reading

    from .records import ForecastChampion

    champ = ForecastChampion.__table__  # type: ignore[attr-defined]
    query = sa.select(champ).order_by(champ.c.sku)
    if sku is not None:
        query = query.where(champ.c.sku == sku)
    out = []
    with reading(db) as conn:
        for row in conn.execute(query).mappings():
            scores = json.loads(row["scores"]) if row["scores"] else {}
            challengers = sorted(
                ({"model": name, "backtest_mase": score} for name, score in scores.items()
                 if name != row["model"]),
                key=lambda c: (c["backtest_mase"] is None, c["backtest_mase"] or 0.0, c["model"]),
            )  # fmt: skip
            if not challengers and row["challenger"]:
                challengers = [{"model": row["challenger"],
                                "backtest_mase": row["challenger_mase"]}]  # fmt: skip
            out.append({
                "sku": row["sku"], "model": row["model"], "backtest_mase": row["backtest_mase"],
                "sources": row["sources"] or "orders", "challengers": challengers,
                "reason": row["reason"], "accuracy": row["accuracy"],
                "below_threshold": bool(row["below_threshold"]),
                "since": _iso(row["changed_at"] or row["updated_at"]),
                "updated_at": _iso(row["updated_at"]), "snapshot_id": row["snapshot_id"],
            })  # fmt: skip
    return out


def build_champions(helpers: Any) -> click.Command:
    """``crmflow forecast champions``, opening the engine with the CLI's ``helpers``."""

    @click.command("champions")
    @click.option("--sku", help="Only this SKU.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_context
    def champions_command(ctx: click.Context, sku: str | None, as_json: bool) -> None:
        """Each SKU's live forecast model, its challengers' backtest scores, when it changed."""
        rows = champion_report(helpers.open_engine(ctx).db, sku=sku)
        if as_json:
            click.echo(json.dumps(rows, default=str))
            return
        if not rows:
            click.echo("no champions yet: run `crmflow forecast-run`" if sku is None
                       else f"no champion for {sku}")  # fmt: skip
            if sku is not None:
                ctx.exit(1)
            return
        click.echo(format_table(
            ["sku", "live model", "MASE", "sources", "best challenger", "MASE", "since"],
            [[r["sku"], r["model"], r["backtest_mase"], r["sources"],
              r["challengers"][0]["model"] if r["challengers"] else None,
              r["challengers"][0]["backtest_mase"] if r["challengers"] else None,
              (r["since"] or "")[:16]] for r in rows],
        ))  # fmt: skip
        if sku is not None:
            click.echo("")
            click.echo(f"why: {rows[0]['reason']}")
            for c in rows[0]["challengers"]:
                click.echo(f"  {c['model']}: MASE {c['backtest_mase']}")
        click.echo("MASE: mean absolute error of the rolling-origin backtest over the naive "
                   "seasonal forecast's (below 1 beats it); lowest is live.")  # fmt: skip

    return helpers.common_options(champions_command)  # type: ignore[no-any-return]
