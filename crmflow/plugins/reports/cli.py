"""`crmflow report …`: the weekly S&OP review pack, and the stored packs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from crmflow.cli_helpers import open_engine

__all__ = ["report"]



@click.group()
def report() -> None:
    """S&OP reports: the weekly review pack (also made by the worker on `report_cron`)."""


@report.command("review")
@click.option("--week", metavar="YYYY-Www",
              help="ISO week, e.g. 2026-W48 (default: the last full week)")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["html", "pdf"]), default="html",
              show_default=True)  # fmt: skip
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="file to write (default: HTML to standard output, PDF to review-WEEK.pdf)")
@click.option("--lang", type=click.Choice(["en", "zh-CN"]), default="en", show_default=True)
@click.option("--store/--no-store", default=True, show_default=True,
              help="keep the pack in the database (listed in the web app)")  # fmt: skip
@click.pass_context
def review(ctx: click.Context, week: str | None, fmt: str, output: Path | None, lang: str,
           store: bool) -> None:  # fmt: skip
    """Render the weekly S&OP review pack: KPIs, forecast accuracy, changes, alerts, rush
    orders and the capacity outlook, with charts.

    The PDF is rendered from the HTML by WeasyPrint; the pack is stored unless --no-store.
    """
    from .pack import make_review

    engine = open_engine(ctx)
    pack = make_review(engine, week, pdf=fmt == "pdf", language=lang, store=store, by="cli")
    if fmt == "pdf":
        target = output or Path(f"review-{pack.week}.pdf")
        assert pack.pdf is not None
        _write(target, pack.pdf)
        click.echo(f"wrote {target} ({len(pack.pdf):,} bytes, week {pack.week})", err=True)
    elif output is None:
        sys.stdout.write(pack.html)
    else:
        _write(output, pack.html.encode("utf-8"))
        click.echo(f"wrote {output} (week {pack.week})", err=True)
    if pack.stored_id is not None:
        click.echo(f"stored as review pack {pack.stored_id}", err=True)


def _write(target: Path, data: bytes) -> None:
    """Write through a temporary file, so a failure never leaves half a document."""
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    tmp.replace(target)


@report.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """Stored review packs, newest first."""
    from .reviews import list_reviews

    items = list_reviews(open_engine(ctx))
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        pdf = "pdf" if item["has_pdf"] else "html"
        click.echo(f"{item['id']:>5}  {item['week']}  {item['language']:<5} {pdf:<4} "
                   f"{item['created_at']}  {item['created_by']}")  # fmt: skip
