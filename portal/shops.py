"""The storefront a portal address names, kept by each process for a minute.

Every portal page starts from the storefront in its address; during an outage burst that lookup was
one of the few queries a request-form post still ran. A process keeps what it read for ``KEEP``
seconds: a shop renamed in the admin shows its new name at once in the process that saved it, and
within a minute everywhere else. Each caller gets its own copy, so nothing one request caches on
the instance reaches the next.
"""

from __future__ import annotations

import copy
import threading
import time

from django.db.models.signals import post_delete, post_save

from orders.models import Storefront

KEEP = 60.0  # seconds
_lock = threading.Lock()
_kept: dict[str, tuple[float, Storefront | None]] = {}


def storefront_by_slug(slug: str) -> Storefront | None:
    now = time.monotonic()
    with _lock:
        kept = _kept.get(slug)
    if kept is None or kept[0] <= now:
        # An unknown slug is kept too: addresses typed wrong cost no query either, and _kept stays
        # bounded by the URL pattern's slugs that are asked for within a minute.
        kept = (now + KEEP, Storefront.objects.filter(slug=slug).first())
        with _lock:
            if len(_kept) > 1000:
                _kept.clear()
            _kept[slug] = kept
    return copy.copy(kept[1]) if kept[1] is not None else None


def forget(**kwargs) -> None:
    with _lock:
        _kept.clear()


def connect() -> None:
    post_save.connect(forget, sender=Storefront, dispatch_uid="portal.shops.saved")
    post_delete.connect(forget, sender=Storefront, dispatch_uid="portal.shops.deleted")
