"""`crmflow report review`: the pack's sections, its figures against `crmflow kpi --json`."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from pypdf import PdfReader

from crmflow.cli import cli
from crmflow.errors import InputError
from crmflow.plugins.reports.labels import format_kpi, kpi_label
from crmflow.plugins.reports.pack import make_review
from crmflow.plugins.reports.render import SECTIONS
from crmflow.plugins.reports.reviews import get_review, list_reviews
from crmflow.plugins.reports.schedule import due_week, run_due_reviews

KPI_KEYS = ("order_fill_rate", "line_fill_rate", "unit_fill_rate", "on_time_delivery",
            "forecast_accuracy", "forecast_bias", "inventory_turnover",
            "days_inventory_outstanding", "delivery_lead_time_days",
            "rush_response_hours")  # fmt: skip


def english(key: str) -> str:
    return kpi_label(key, lambda text, **kw: text)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def cli_args(sop, tmp_path):
    return ["--db", str(sop.db.url), "--workflows", str(tmp_path / "workflows")]


@pytest.mark.slow
def test_the_pdf_has_every_section_and_the_kpis_of_crmflow_kpi(runner, cli_args, tmp_path):
    out = tmp_path / "pack.pdf"

    made = runner.invoke(cli, [*cli_args, "report", "review", "--week", "2026-W47",
                               "--format", "pdf", "--output", str(out)])  # fmt: skip
    kpis = runner.invoke(cli, [*cli_args, "kpi", "--from", "2026-11-16", "--to", "2026-11-23",
                               "--json"])  # fmt: skip

    assert made.exit_code == 0, made.output
    assert kpis.exit_code == 0, kpis.output
    report = json.loads(kpis.output)
    text = pdf_text(out.read_bytes())
    assert "Weekly S&OP review 2026-W47" in text
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions)  # every section, in order
    checked = 0
    for key in KPI_KEYS:
        row = next(line for line in text.splitlines() if line.startswith(english(key) + " "))
        # the row: label, this week, last week, target, key
        assert row.split(english(key), 1)[1].strip().startswith(format_kpi(
            report[key], report["units"][key])), (key, row)  # fmt: skip
        checked += report[key] is not None
    assert checked >= 4  # the small factory has fill rates and lead times that week


def test_html_to_standard_output_and_stored_and_listed(runner, cli_args):
    made = runner.invoke(cli, [*cli_args, "report", "review", "--week", "2026-W47"])
    listed = runner.invoke(cli, [*cli_args, "report", "list", "--json"])

    assert made.exit_code == 0, made.output
    assert "<h1>Weekly S&amp;OP review 2026-W47</h1>" in made.stdout
    assert "<script" not in made.stdout
    [item] = json.loads(listed.output)
    assert (item["week"], item["language"], item["has_pdf"], item["created_by"]) == (
        "2026-W47", "en", False, "cli")  # fmt: skip


def test_a_bad_week_is_refused_with_the_option_named(runner, cli_args):
    result = runner.invoke(cli, [*cli_args, "report", "review", "--week", "2026-48"])

    assert result.exit_code != 0
    assert "--week" in result.output and "2026-W48" in result.output
    with pytest.raises(InputError, match="no week 54"):
        from crmflow.plugins.reports.review import parse_week

        parse_week("2026-W54")


def test_the_pack_in_chinese(sop):
    pack = make_review(sop, "2026-W47", pdf=False, language="zh-CN")

    assert 'lang="zh-CN"' in pack.html
    assert "关键指标：与上周及目标对比" in pack.html and "产能展望" in pack.html


def test_figures_of_the_pack_are_stored_with_it(sop):
    pack = make_review(sop, "2026-W47", pdf=False)

    stored = get_review(sop, pack.stored_id)

    assert stored["figures"]["kpis"]["order_fill_rate"] == pack.figures["kpis"]["order_fill_rate"]
    assert stored["figures"]["capacity"]["lines"][0]["overloads"] == 1  # L1, week of 30 Nov
    assert re.search(r"L1: 1 overloaded weeks", stored["html"])


def test_report_cron_makes_last_weeks_pack_once(sop):
    monday = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)

    assert due_week(sop, monday - dt.timedelta(minutes=1)) == "2026-W47"
    assert due_week(sop, monday) == "2026-W48"
    sop.hook("run_scheduled")(engine=sop, now=monday + dt.timedelta(minutes=5))

    [item] = list_reviews(sop)
    assert (item["week"], item["has_pdf"], item["created_by"]) == ("2026-W48", True, "worker")
    assert due_week(sop, monday + dt.timedelta(hours=1)) is None
    assert run_due_reviews(sop, monday + dt.timedelta(hours=1)) is None
    assert len(list_reviews(sop)) == 1


def test_report_cron_is_read_in_the_factory_time_zone(make_sop):
    from zoneinfo import ZoneInfo

    engine = make_sop(timezone=ZoneInfo("Asia/Shanghai"), settings={"report_cron": "0 7 * * 1"})
    # Monday 07:00 in Shanghai is Sunday 23:00 UTC.
    sunday_utc = dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.UTC)

    assert due_week(engine, sunday_utc - dt.timedelta(minutes=1)) == "2026-W47"
    assert due_week(engine, sunday_utc) == "2026-W48"
