"""``POST /hooks/woocommerce/<storefront>/``: the shop's webhook deliveries (docs/shop.md).

A delivery is verified against the webhook secret before anything is read from it; a verified one is
answered 2xx at once whatever became of its order (WooCommerce does not retry, and switches a webhook
off after repeated failures): an order that cannot be used is kept aside with the reason.
"""

from __future__ import annotations

import json
import time

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from cases.models import RefundCase
from orders.models import Order, Storefront
from shop.calls import record_call
from shop.intake import take_orders
from shop.keys import SecretsUnreadable
from shop.models import Connection, KeptAsideOrder, ShopCall
from shop.woocommerce import DELETED, ORDER_TOPICS, is_ping, signature_matches


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
@sensitive_variables("secret")
def woocommerce_delivery(request: HttpRequest, slug: str) -> HttpResponse:
    started = time.monotonic()
    body = request.body
    topic = request.headers.get("X-WC-Webhook-Topic", "").strip()
    storefront = Storefront.objects.filter(slug=slug).first()

    def log(status: int, result: str, *, order_id: int | None = None, case_id: int | None = None) -> None:
        record_call(storefront=storefront, kind=Connection.Kind.WOOCOMMERCE, direction=ShopCall.Direction.IN,
                    method="POST", endpoint=request.path, status=status, result=result, started=started,
                    order_id=order_id, case_id=case_id, topic=topic,
                    delivery_id=request.headers.get("X-WC-Webhook-Delivery-ID", "").strip())

    if storefront is None:
        log(404, "no storefront has this address")
        return _plain(404, "no such storefront")
    if is_ping(body):
        # Sent, unsigned, when the webhook is saved in the shop: answered, nothing else.
        log(200, "ping: the webhook was saved in the shop")
        return HttpResponse(status=200)
    connection = Connection.objects.filter(storefront=storefront, kind=Connection.Kind.WOOCOMMERCE).first()
    if connection is None:
        log(404, "the storefront is not connected to WooCommerce")
        return _plain(404, "not connected")
    try:
        secret = connection.secret("webhook_secret")
    except SecretsUnreadable:
        log(503, "the stored webhook secret cannot be read with CONNECTION_KEYS")
        return _plain(503, "cannot verify deliveries now")
    signature = request.headers.get("X-WC-Webhook-Signature", "")
    if not signature.strip():
        log(401, "no signature: nothing read")
        return _plain(401, "signature missing")
    if not signature_matches(body=body, signature=signature, secret=secret):
        log(401, "the signature does not match the webhook secret: nothing read")
        return _plain(401, "signature does not match")

    try:
        item = json.loads(body)
    except ValueError:
        item = None
    if topic == DELETED:
        shop_id = item.get("id") if isinstance(item, dict) else None
        order = Order.objects.filter(storefront=storefront, shop_order_id=shop_id).first() if isinstance(
            shop_id, int) else None
        log(200, f"order id {shop_id} deleted in the shop: noted, nothing is deleted here",
            order_id=order.pk if order else None)
        return _plain(200, "noted")
    if topic not in ORDER_TOPICS:
        log(200, f"topic {topic or '(none)'} is not taken: nothing changed")
        return _plain(200, "topic not taken")
    if not isinstance(item, dict):
        log(200, "the body is not an order object: nothing taken")
        return _plain(200, "not an order")

    try:
        taken = take_orders(storefront=storefront, items=[item], via=KeptAsideOrder.Via.WEBHOOK)
    except Exception:
        # Not taken (the database refused, say): the sync fetches it later. The line says so; the
        # error itself goes to the server's log and error report as any other.
        log(500, "the order could not be taken in now; the next sync fetches it")
        raise
    # One object in, but a stale duplicate may come first: the last word is the one kept.
    outcome = taken.orders[-1]
    case_id = None
    if outcome.order_id is not None:
        case_id = (RefundCase.objects.filter(order_id=outcome.order_id).order_by("-requested_at", "-pk")
                   .values_list("pk", flat=True).first())
    log(200, outcome.words(), order_id=outcome.order_id, case_id=case_id)
    return JsonResponse({"result": outcome.kind})
