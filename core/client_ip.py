"""The client's address, for rate limits and the login lockout, behind a known number of proxies.

With ``TRUSTED_PROXY_COUNT = 0`` (no proxy) the address is the connection's own (``REMOTE_ADDR``) and
``X-Forwarded-For`` is never read: anyone can send that header. Behind N proxies, each appends the
address it received the request from, so the client is the Nth entry from the right; everything left
of it was written by the client and is ignored.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

UNKNOWN = "unknown"


def trusted_proxy_count() -> int:
    return max(0, int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0))


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or UNKNOWN
    hops = trusted_proxy_count()
    if hops == 0:
        return remote
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < hops:
        # Fewer hops than configured: the request did not come through every proxy. The connection's
        # address is the only one nobody could have chosen.
        return remote
    return _address(forwarded[-hops]) or remote


def client_address_or_none(request: HttpRequest) -> str | None:
    """For django-axes, which stores the address in an IP address column: None when there is none."""
    address = client_address(request)
    return None if address == UNKNOWN else address
