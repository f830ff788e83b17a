"""A manager made to set up a second factor, in a real browser: the set-up page with its QR code, the
backup codes, then the code after the next password, at a laptop's 1366 px and a phone's 375 px."""

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
SHOTS = Path("/tmp/shots-second-factor")
WIDTHS = {"laptop": (1366, 800), "phone": (375, 740)}
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
QR_DRAWN = "() => { const i = document.querySelector('img.rb-sf-qr'); return i.complete && i.naturalWidth > 100; }"


def phone_code(secret: str, *, later: int = 0) -> str:
    """What an authenticator app shows for the key typed by hand from the page."""
    from base64 import b32decode

    from django_otp.oath import totp

    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    return f"{totp(key, drift=later):06d}"


def look(page, name: str) -> None:  # noqa: F811
    """Screenshots at both widths; neither scrolls sideways."""
    SHOTS.mkdir(exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
        assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{name} scrolls sideways at {width} px"
    page.set_viewport_size({"width": 1366, "height": 800})


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_walks_a_manager_through_setting_up_an_app_and_signing_in_with_it(live_server, page, settings):  # noqa: F811
    settings.OTP_REQUIRED_FOR_PRIVILEGED = True
    manager = make_user("maria", "Support manager")
    refused = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)

    sign_in(page, live_server.url, manager, "/admin/cases/refundcase/")
    page.wait_for_selector("img.rb-sf-qr")
    assert "/admin/second-factor/set-up/" in page.url
    page.wait_for_function(QR_DRAWN)
    look(page, "set-up")
    secret = page.locator("#secret").inner_text()
    assert len(secret.replace(" ", "")) == 32

    page.fill("#id_code", "000000" if phone_code(secret) != "000000" else "111111")
    page.click("input[type=submit]")
    page.wait_for_selector(".errornote")
    assert "does not match" in page.locator(".errornote").inner_text()
    look(page, "set-up-wrong-code")

    page.fill("#id_code", phone_code(secret))
    page.click("input[type=submit]")
    page.wait_for_selector("#backup-codes")
    assert page.locator("#backup-codes li").count() == 10
    look(page, "backup-codes")
    page.click("text=I have kept them: continue")
    page.wait_for_selector("#workplace-tools")

    page.locator("#logout-form button").click()
    sign_in(page, live_server.url, manager, "/admin/cases/refundcase/")
    page.wait_for_selector("#code-form")
    assert "/admin/second-factor/code/" in page.url
    look(page, "code")
    page.fill("#id_code", "000000" if phone_code(secret, later=1) != "000000" else "111111")
    page.click("#code-form input[type=submit]")
    page.wait_for_selector("#code-error")
    look(page, "code-wrong")
    page.wait_for_timeout(1100)  # django-otp's back-off after one wrong code
    page.fill("#id_code", phone_code(secret, later=1))
    page.click("#code-form input[type=submit]")
    page.wait_for_selector("#changelist")
    assert page.url.endswith("/admin/cases/refundcase/")

    page.goto(f"{live_server.url}/admin/second-factor/")
    look(page, "overview")

    # A colleague's lost phone: the staff list and the reset's confirmation.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    agent = make_user("alice", "Support agent", first_name="Alice", last_name="Martin")
    TOTPDevice.objects.create(user=agent, name="Authenticator app", confirmed=True)
    page.goto(f"{live_server.url}/admin/second-factor/staff/")
    look(page, "staff")
    page.click(f"a[href='/admin/second-factor/staff/{agent.pk}/reset/']")
    page.wait_for_selector("input.rb-sf-danger")
    look(page, "reset")
    page.click("input.rb-sf-danger")
    page.wait_for_selector(".messagelist")
    assert "Second factor of Alice Martin (alice) reset" in page.locator(".messagelist").inner_text()
    assert not TOTPDevice.objects.filter(user=agent).exists()
    assert refused == []
