"""The review pack as HTML with static SVG charts, and as PDF rendered from it by WeasyPrint."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from crmflow.errors import CrmflowError

from .i18n import translate
from .labels import format_kpi, kpi_label
from .svg import heat_grid, series_chart

__all__ = ["KPI_SECTION", "SECTIONS", "render_html", "render_pdf"]

_TEMPLATES = Path(__file__).parent / "templates"


def N_(text: str) -> str:  # noqa: N802 - the gettext marker extraction tools know
    """Mark ``text`` for translation; it is translated where it is shown."""
    return text


#: The English section headings, in order (the PDF test reads them back).
SECTIONS = (
    N_("KPIs against last week and target"),
    N_("Forecast accuracy by family"),
    N_("Demand changes"),
    N_("Alerts opened and closed"),
    N_("Rush orders"),
    N_("Capacity outlook"),
    N_("Demand, forecast and plan"),
    N_("Stock outlook"),
)
KPI_SECTION = SECTIONS[0]


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )  # fmt: skip
    env.filters["sop_kpi"] = format_kpi
    return env


def _charts(figures: dict[str, Any], _: Any) -> dict[str, str]:
    rows = figures["demand"]["rows"]
    cats = [r["bucket"] for r in rows]
    demand = series_chart(cats, [
        {"id": "demand", "name": _("Demand"), "kind": "line", "data": [r["demand"] for r in rows]},
        {"id": "band", "name": _("Forecast band"), "kind": "band",
         "data": [None if r["forecast"] is None else (r["forecast_low"], r["forecast_high"])
                  for r in rows]},
        {"id": "forecast", "name": _("Forecast"), "kind": "dashed",
         "data": [r["forecast"] for r in rows]},
        {"id": "orders", "name": _("Orders on hand"), "kind": "bar",
         "data": [r["orders"] for r in rows]},
        {"id": "plan", "name": _("Production plan"), "kind": "bar",
         "data": [r["plan"] for r in rows]},
    ], title=_("Demand, forecast and plan"))  # fmt: skip
    lines = figures["capacity"]["lines"]
    weeks = [r["bucket"] for r in lines[0]["rows"]] if lines else []
    grid = heat_grid(
        [line["line"] for line in lines], weeks,
        [[None if r["load_pct"] is None else r["load_pct"] * 100 for r in line["rows"]]
         for line in lines], title=_("Load % per line and week"),
    )  # fmt: skip
    return {"demand": demand, "capacity": grid}


def render_html(figures: dict[str, Any], *, factory: str, language: str = "en") -> str:
    """The pack as one self-contained HTML document (inline SVG, inline CSS, no script)."""

    def _(text: str, **values: Any) -> str:
        return translate(text, language, **values)

    return _env().get_template("sop/review.html").render(
        f=figures, factory=factory, lang=language, _=_, charts=_charts(figures, _),
        sections=[_(s) for s in SECTIONS], label=lambda k: kpi_label(k, _),
        units=figures["kpis"].get("units", {}),
    )  # fmt: skip


def render_pdf(html: str) -> bytes:
    """PDF bytes of the pack's HTML (WeasyPrint; needs Pango and a CJK font for Chinese)."""
    try:
        from weasyprint import HTML  # imported here: it takes a second and needs Pango
    except (ImportError, OSError) as exc:
        raise CrmflowError(
            f"PDF needs WeasyPrint and the Pango library ({exc}); use --format html, or "
            "install them (Debian: apt-get install libpango-1.0-0 fonts-noto-cjk)"
        ) from exc
    return bytes(HTML(string=html).write_pdf())
