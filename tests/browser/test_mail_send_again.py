"""A customer e-mail fails; an agent sends it again from the case page; the customer's pages on a desk and a phone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.staff import sign_in
from tests.browser.test_case_page import CHROMIUM, page  # noqa: F401 (the launch fixture)
from tests.conftest import make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
LINK = re.compile(r"https?://[^\s]+/portal/c/[A-Za-z0-9_-]+/")
SHOTS = Path("/tmp/shots-mailfix")
WIDTHS = {"desk": 1280, "phone": 375}


def fits(page, width: int) -> bool:  # noqa: F811
    return page.evaluate("() => document.documentElement.scrollWidth") <= width


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_sends_a_failed_mail_again_from_the_case_page(live_server, page, settings, mailoutbox):  # noqa: F811
    from cases.models import OutboxMessage
    from orders.models import Storefront
    from tests.admin.conftest import open_case

    settings.PORTAL_BASE_URL = live_server.url
    settings.EMAIL_BACKEND = "tests.outbox.backends.DownBackend"
    settings.OUTBOX_MAX_ATTEMPTS = 1
    SHOTS.mkdir(exist_ok=True)
    store = Storefront.objects.get(slug="iptv-smarters-pro")
    agent = make_user("alice", "Support agent")
    case = open_case(store, reason="other", order_kwargs={"email": "phone@example.com"})
    message = OutboxMessage.objects.get(case=case, template="received")
    assert message.status == "failed"  # the mail server refused it, and it had one attempt
    link = LINK.search(message.text_body).group(0)

    # The customer's pages: the request form and the case behind the link.
    for name, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/portal/{store.slug}/")
        page.screenshot(path=str(SHOTS / f"portal-request-{width}.png"), full_page=True)
        assert fits(page, width), name
        page.goto(link)
        page.wait_for_selector(f"text={case.number}")
        page.screenshot(path=str(SHOTS / f"portal-case-{width}.png"), full_page=True)
        assert fits(page, width), name

    # The agent sees the failure on the case page and sends the message again.
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server.url, agent, f"/admin/cases/refundcase/{case.pk}/change/")
    mail = page.locator("#mail")
    mail.wait_for()
    for name, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        mail.scroll_into_view_if_needed()
        mail.screenshot(path=str(SHOTS / f"admin-mail-failed-{width}.png"))
        page.screenshot(path=str(SHOTS / f"admin-case-failed-{width}.png"), full_page=True)
        assert mail.bounding_box()["width"] <= width, name
    # The admin's own stylesheet puts a square bullet on every list item; the side cards' lists have none.
    assert page.evaluate(
        "() => [...document.querySelectorAll('#mail li, #portal-links li')]"
        ".map(li => getComputedStyle(li).listStyleType)"
    ) == ["none", "none"]
    button = mail.get_by_role("button", name="Send again")
    assert button.count() == 1

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the mail server is back
    page.set_viewport_size({"width": 1280, "height": 900})
    button.click()
    page.wait_for_selector("#mail .rb-mail-queued, #mail .rb-mail-sent")
    assert "is sending again" in page.locator(".messagelist").inner_text()
    # Without a broker the mail goes out just after the answer: the page after it may be a moment early.
    for _ in range(50):
        if page.locator("#mail .rb-mail-sent").count():
            break
        page.wait_for_timeout(100)
        page.reload()
    page.wait_for_selector("#mail .rb-mail-sent")
    page.locator("#mail").screenshot(path=str(SHOTS / "admin-mail-sent-again-1280.png"))
    history = page.locator("#timeline")
    history.screenshot(path=str(SHOTS / "admin-history-sent-again-1280.png"))
    assert "Customer e-mail" in history.inner_text()
    assert mail.get_by_role("button", name="Send again").count() == 0
    message.refresh_from_db()
    assert message.status == "sent"
    assert [m.to for m in mailoutbox] == [["phone@example.com"]]
