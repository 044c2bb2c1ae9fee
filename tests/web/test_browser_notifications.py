"""A planner with the app open in two tabs: an alert's notification lifts the bell in both
without a reload, appears on top of the list, and marking it read counts both tabs down.

Screenshots go to artifacts/browser/ like the other browser tests'.
"""

from __future__ import annotations

import re

import pytest

from crmflow.core.people.accounts import add_user
from crmflow.notifications import notify, unread_count

from . import test_browser as shared
from .pages import PASSWORD
from .test_notifications_live import open_alert

Person = shared.Person
browser, server = shared.browser, shared.server  # the browser tests' fixtures

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("size", ["desk", "phone"])
def test_the_bell_counts_up_live_and_down_in_the_other_tab(
    browser, server, demo_engine, web_clock, size
):
    from playwright.sync_api import expect

    add_user(demo_engine, "paul", PASSWORD)
    before = unread_count(demo_engine, "paul")
    planner = Person(browser, server, size, "en", "planner")
    try:
        planner.sign_in("paul")
        inbox = planner.page
        listing = planner.context.new_page()  # the same person's second tab
        listing.goto(f"{server}/notifications")
        for tab in (inbox, listing):
            tab.wait_for_selector("body[data-live-state=open]")  # the stream is held
            expect(tab.locator("[data-bell]")).to_have_text(str(before))

        alert = open_alert(demo_engine)  # as a worker would, in the same database
        assert demo_engine.fire(alert.id, "escalate_planner", actor="system").taken

        for tab in (inbox, listing):
            expect(tab.locator("[data-bell]")).to_have_text(str(before + 1))
        newest = listing.locator(".notify-item").first
        expect(newest).to_contain_text("shortage alert open for 4 working hours")
        expect(newest).to_have_class(re.compile(r"\bunread\b"))
        planner.shot("bell")
        planner.page = listing
        planner.shot("list")

        newest.get_by_role("button", name="Mark read").click()
        listing.wait_for_url(f"{server}/notifications")
        expect(listing.locator("[data-bell]")).to_have_text(str(before))
        expect(listing.locator(".notify-item").first).not_to_have_class(re.compile(r"\bunread\b"))
        expect(inbox.locator("[data-bell]")).to_have_text(str(before))  # no reload there
        assert unread_count(demo_engine, "paul") == before

        # a message with a link: shown at the plant's local time; opening it marks it read
        notify(demo_engine, "paul", "Line 2 plan changed", link="/kpi/", key="line-2")
        newest = listing.locator(".notify-item").first
        expect(newest).to_contain_text("Line 2 plan changed")
        local = web_clock.now.astimezone(demo_engine.factory.timezone)
        expect(newest.locator("time")).to_have_text(local.strftime("%Y-%m-%d %H:%M"))
        expect(inbox.locator("[data-bell]")).to_have_text(str(before + 1))
        newest.get_by_role("link", name="Open").click()
        listing.wait_for_url(f"{server}/kpi/")
        expect(inbox.locator("[data-bell]")).to_have_text(str(before))
        assert unread_count(demo_engine, "paul") == before
    finally:
        planner.close()
