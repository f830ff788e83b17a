"""An agent works a case in a real browser: decision panel, approve, new state."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin.conftest import open_case
from tests.browser.staff import sign_in
from tests.conftest import make_user

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


@pytest.fixture
def page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Sync Playwright runs an event loop in this thread, and Django refuses ORM calls from a thread
    # with a running loop. Set for this test only: the deploy check rightly rejects it elsewhere.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    from playwright.sync_api import Error as PlaywrightError

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except PlaywrightError as error:  # a chromium that cannot start here says nothing about our pages
            pytest.skip(f"chromium at {CHROMIUM} does not start: {error.message.splitlines()[0]}")
        try:
            yield browser.new_page()
        finally:
            browser.close()
            # The test body runs in Playwright's greenlet, whose context has database connections
            # of its own: left open, they keep PostgreSQL from dropping the test database.
            from django.db import connections

            connections.close_all()


@pytest.mark.clause("S0-WINDOW")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_an_agent_approve_from_the_case_page(live_server, page):
    from orders.models import Storefront

    agent = make_user("alice", "Support agent")
    case = open_case(Storefront.objects.get(slug="iptv-smarters-pro"), reason="other",
                     order_kwargs={"amount": "42.50"})

    sign_in(page, live_server.url, agent, f"/admin/cases/refundcase/{case.pk}/change/")

    panel = page.locator("#decision-panel")
    panel.wait_for()
    assert "Full refund" in panel.inner_text()
    assert "42.50 USD" in panel.inner_text()
    assert "S0-WINDOW" in panel.inner_text()
    assert "Refunds must be requested within 48 h of purchase" in panel.inner_text()
    assert page.locator("#case-state").inner_text() == "Requested"

    approve = page.locator("form[data-action=approve]")
    assert approve.locator("input[name=approve-amount]").input_value() == "42.50"
    approve.locator("textarea[name=approve-note]").fill("Inside the 48 h window.")
    approve.locator("button[type=submit]").click()

    page.wait_for_selector("#case-state:has-text('Approved')")
    assert "is now approved" in page.locator(".messagelist").inner_text()
    assert "Inside the 48 h window." in page.locator("#timeline").inner_text()
    case.refresh_from_db()
    assert case.state == "approved" and str(case.approved_amount) == "42.50"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_fits_the_case_page_and_list_at_1024_and_375_px(live_server, page, tmp_path):
    from orders.models import Storefront

    agent = make_user("alice", "Support agent")
    case = open_case(Storefront.objects.get(slug="iptv-smarters-pro"), reason="other",
                     description="https://example.com/" + "x" * 300)
    page.set_viewport_size({"width": 1024, "height": 900})
    sign_in(page, live_server.url, agent, f"/admin/cases/refundcase/{case.pk}/change/")
    page.locator("#decision-panel").wait_for()
    for width, url in ((1024, f"/admin/cases/refundcase/{case.pk}/change/"),
                       (375, f"/admin/cases/refundcase/{case.pk}/change/"),
                       (1024, "/admin/cases/refundcase/")):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(live_server.url + url)
        page.screenshot(path=str(Path("/tmp") / f"case-{width}-{'list' if url.endswith('refundcase/') else 'page'}.png"),
                        full_page=True)
        # A long unbroken word wraps instead of widening the page.
        main = page.evaluate("() => document.querySelector('#content-main, #content').scrollWidth")
        assert main <= width, f"{url} is {main}px wide at {width}px"
