"""A customer on a phone asks for a refund with a screenshot; the agent asks for more; the customer sends it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.staff import sign_in
from tests.browser.test_case_page import CHROMIUM, page  # noqa: F401 (the launch fixture)
from tests.conftest import eventually, image_bytes, make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
LINK = re.compile(r"https?://[^\s]+/portal/c/[A-Za-z0-9_-]+/")
SHOTS = Path("/tmp/shots-portal")


def screenshot_file(tmp_path: Path, name: str, size=(390, 844)) -> str:
    path = tmp_path / name
    path.write_bytes(image_bytes("PNG", size=size))
    return str(path)


@pytest.mark.clause("S0-EVIDENCE")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_takes_a_request_and_requested_evidence_from_a_phone(live_server, page, settings, tmp_path, mailoutbox):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    from cases.models import RefundCase
    from orders.models import Storefront
    from tests.conftest import make_order

    settings.PORTAL_BASE_URL = live_server.url
    settings.MEDIA_ROOT = tmp_path / "media"
    SHOTS.mkdir(exist_ok=True)
    agent = make_user("alice", "Support agent")
    store = Storefront.objects.get(slug="iptv-smarters-pro")
    order = make_order(store, purchased_at=timezone.now() - timedelta(hours=5), email="phone@example.com")

    # The customer, on a phone.
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{live_server.url}/portal/{store.slug}/")
    page.fill("#id_order_number", order.number)
    page.fill("#id_email", "phone@example.com")
    page.select_option("#id_reason", "technical_issue")
    assert "We try to fix the problem first" in page.locator("[data-hints]").inner_text()
    page.fill("#id_description", "The app says 'server not found'.")
    page.set_input_files("#id_screenshots", screenshot_file(tmp_path, "error.png"))
    page.keyboard.press("Tab")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your e-mail")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375

    # The order is looked for, and the e-mail sent, once the page has gone out.
    case = eventually(lambda: RefundCase.objects.filter(order=order).first())
    assert case.channel == "portal" and case.evidence.count() == 1
    [received] = eventually(lambda: [m for m in mailoutbox if m.to == ["phone@example.com"]])
    first_link = LINK.search(received.body).group(0)

    # The agent, at a desk, sees the thumbnail and asks for more.
    agent_page = page.context.browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(agent_page, live_server.url, agent, f"/admin/cases/refundcase/{case.pk}/change/")
    thumb = agent_page.locator("#evidence img.rb-thumb")
    thumb.wait_for()
    thumb.scroll_into_view_if_needed()  # the preview loads lazily
    agent_page.wait_for_function(
        "() => { const img = document.querySelector('#evidence img.rb-thumb'); "
        "return img && img.complete && img.naturalWidth > 0; }"
    )
    form = agent_page.locator("form[data-action=request_evidence]")
    form.locator("textarea").fill("Please send a photo of the error on your TV screen.")
    form.locator("button[type=submit]").click()
    agent_page.wait_for_selector("#case-state:has-text('Evidence requested')")
    agent_page.close()

    # The customer follows the link in the new e-mail and sends another screenshot.
    [asked] = eventually(lambda: [m for m in mailoutbox if "more information" in m.body])
    link = LINK.search(asked.body).group(0)
    assert link != first_link
    page.goto(link)
    assert "Please send a photo of the error on your TV screen." in page.locator("#evidence-message").inner_text()
    page.screenshot(path=str(SHOTS / "browser-evidence-375.png"), full_page=True)
    page.set_input_files("#id_files", screenshot_file(tmp_path, "tv.png", size=(640, 480)))
    page.locator(".upload button[type=submit]").click()
    page.wait_for_selector("#notice")
    assert "tv.png" in page.locator("#notice").inner_text() and "received" in page.locator("#notice").inner_text()
    assert "We are reviewing your request" in page.locator("#case-status").inner_text()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(SHOTS / "browser-answered-375.png"), full_page=True)

    case.refresh_from_db()
    assert case.state == "requested" and case.flagged and case.evidence.count() == 2
