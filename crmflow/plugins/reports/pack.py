"""Make a weekly review pack: figures, HTML, optional PDF, stored in the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crmflow.plugins.kpi.service import today

from .i18n import LANGUAGES
from .render import render_html, render_pdf
from .review import last_full_week, parse_week, review_figures, week_label
from .reviews import save_review

__all__ = ["ReviewPack", "make_review"]


@dataclass
class ReviewPack:
    """A rendered pack: its week, figures, HTML, PDF (when asked) and stored id."""

    week: str
    start: dt.date
    end: dt.date
    figures: dict[str, Any]
    html: str
    pdf: bytes | None
    stored_id: int | None


def make_review(engine: Any, week: str | None = None, *, pdf: bool = True, language: str = "en",
                store: bool = True, by: str = "system", replace: bool = True) -> ReviewPack:
    """Build the pack of ``week`` (``2026-W48``; default the last full week) and store it.

    With ``replace=False`` (the scheduler) an already stored pack of the week
    is left as it is and ``stored_id`` is None.
    """
    if language not in LANGUAGES:
        from crmflow.errors import InputError

        raise InputError(f"must be one of {', '.join(LANGUAGES)}", field="--lang")
    if week:
        start, end = parse_week(week)
    else:
        start = last_full_week(today(engine))
        end = start + dt.timedelta(days=7)
    label = week_label(start)
    figures = review_figures(engine, start, end)
    factory = getattr(engine.factory, "title", None) or getattr(engine.factory, "name", "")
    html = render_html(figures, factory=str(factory), language=language)
    document = render_pdf(html) if pdf else None
    stored = None
    if store:
        stored = save_review(engine, week=label, start=start, end=end, language=language,
                             figures=figures, html=html, pdf=document, by=by,
                             replace=replace)  # fmt: skip
    return ReviewPack(label, start, end, figures, html, document, stored)
