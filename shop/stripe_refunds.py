"""Refunds sent through Stripe, for a storefront connected to Stripe alone, exactly once (docs/shop.md).

The same rule as WooCommerce's (``shop.refunds``): a request never sent is sent, ``POST /v1/refunds``
with the order's processor reference as ``charge`` (``ch_…``) or ``payment_intent`` (``pi_…``), the
amount in the currency's smallest unit, ``metadata[refund_case]`` and ``metadata[refund_payout]``,
and the request's key as the ``Idempotency-Key``. After an unsure answer the charge's refunds are
read first (``GET /v1/refunds?charge=…``), and one carrying the key is the answer; only when none
does, and the last attempt is older than the timeouts plus the margin, is it sent again, with the
same key (Stripe keeps a key for a day; the read makes a resend safe after that too).

Stripe's answer settles it: ``succeeded`` pays the case, ``failed`` or ``canceled`` fails it with the
reason, ``pending`` or ``requires_action`` waits (each later step reads it again). A refusal (a 4xx
other than 429, which is Stripe asking to wait) fails it; no answer, a 429 or a 5xx is no answer.

The calls go through Stripe's own library, pointed at the connection's address (``--stripe-api``).
"""

from __future__ import annotations

import ssl
import time
from datetime import datetime

import httpx
import stripe
from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from cases.models import RefundRequest
from cases.services import refund_request_attempt, refund_request_confirm, refund_request_fail
from orders.models import Order
from shop.calls import record_call
from shop.connections import refund_route
from shop.currencies import NotInCurrency, minor_units
from shop.keys import SecretsUnreadable
from shop.models import Connection, ShopCall
from shop.refunds import FAILED, PAID, WAITING, Step, _outcome, _waiting, resend_after

CHANNEL = "stripe"
REFUNDS = "/v1/refunds"
# A charge with more refunds than this is not read further.
MAX_LISTED = 100


class StripeUnsure(Exception):
    """No sure answer from Stripe (none in time, the connection lost, a 429 or a 5xx): said in words."""


class StripeRefused(Exception):
    """Stripe refused to make the refund (a 4xx): said in words."""


class _NoEnvironmentHTTP(stripe.HTTPXClient):
    """Stripe's httpx client, but reading no proxy or .netrc from the environment and following no
    redirect: nothing but the connection decides where a call goes (as ``shop.woocommerce``)."""

    def __init__(self) -> None:
        timeout = httpx.Timeout(settings.SHOP_READ_TIMEOUT, connect=settings.SHOP_CONNECT_TIMEOUT)
        super().__init__(timeout=timeout, allow_sync_methods=True)
        self._client.close()
        self._client = httpx.Client(verify=ssl.create_default_context(cafile=stripe.ca_bundle_path),
                                    trust_env=False, follow_redirects=False)

    def close(self) -> None:
        self._client.close()


def stripe_name(connection: Connection) -> str:
    return f"Stripe ({connection.url}) for {connection.storefront.name}"


def charge_field(order: Order) -> str | None:
    """Which of Stripe's fields the order's processor reference fills, if it is Stripe's."""
    reference = order.processor_reference or ""
    if reference.startswith("ch_"):
        return "charge"
    if reference.startswith("pi_"):
        return "payment_intent"
    return None


class StripeRefunds:
    """The refund channel of storefronts connected to Stripe alone (registered by ``ShopConfig.ready``)."""

    name = CHANNEL
    label = "Stripe"

    def applies(self, order: Order) -> bool:
        # Connected to both, WooCommerce sends refunds; an order with no Stripe reference is paid by hand.
        return charge_field(order) is not None and refund_route(order.storefront) == Connection.Kind.STRIPE

    def api_refund(self, order: Order) -> bool:
        return True  # Stripe returns the money to the charge itself

    def send(self, *, request_id: int, now: datetime | None = None) -> None:
        settle_stripe_request(request_id=request_id, now=now)

    def settle(self, *, request_id: int, now: datetime | None = None) -> Step:
        return settle_stripe_request(request_id=request_id, now=now)


