"""Rate limits for the portal's forms, counted in Django's cache (Redis when ``CACHE_URL`` names one).

Fixed windows: a counter per (limit, who, window) that expires with its window. Per address means the
client's IP address and the e-mail address typed in; per order means the order number typed in,
whether or not it exists; per case means the case a link or an order leads to. A limit that depends on whether an order exists never changes the page (enumeration): the
view only skips the mail.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from core.client_ip import client_address as _client_address

DEFAULTS = {
    # name: (how many, per seconds)
    # Per address: wide. A mobile carrier puts hundreds of customers behind one address (CGNAT), and
    # during an outage they all ask at once. The tight limits are per e-mail address and per order.
    "request_ip": (300, 3600),
    "request_email": (5, 3600),
    "request_order": (5, 3600),
    "link_ip": (300, 3600),
    "link_email": (5, 3600),
    "link_order": (5, 3600),
    "link_case": (3, 3600),
    "upload_ip": (600, 3600),
    "upload_case": (30, 3600),
    "message_ip": (300, 3600),
    "message_case": (10, 3600),
}


@dataclass(frozen=True)
class Limited(Exception):
    retry_after: int


def _limit(name: str) -> tuple[int, int]:
    configured = getattr(settings, "PORTAL_RATE_LIMITS", {}) or {}
    count, seconds = configured.get(name, DEFAULTS[name])
    return int(count), int(seconds)


def hit(name: str, who: str, *, cost: int = 1) -> None:
    """Count ``cost`` uses of ``name`` by ``who``; raise :class:`Limited` past the limit."""
    count, seconds = _limit(name)
    cache = caches[getattr(settings, "PORTAL_RATE_LIMIT_CACHE", "default")]
    now = int(time.time())
    window = now // seconds
    # Hashed: the cache holds no e-mail addresses.
    key = f"portal:rl:{name}:{hashlib.sha256(who.lower().encode()).hexdigest()[:32]}:{window}"
    if isinstance(cache, RedisCache):
        used = _redis_count(cache, key, cost, seconds)
    else:
        cache.add(key, 0, timeout=seconds)
        try:
            used = cache.incr(key, cost)
        except ValueError:  # expired between add and incr
            cache.set(key, cost, timeout=seconds)
            used = cost
    if used > count:
        raise Limited(retry_after=(window + 1) * seconds - now)


def _redis_count(cache: RedisCache, key: str, cost: int, seconds: int) -> int:
    """One round trip instead of the cache API's three (add, then incr's exists and incr). In one
    MULTI, so the counter cannot expire between its creation and its increment. Django's Redis cache
    stores integers as plain numbers, so ``cache.get`` reads the same counter."""
    key = cache.make_and_validate_key(key)
    client = cache._cache.get_client(key, write=True)
    pipe = client.pipeline(transaction=True)
    pipe.set(key, 0, ex=seconds, nx=True)
    pipe.incrby(key, cost)
    return int(pipe.execute()[1])


def allowed(name: str, who: str) -> bool:
    try:
        hit(name, who)
    except Limited:
        return False
    return True


def order_key(storefront_slug: str, order_number: str) -> str:
    """The order number as typed, the way the order lookup reads it (so "#100234 " is "100234")."""
    return f"{storefront_slug}:{(order_number or '').strip().lstrip('#').strip().lower()}"


def client_address(request) -> str:
    """The client's IP address, read behind ``TRUSTED_PROXY_COUNT`` proxies (``core.client_ip``)."""
    return _client_address(request)
