"""The delegation page shows the engine's refusals: an unknown deputy, oneself, an overlap."""

from __future__ import annotations

import html
import re
from typing import Any

from .pages import sign_in


def _post(page: Any, csrf: str, delegate: str, start: str, end: str) -> tuple[int, str]:
    answer = page.post("/delegation", data={"delegate": delegate, "start": start, "end": end,
                                            "csrf_token": csrf})  # fmt: skip
    text = html.unescape(re.sub(r"\s+", " ", answer.get_data(as_text=True)))
    return answer.status_code, text


def test_the_delegation_page_shows_why_a_delegation_is_refused(demo_app, demo_engine):
    page = demo_app.test_client()
    csrf = sign_in(page, demo_engine, "sam")  # an approver of the demo factory
    code, text = _post(page, csrf, "nobody", "2030-01-01", "2030-01-05")
    assert code == 422 and "delegate: 'nobody' is not a person of this factory" in text, text
    code, text = _post(page, csrf, "sam", "2030-01-01", "2030-01-05")
    assert code == 422 and "delegate: a person cannot delegate to themselves" in text, text
    code, text = _post(page, csrf, "leo", "2030-01-01", "2030-01-05")
    assert code == 200 and "Your approvals go to leo" in text, text
    code, text = _post(page, csrf, "max", "2030-01-05", "2030-01-09")
    assert code == 422 and (
        "start: sam already hands their approvals to leo from 2030-01-01 to 2030-01-05" in text
    ), text
