"""Without a broker, a customer's e-mail is sent by the web process after the response has gone out:
the customer never waits for the mail server. A real server (pytest-django's live server) plays the
web process; the mail server is a backend that answers only when the test lets it."""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request

import pytest
from django.core import mail

from cases.models import OutboxMessage, RefundCase
from tests.outbox.backends import SLOW
from tests.portal.conftest import recent_order

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def slow_mail(settings):
    settings.EMAIL_BACKEND = "tests.outbox.backends.SlowBackend"
    SLOW["answer"].clear()
    SLOW["waiting"].clear()
    yield SLOW
    SLOW["answer"].set()  # never leave the server's thread waiting


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the storefronts are migration data
def test_it_answers_the_request_form_before_the_mail_server_has_answered(live_server, slow_mail, settings):
    from orders.models import Storefront

    settings.PORTAL_BASE_URL = live_server.url
    shop = Storefront.objects.get(slug="iptv-smarters-pro")
    order = recent_order(shop, email="waiting@example.com")
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    url = f"{live_server.url}/portal/{shop.slug}/"
    token = CSRF.search(browser.open(url, timeout=10).read().decode()).group(1)
    form = urllib.parse.urlencode({
        "csrfmiddlewaretoken": token, "order_number": order.number, "email": "waiting@example.com",
        "reason": "other", "description": "Nothing plays.",
    }).encode()
    request = urllib.request.Request(url, data=form, headers={"Referer": url})

    with browser.open(request, timeout=8) as response:  # with the mail sent in the request: a timeout
        assert response.status == 200
        assert "Check your e-mail" in response.read().decode()
    # The order is looked for after the response too (docs/portal.md): wait for the job's case.
    deadline = time.monotonic() + 10
    while not RefundCase.objects.filter(order=order).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    case = RefundCase.objects.get(order=order)
    message = OutboxMessage.objects.get(case=case, template="received")
    assert message.status == OutboxMessage.Status.QUEUED
    assert slow_mail["waiting"].wait(timeout=10), "the mail was never handed to the mail server"

    slow_mail["answer"].set()
    deadline = time.monotonic() + 10
    while message.status != OutboxMessage.Status.SENT and time.monotonic() < deadline:
        time.sleep(0.05)
        message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT and message.attempts == 1
    assert [m.to for m in mail.outbox] == [["waiting@example.com"]]
