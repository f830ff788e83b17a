"""Addresses we put in front of customers."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings


def portal_case_url(case) -> str:
    """The absolute address of the case's page behind its secret link: /portal/<storefront>/case/<key>/."""
    base = settings.SITE_URL.rstrip("/")
    slug = quote(case.order.storefront.slug, safe="")
    return f"{base}/portal/{slug}/case/{quote(case.portal_key, safe='')}/"
