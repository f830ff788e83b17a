"""Refunds sent through a connected WooCommerce shop, exactly once (docs/shop.md); and the settling
run of every shop channel (``settle_refunds``; Stripe's steps are ``shop.stripe_refunds``).

The cases write a ``RefundRequest`` when a manager pays a case whose order came from a connected
shop, and call ``WooCommerceRefunds.send`` once it is committed; ``settle_refunds`` (beat, and the
command of that name) calls the same step for every request still waiting. A step:

- A request never sent is sent: ``POST /wp-json/wc/v3/orders/<id>/refunds`` with the request's key as
  ``refund_payout`` in its ``meta_data``.
- A request sent before whose answer is not known (no answer in time, the connection lost, a 5xx) is
  never sent again blindly: the order's refunds are read first, and one carrying the key is the
  answer. Only when none does, and the last attempt is older than the client's timeout plus a margin
  (by then the shop has finished with it, whatever it did), is it sent again, with the same key.
- The shop's sure answers settle it through the cases' services: a refund id confirms it (the case
  is paid), a 4xx or the 500 ``woocommerce_rest_cannot_create_order_refund`` (WooCommerce deleted the
  refund it began) fails it.

Each attempt is claimed under the request's row lock (``refund_request_attempt``, SKIP LOCKED) just
before it is sent, and each answer settles it under that lock: two processes stepping the same
request at once send it once and settle it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from cases.models import RefundRequest
from cases.refund_channels import channel_named
from cases.services import (
    refund_request_attempt,
    refund_request_confirm,
    refund_request_fail,
    refund_request_note,
)
from orders.models import Order
from shop.connections import refund_route
from shop.currencies import NotInCurrency, amount_text
from shop.models import Connection
from shop.woocommerce import Answer, ShopError, WooCommerceClient, shop_name

logger = logging.getLogger(__name__)

CHANNEL = "woocommerce"
# The refund channels this app registers (``ShopConfig.ready``), whose waiting requests it settles.
SHOP_CHANNELS = (CHANNEL, "stripe")
# Payment methods whose WooCommerce gateways refund through their API: the shop returns the money.
API_REFUND_METHODS = ("card", "paypal")
# WooCommerce's answer when it could not make the refund it began (the gateway said no, an invalid
# amount): it has deleted that refund already, so the request failed for sure.
CANNOT_CREATE = "woocommerce_rest_cannot_create_order_refund"

PAID, FAILED, WAITING = "paid", "failed", "waiting"


def resend_after() -> timedelta:
    """How long after an attempt the shop is surely done with it: the client's longest wait plus a margin."""
    return timedelta(seconds=settings.SHOP_CONNECT_TIMEOUT + settings.SHOP_READ_TIMEOUT
                     + settings.SHOP_REFUND_RESEND_MARGIN)


class WooCommerceRefunds:
    """The refund channel of storefronts connected to WooCommerce (registered by ``ShopConfig.ready``)."""

    name = CHANNEL
    label = "WooCommerce"

    def applies(self, order: Order) -> bool:
        # An order imported from a file has no shop order id: it is paid by hand, as before.
        return order.shop_order_id is not None and refund_route(order.storefront) == Connection.Kind.WOOCOMMERCE

    def api_refund(self, order: Order) -> bool:
        return order.payment_method in API_REFUND_METHODS

    def send(self, *, request_id: int, now: datetime | None = None) -> None:
        settle_request(request_id=request_id, now=now)

    def settle(self, *, request_id: int, now: datetime | None = None) -> Step:
        return settle_request(request_id=request_id, now=now)


@dataclass
class Step:
    """What one step did with one request: ``outcome`` paid, failed or waiting, and in words."""

    request_id: int
    outcome: str
    words: str


def settle_request(*, request_id: int, now: datetime | None = None, client: WooCommerceClient | None = None) -> Step:
    """One step of one request (see the module): send it, or find what became of it, and settle it when
    the shop has answered for sure. Never raises for the shop: a shop that cannot be reached, or answers
    nonsense, leaves the request waiting with the reason on it."""
    now = now or timezone.now()
    request = RefundRequest.objects.select_related("order__storefront", "case").get(pk=request_id)
    if request.status != RefundRequest.Status.SENDING:
        return Step(request.pk, _outcome(request), f"already {request.get_status_display().lower()}")
    connection = (Connection.objects.select_related("storefront")
                  .filter(storefront_id=request.order.storefront_id, kind=Connection.Kind.WOOCOMMERCE).first())
    if connection is None:
        return _waiting(request, f"{request.order.storefront.name} is no longer connected to WooCommerce; the refund "
                                 "waits until it is connected again")
    try:
        if client is not None:
            return _step(client, request, now)
        with WooCommerceClient(connection) as own:
            return _step(own, request, now)
    except ShopError as error:
        return _waiting(request, str(error))


def _step(client: WooCommerceClient, request: RefundRequest, now: datetime) -> Step:
    if request.attempts == 0:
        claimed = refund_request_attempt(request=request, now=now, last_before=None)
        if claimed is None:
            return Step(request.pk, WAITING, "another process is sending it")
        return _send(client, claimed, now)
    # Sent before, its answer not known: what the shop holds is the answer, before anything is sent again.
    refunds = client.order_refunds(shop_order_id=request.order.shop_order_id, order_id=request.order_id,
                                   case_id=request.case_id)
    found = next((refund for refund in refunds if _key_of(refund) == request.key), None)
    if found is not None:
        return _settle_found(request, found, now)
    claimed = refund_request_attempt(request=request, now=now, last_before=now - resend_after())
    if claimed is None:
        return Step(request.pk, WAITING, f"not in the shop's refunds yet; sent again no sooner than "
                                         f"{resend_after().total_seconds():g} s after the last attempt")
    return _send(client, claimed, now)


