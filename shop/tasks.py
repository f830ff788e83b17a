"""The periodic sync of every storefront connected to WooCommerce (beat: ``sync-shop-orders``)."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="shop.sync_connected_orders", ignore_result=True)
def sync_connected_orders() -> dict[str, str]:
    """``sync_orders`` for each connected storefront in turn; one shop being down stops none of the others."""
    from shop.models import Connection
    from shop.sync import sync_orders
    from shop.woocommerce import ShopError

    results = {}
    for connection in Connection.objects.filter(kind=Connection.Kind.WOOCOMMERCE).select_related("storefront"):
        try:
            results[connection.storefront.slug] = sync_orders(connection=connection).summary
        except ShopError as error:
            logger.warning("sync_orders: %s", error)
            results[connection.storefront.slug] = str(error)
    return results


@shared_task(name="shop.settle_refunds", ignore_result=True)
def settle_refunds() -> str:
    """``settle_refunds``: every refund sent to a shop whose answer is not known yet (beat: ``settle-shop-refunds``)."""
    from shop.refunds import settle_refunds as settle

    return settle().summary
