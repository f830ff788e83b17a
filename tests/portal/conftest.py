"""Builders for the portal tests: a customer's order, a case behind a link, files to send."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.customer_links import issue_link
from cases.models import CaseLink
from tests.conftest import image_bytes, make_order

LINK = re.compile(r"https?://[^\s/]+(/portal/c/[A-Za-z0-9_-]+/)")


@pytest.fixture(autouse=True)
def portal_settings(settings, media):
    """Fresh rate-limit counters, uploads in a directory of the test's own, links on the test server."""
    settings.PORTAL_BASE_URL = "http://testserver"
    caches["default"].clear()
    yield
    caches["default"].clear()


def recent_order(storefront, *, hours_ago: float = 2, **kwargs):
    return make_order(storefront, purchased_at=timezone.now() - timedelta(hours=hours_ago), **kwargs)


def case_with_link(storefront, *, reason: str = "other", order_kwargs=None, **kwargs):
    """A case opened an hour after purchase, and the secret of a live link to it."""
    order = recent_order(storefront, **(order_kwargs or {}))
    case = services.case_create(order=order, reason=reason, requested_at=order.purchased_at + timedelta(hours=1),
                                channel="portal", acknowledge=False, **kwargs)
    secret = issue_link(case=case, why=CaseLink.Why.OPENED, now=timezone.now())
    return case, secret


def case_url(secret: str, name: str = "case", *args) -> str:
    return reverse(f"portal:{name}", args=[secret, *args])


def png(name: str = "shot.png", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes("PNG", **kwargs), content_type="image/png")


def links_in(mailbox) -> list[str]:
    return [match for message in mailbox for match in LINK.findall(message.body)]


@pytest.fixture
def customer() -> Client:
    return Client()
