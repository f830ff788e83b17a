"""``sync_orders``: what the webhooks missed, read page by page from the shop's REST API.

A run asks for the orders changed after its start (``--since``; else where the last run left off,
less a minute of overlap; else the time of connecting), oldest change first, 100 a page, and takes
each page in as a webhook delivery would (``shop.intake``). After each page the newest change seen
is kept on the connection, so a run cut short by the shop going down resumes there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from orders.imports.records import parse_time
from shop.intake import Taken, plans_of, take_orders
from shop.models import Connection, KeptAsideOrder
from shop.woocommerce import PER_PAGE, ShopError, WooCommerceClient

OVERLAP = timedelta(minutes=1)
# A shop that keeps saying there is another page is not followed past this many.
MAX_PAGES = 100_000


@dataclass
class SyncResult:
    taken: Taken = field(default_factory=Taken)
    pages: int = 0
    since: datetime | None = None
    error: str = ""

    @property
    def summary(self) -> str:
        return self.taken.summary


def sync_start(connection: Connection, since: datetime | None) -> datetime:
    if since is not None:
        return since
    if connection.sync_resume_at is not None:
        return connection.sync_resume_at - OVERLAP
    return connection.connected_at


def sync_orders(*, connection: Connection, since: datetime | None = None, client: WooCommerceClient | None = None,
                now: datetime | None = None) -> SyncResult:
    """Fetch and take in every order changed since the start; ``ShopError`` when the shop fails, with
    what was taken before it kept (and the resume point moved past it)."""
    result = SyncResult(since=sync_start(connection, since))
    storefront = connection.storefront
    plans = plans_of(storefront)
    own_client = client is None
    client = client or WooCommerceClient(connection)
    try:
        page = 1
        while page <= MAX_PAGES:
            fetched = client.orders_page(modified_after=result.since, page=page)
            result.pages += 1
            if not fetched.orders:
                break
            taken = take_orders(storefront=storefront, items=fetched.orders, via=KeptAsideOrder.Via.SYNC, plans=plans,
                                now=now)
            result.taken.orders += taken.orders
            client.note_result(fetched.call, f"{len(fetched.orders)} orders: {taken.summary}")
            _resume_after(connection, fetched.orders)
            if len(fetched.orders) < PER_PAGE or (fetched.total_pages is not None and page >= fetched.total_pages):
                break
            page += 1
    except ShopError as error:
        result.error = str(error)
        raise
    finally:
        if own_client:
            client.__exit__(None, None, None)
        _record_run(connection, result, now=now)
    return result


def _resume_after(connection: Connection, orders: list) -> None:
    """Keep the newest change the page holds on the connection, never moving it back (two runs at once)."""
    newest = None
    for item in orders:
        try:
            moment = parse_time(item.get("date_modified_gmt")) if isinstance(item, dict) else None
        except (TypeError, ValueError, OverflowError):
            moment = None
        if moment is not None and (newest is None or moment > newest):
            newest = moment
    if newest is None:
        return
    Connection.objects.filter(pk=connection.pk).filter(
        Q(sync_resume_at__isnull=True) | Q(sync_resume_at__lt=newest)).update(sync_resume_at=newest)
    if connection.sync_resume_at is None or connection.sync_resume_at < newest:
        connection.sync_resume_at = newest


def _record_run(connection: Connection, result: SyncResult, *, now: datetime | None) -> None:
    connection.last_sync_at = now or timezone.now()
    connection.last_sync_result = (result.error or result.summary)[:200]
    Connection.objects.filter(pk=connection.pk).update(last_sync_at=connection.last_sync_at,
                                                       last_sync_result=connection.last_sync_result)
