"""The customer answers "which device?" in words on a phone; the agent reads it on the case page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.staff import sign_in
from tests.browser.test_case_page import CHROMIUM, page  # noqa: F401 (the launch fixture)
from tests.conftest import make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
SHOTS = Path("/tmp/shots-conversation")
WIDTHS = {"desktop": (1366, 900), "phone": (375, 812)}


@pytest.mark.clause("S0-EVIDENCE")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_answers_an_evidence_request_in_words_and_staff_read_it(live_server, page, settings, tmp_path):  # noqa: F811
    from django.utils import timezone

    from cases import services
    from cases.customer_links import CaseLink, issue_link
    from cases.models import RefundCase
    from orders.models import Storefront
    from tests.admin.conftest import open_case

    settings.MEDIA_ROOT = tmp_path / "media"
    SHOTS.mkdir(exist_ok=True)
    agent = make_user("alice", "Support agent")
    case = open_case(Storefront.objects.get(slug="iptv-smarters-pro"), reason="technical_issue", assignee=agent)
    services.case_start_fix(case=case, actor=agent, note="Reseller line 4 throttled; asked ops.")
    services.case_fix_failed(case=case, actor=agent)
    services.case_request_evidence(case=case, actor=agent, message="Which device and app do you watch on?")
    secret = issue_link(case=case, why=CaseLink.Why.OPENED, now=timezone.now())

    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(f"{live_server.url}/portal/c/{secret}/")
    page.fill("#id_message", "A Samsung TV with the Smarters app; on my phone it works.")
    page.locator("#write button[type=submit]").click()
    page.wait_for_selector("#notice")
    body = page.content()
    assert "Your message was sent" in body and "You wrote" in body
    assert "Reseller line 4" not in body  # the fix note was not ticked for the customer
    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"portal-case-{name}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width

    stored = RefundCase.objects.get(pk=case.pk)
    assert stored.state == "requested" and stored.customer_wrote_at is not None

    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, live_server.url, agent, f"/admin/cases/refundcase/{case.pk}/change/")
    page.wait_for_selector("#timeline")
    staff = page.content()
    assert "The customer sent a message" in staff and "The customer sent what was asked for" in staff
    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"staff-case-{name}.png"), full_page=True)
    assert RefundCase.objects.get(pk=case.pk).customer_wrote_at is None  # the assignee opened it