class _Calls:
    """Stripe's client for one connection, each call written to the call log."""

    @sensitive_variables("secret")
    def __init__(self, connection: Connection, request: RefundRequest):
        self.connection = connection
        self.request = request
        try:
            secret = connection.secret("secret_key")
        except SecretsUnreadable:
            raise StripeUnsure(f"{stripe_name(connection)}: the stored key cannot be read with CONNECTION_KEYS") \
                from None
        self.http = _NoEnvironmentHTTP()
        self.client = stripe.StripeClient(secret, base_addresses={"api": connection.url}, max_network_retries=0,
                                          http_client=self.http)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, endpoint: str, action):
        started = time.monotonic()

        def log(status: int | None, result: str) -> ShopCall:
            return record_call(storefront=self.connection.storefront, kind=Connection.Kind.STRIPE,
                               direction=ShopCall.Direction.OUT, method=method, endpoint=endpoint, status=status,
                               result=result, started=started, order_id=self.request.order_id,
                               case_id=self.request.case_id)

        name = stripe_name(self.connection)
        try:
            answer = action()
        except stripe.APIConnectionError as error:
            timed_out = isinstance(getattr(error, "__cause__", None), httpx.TimeoutException) or "timed out" in str(
                error).lower()
            why = "no answer within the timeout" if timed_out else "cannot be reached"
            log(None, why)
            raise StripeUnsure(f"{name}: {why}") from None
        except stripe.StripeError as error:
            status = error.http_status
            message = " ".join(str(error.user_message or getattr(error.error, "message", "") or "").split())[:500]
            if status is None or status == 429 or status >= 500 or isinstance(error, stripe.IdempotencyError):
                log(status, f"HTTP {status}: not a sure answer")
                raise StripeUnsure(f"{name} answered HTTP {status}") from None
            log(status, f"refused: {message}")
            raise StripeRefused(f"{name} refused the refund (HTTP {status}): {message or 'no reason given'}") \
                from None
        return answer, log

    def create(self, params: dict) -> stripe.Refund:
        answer, log = self._call("POST", REFUNDS, lambda: self.client.v1.refunds.create(
            params=params, options={"idempotency_key": self.request.key}))
        log(200, f"refund {answer.id} {answer.status}")
        return answer

    def listed(self, field: str, reference: str) -> list[stripe.Refund]:
        endpoint = f"{REFUNDS}?{field}={reference}&limit={MAX_LISTED}"
        answer, log = self._call("GET", endpoint, lambda: self.client.v1.refunds.list(
            params={field: reference, "limit": MAX_LISTED}))
        log(200, f"{len(answer.data)} refunds")
        return list(answer.data)


def refund_params(request: RefundRequest) -> dict:
    field = charge_field(request.order)
    return {
        field: request.order.processor_reference,
        "amount": minor_units(request.amount, request.currency),
        "metadata": {"refund_case": request.case.number, "refund_payout": request.key},
    }


def settle_stripe_request(*, request_id: int, now: datetime | None = None) -> Step:
    """One step of one Stripe request (see the module); never raises for Stripe."""
    now = now or timezone.now()
    request = RefundRequest.objects.select_related("order__storefront", "case").get(pk=request_id)
    if request.status != RefundRequest.Status.SENDING:
        return Step(request.pk, _outcome(request), f"already {request.get_status_display().lower()}")
    connection = (Connection.objects.select_related("storefront")
                  .filter(storefront_id=request.order.storefront_id, kind=Connection.Kind.STRIPE).first())
    if connection is None:
        return _waiting(request, f"{request.order.storefront.name} is no longer connected to Stripe; the refund "
                                 "waits until it is connected again")
    calls = None
    try:
        calls = _Calls(connection, request)
        return _step(calls, request, now)
    except StripeUnsure as error:
        return _waiting(request, f"{error}; its refunds are read before anything is sent again")
    finally:
        if calls is not None:
            calls.close()


def _step(calls: _Calls, request: RefundRequest, now: datetime) -> Step:
    if request.attempts > 0:
        field = charge_field(request.order)
        found = next((refund for refund in calls.listed(field, request.order.processor_reference)
                      if _key_of(refund) == request.key), None)
        if found is not None:
            return _settle(request, found, now)
        claimed = refund_request_attempt(request=request, now=now, last_before=now - resend_after())
    else:
        claimed = refund_request_attempt(request=request, now=now, last_before=None)
    if claimed is None:
        return Step(request.pk, WAITING, "not in Stripe's refunds yet, or another process is sending it")
    try:
        params = refund_params(claimed)
    except NotInCurrency as error:
        refund_request_fail(request=claimed, message=f"Not sent: {error}", now=now)
        return Step(request.pk, FAILED, str(error))
    try:
        refund = calls.create(params)
    except StripeRefused as error:
        refund_request_fail(request=claimed, message=str(error), now=now)
        return Step(request.pk, FAILED, str(error))
    return _settle(claimed, refund, now)


def _key_of(refund: stripe.Refund) -> str | None:
    metadata = refund.metadata
    return str(metadata["refund_payout"]) if metadata and "refund_payout" in metadata else None


def _settle(request: RefundRequest, refund: stripe.Refund, now: datetime) -> Step:
    status = refund.status
    if status == "succeeded":
        settled = refund_request_confirm(request=request, shop_refund_id=refund.id, now=now)
        if settled.status == RefundRequest.Status.CONFIRMED:
            return Step(request.pk, PAID, f"paid: Stripe's refund {refund.id}")
        return Step(request.pk, FAILED, settled.message)
    if status in ("failed", "canceled"):
        reason = getattr(refund, "failure_reason", None) or "no reason given"
        message = f"Stripe's refund {refund.id} {status}: {str(reason).replace('_', ' ')}"
        refund_request_fail(request=request, message=message, now=now)
        return Step(request.pk, FAILED, message)
    return _waiting(request, f"Stripe's refund {refund.id} is {str(status).replace('_', ' ')}: the case is paid "
                             "when it succeeds")
