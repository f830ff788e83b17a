"""Addresses we put in front of customers."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse


def portal_link_request_url(case) -> str:
    """Where the customer asks for a new link to their case on the storefront's portal.

    The case's own link is a secret we keep only as a hash (cases/customer_links.py): a mail that is
    not the one carrying a fresh link points here instead.
    """
    base = str(settings.PORTAL_BASE_URL).rstrip("/")
    return base + reverse("portal:link", args=[case.order.storefront.slug])
