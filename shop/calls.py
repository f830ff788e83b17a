"""The call log: every call to a shop and every delivery from one, in a line each (docs/shop.md)."""

from __future__ import annotations

import time

from orders.models import Storefront
from shop.models import ShopCall


def record_call(*, storefront: Storefront | None, kind: str, direction: str, method: str, endpoint: str,
                status: int | None, result: str, started: float | None = None, order_id: int | None = None,
                case_id: int | None = None, topic: str = "", delivery_id: str = "") -> ShopCall:
    """One line of the call log. ``endpoint`` is a path and query the product built or was posted to:
    never a host's credentials, never a header or a body; ``result`` a short sentence."""
    duration = None if started is None else int((time.monotonic() - started) * 1000)
    return ShopCall.objects.create(
        storefront=storefront, kind=kind, direction=direction, method=method, endpoint=endpoint[:500],
        status=status, result=result[:300], duration_ms=duration, topic=topic[:60], delivery_id=delivery_id[:64],
        order_id=order_id, case_id=case_id,
    )
