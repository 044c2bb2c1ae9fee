"""A rep and a supervisor at work, in Debian's Chromium, on a phone and a desk, in both languages.

The app is served by waitress (as `crmflow run` serves it) on a free loopback port;
screenshots of every page go to artifacts/browser/ (CRMFLOW_ARTIFACTS overrides).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmflow.core.people.accounts import add_user

from .conftest import waitress_serving
from .pages import PASSWORD
from .test_api import open_line

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("CRMFLOW_ARTIFACTS") or
                 Path(__file__).resolve().parents[2] / "artifacts" / "browser")  # fmt: skip
SIZES = {"phone": (390, 844), "desk": (1280, 800)}
WORDS = {
    "en": {"username": "Username", "password": "Password", "sign_in": "Sign in",
           "preview": "Preview impact", "record": "Record change", "recorded": "Change recorded",
           "ctp": "Capable-to-promise date", "find": "Find", "value": "New value"},
    "zh-CN": {"username": "用户名", "password": "密码", "sign_in": "登录", "preview": "预览影响",
              "record": "提交变更", "recorded": "变更已记录", "ctp": "可承诺交期", "find": "查找",
              "value": "新值"},
}  # fmt: skip


@pytest.fixture
def server(demo_app: Any) -> Iterator[str]:
    with waitress_serving(demo_app, threads=8) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs it with apt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])  # fmt: skip
        yield chromium
        chromium.close()


class Person:
    """One person's browser tab, with the steps they take."""

    def __init__(self, browser: Any, base: str, size: str, lang: str, name: str) -> None:
        width, height = SIZES[size]
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           locale=lang)  # fmt: skip
        self.page = self.context.new_page()
        self.base, self.size, self.lang, self.name = base, size, lang, name
        self.words = WORDS[lang]
        self.shots = 0

    def shot(self, what: str) -> None:
        """Save a screenshot and check the page does not scroll sideways."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = ARTIFACTS / f"{self.name}-{self.size}-{self.lang}-{self.shots:02d}-{what}.png"
        self.page.screenshot(path=str(path), full_page=True)
        overflow = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{what}: {overflow}px of horizontal scroll at {self.size}"

    def sign_in(self, username: str) -> None:
        self.page.goto(f"{self.base}/?lang={self.lang}")
        assert self.page.locator("html").get_attribute("lang") == self.lang
        self.shot("login")
        self.page.get_by_label(self.words["username"]).fill(username)
        self.page.get_by_label(self.words["password"]).fill(PASSWORD)
        self.page.get_by_role("button", name=self.words["sign_in"]).click()
        self.page.wait_for_url(re.compile(r"^http://[^/]+/(\?.*)?$"))
        self.shot("inbox")

    def close(self) -> None:
        self.context.close()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("size", ["phone", "desk"])
def test_rep_finds_the_order_and_records_a_change_after_seeing_its_impact(
    browser, server, demo_engine, size, lang
):
    import sqlalchemy as sa

    add_user(demo_engine, "rita", PASSWORD)
    line = open_line(demo_engine)
    with demo_engine.db.connect() as conn:  # the demo's own history of changes is left out
        last = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM demand_changes")).scalar()
    rep = Person(browser, server, size, lang, "rep")
    try:
        rep.sign_in("rita")
        page = rep.page
        page.locator("#q").fill(line.order_id)
        page.get_by_role("button", name=rep.words["find"], exact=True).click()
        rep.shot("search")
        page.get_by_role("link", name=line.order_id).first.click()
        page.wait_for_url(f"**/orders/{line.order_id}")
        rep.shot("order")
        page.locator("#sku").select_option(line.sku)
        page.locator("#field").select_option("quantity")
        page.get_by_label(rep.words["value"]).fill(str(int(line.quantity) * 3))
        page.get_by_role("button", name=rep.words["preview"]).click()
        page.wait_for_selector("#impact .tile")
        assert rep.words["ctp"] in page.locator("#impact").inner_text()
        rep.shot("impact")
        page.get_by_role("button", name=rep.words["record"]).click()
        page.wait_for_selector("p.ok")
        assert rep.words["recorded"] in page.locator("p.ok").inner_text()
        rep.shot("recorded")
    finally:
        rep.close()
    with demo_engine.db.connect() as conn:
        made = conn.execute(sa.text("SELECT approval_state FROM demand_changes WHERE "
                                    "order_id = :o AND sku = :s AND changed_by = 'rita' "
                                    "AND id > :last"),
                            {"o": line.order_id, "s": line.sku, "last": last},
                            ).scalars().all()  # fmt: skip
    assert made == ["pending"]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize("size", ["phone", "desk"])
def test_supervisor_approves_from_the_inbox(browser, server, demo_engine, size, lang):
    add_user(demo_engine, "sam", PASSWORD)
    waiting = next(i for i in demo_engine.list(workflow="demand_change")
                   if i.state == "supervisor_approval")  # fmt: skip
    boss = Person(browser, server, size, lang, "supervisor")
    try:
        boss.sign_in("sam")
        page = boss.page
        page.locator(f'a[href="/instances/{waiting.id}"]').first.click()
        page.wait_for_url(f"**/instances/{waiting.id}")
        boss.shot("approval")
        page.locator(f"#comment-{waiting.id}").fill("ok, plan it")
        page.locator('button[name="trigger"][value="approve"]').click()
        page.wait_for_selector("p.ok")
        boss.shot("approved")
    finally:
        boss.close()
    done = demo_engine.get(waiting.id)
    assert done.state == "plan_adjusted" and done.history[-1].actor == "sam"


def test_the_api_page_lists_every_route_from_vendored_assets(browser, server, demo_engine):
    add_user(demo_engine, "mia", PASSWORD)
    manager = Person(browser, server, "desk", "en", "api")
    errors: list[str] = []
    manager.page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requested: list[str] = []
    manager.page.on("request", lambda r: requested.append(r.url))
    try:
        manager.sign_in("mia")
        manager.page.goto(f"{server}/docs/api")
        manager.page.wait_for_selector(".opblock", timeout=30000)
        assert manager.page.locator(".opblock").count() >= 12
        manager.shot("api")
    finally:
        manager.close()
    assert all(url.startswith(server) for url in requested), "a request left the app"
    assert not [e for e in errors if "Content Security Policy" in e], errors