def refund_body(request: RefundRequest) -> dict:
    """The refund as WooCommerce takes it (REST API v3, order refunds)."""
    return {
        "amount": amount_text(request.amount, request.currency),
        "reason": f"Refund case {request.case.number}",
        "api_refund": request.api_refund,
        "meta_data": [{"key": "refund_case", "value": request.case.number},
                      {"key": "refund_payout", "value": request.key}],
    }


def _send(client: WooCommerceClient, request: RefundRequest, now: datetime) -> Step:
    try:
        body = refund_body(request)
    except NotInCurrency as error:
        refund_request_fail(request=request, message=f"Not sent: {error}", now=now)
        return Step(request.pk, FAILED, str(error))
    answer = client.create_refund(shop_order_id=request.order.shop_order_id, body=body, order_id=request.order_id,
                                  case_id=request.case_id)
    name = shop_name(client.connection)
    if answer.status is None:
        client.note_result(answer.call, "no answer: the shop's refunds are read before anything is sent again")
        return _waiting(request, f"{answer.error}; its refunds are read before anything is sent again")
    status = answer.status
    if status in (200, 201) and isinstance(answer.body, dict) and _refund_id(answer.body):
        return _settle_found(request, answer.body, now, answer=answer, client=client)
    refusal = _refusal(answer)
    if refusal is not None:
        message = f"{name} refused the refund (HTTP {status}): {refusal}"
        client.note_result(answer.call, f"refused: {refusal}")
        refund_request_fail(request=request, message=message, now=now)
        return Step(request.pk, FAILED, message)
    client.note_result(answer.call, f"HTTP {status}: not a sure answer; the shop's refunds are read before anything "
                                    "is sent again")
    return _waiting(request, f"{name} answered HTTP {status}; its refunds are read before anything is sent again")


def _refusal(answer: Answer) -> str | None:
    """The shop's words when it surely made no refund (any 4xx, and the cannot-create 500), else ``None``."""
    body = answer.body if isinstance(answer.body, dict) else {}
    code = str(body.get("code") or "")
    if not (400 <= answer.status < 500 or (answer.status == 500 and code == CANNOT_CREATE)):
        return None
    message = " ".join(str(body.get("message") or "").split())[:500]
    return message or code or "no reason given"


def _settle_found(request: RefundRequest, refund: dict, now: datetime, *, answer: Answer | None = None,
                  client: WooCommerceClient | None = None) -> Step:
    refund_id = _refund_id(refund)
    # WooCommerce says whether the gateway returned the money; a refund recorded by hand says false.
    returned = refund.get("refunded_payment") is True
    settled = refund_request_confirm(request=request, shop_refund_id=refund_id, money_returned=returned, now=now)
    if answer is not None and client is not None:
        client.note_result(answer.call, f"refund {refund_id} made" + ("" if returned or not request.api_refund
                                                                       else ", the money not returned"))
    if settled.status == RefundRequest.Status.CONFIRMED:
        return Step(request.pk, PAID, f"paid: the shop's refund {refund_id}")
    return Step(request.pk, FAILED, settled.message)


def _refund_id(refund: dict) -> str:
    value = refund.get("id")
    return str(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else ""


def _key_of(refund: dict) -> str | None:
    for meta in refund.get("meta_data") or []:
        if isinstance(meta, dict) and meta.get("key") == "refund_payout":
            return str(meta.get("value"))
    return None


def _waiting(request: RefundRequest, message: str) -> Step:
    refund_request_note(request=request, message=message)
    return Step(request.pk, WAITING, message)


def _outcome(request: RefundRequest) -> str:
    if request.status == RefundRequest.Status.CONFIRMED:
        return PAID
    if request.status == RefundRequest.Status.SENDING:
        return WAITING
    return FAILED


@dataclass
class Settled:
    steps: list[Step] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for step in self.steps if step.outcome == outcome)

    @property
    def summary(self) -> str:
        return f"{self.count(PAID)} paid, {self.count(FAILED)} failed, {self.count(WAITING)} still waiting"


def settle_refunds(*, now: datetime | None = None) -> Settled:
    """One step for every refund sent to a shop and still waiting, oldest attempt first (never sent first).

    Safe at any time, twice, and in two processes at once: each attempt is claimed under the request's
    row lock, each answer settles it once. A shop that is down leaves its refunds waiting.
    """
    result = Settled()
    waiting = (RefundRequest.objects.filter(status=RefundRequest.Status.SENDING, channel__in=SHOP_CHANNELS)
               .order_by(F("last_attempt_at").asc(nulls_first=True), "id").values_list("pk", "channel"))
    for request_id, name in list(waiting):
        try:
            result.steps.append(channel_named(name).settle(request_id=request_id, now=now))
        except Exception as error:  # one request's fault stops none of the others
            logger.exception("settle_refunds: refund request %s", request_id)
            result.steps.append(Step(request_id, WAITING, f"not settled: {type(error).__name__}"))
    return result
