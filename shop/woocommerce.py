"""Talking to a WooCommerce shop: its REST API v3 (httpx) and its webhooks' signatures.

Every address called is the connection's own URL plus a fixed path; nothing a request or a webhook
body says is ever called. The consumer key and secret go in the Authorization header (HTTP basic)
and nowhere else: not in the URL, not in the call log, not in an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from shop.calls import record_call
from shop.keys import SecretsUnreadable
from shop.models import Connection, ShopCall

ORDERS = "/wp-json/wc/v3/orders"
REFUNDS = ORDERS + "/{id}/refunds"
PER_PAGE = 100
# An order with more refunds than this many pages of them is not read further.
MAX_REFUND_PAGES = 20
PING = re.compile(rb"webhook_id=[0-9]{1,20}")
# The order topics whose order object is taken in; order.deleted is answered and noted only.
ORDER_TOPICS = ("order.created", "order.updated", "order.restored")
DELETED = "order.deleted"


class ShopError(Exception):
    """The shop could not be asked, or did not answer as it should; the message names the shop."""


class ShopUnreachable(ShopError):
    pass


class ShopRefused(ShopError):
    """The shop refused the credentials (401, 403)."""


def shop_name(connection: Connection) -> str:
    return f"{connection.storefront.name} ({connection.storefront.slug}, {connection.url})"


def is_ping(body: bytes) -> bool:
    """The delivery WooCommerce sends when a webhook is saved: ``webhook_id=N`` and nothing else."""
    return PING.fullmatch(body.strip()) is not None


@sensitive_variables("secret", "expected")
def signature_matches(*, body: bytes, signature: str, secret: str) -> bool:
    """``X-WC-Webhook-Signature``: base64 of the HMAC-SHA256 of the raw body, compared in constant time."""
    expected = base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode("latin-1", "replace"))


@dataclass
class OrdersPage:
    orders: list
    total_pages: int | None
    call: ShopCall


@dataclass
class Answer:
    """What the shop said to a call that changes something: its status and body (``None``: no answer,
    ``error`` says why), and the call log's line."""

    status: int | None
    body: object
    call: ShopCall
    error: str = ""


class WooCommerceClient:
    """The REST API of ``connection``'s shop, each call timed out and written to the call log."""

    @sensitive_variables("secrets")
    def __init__(self, connection: Connection, *, transport: httpx.BaseTransport | None = None):
        self.connection = connection
        try:
            secrets = connection.secrets()
        except SecretsUnreadable:
            raise ShopError(f"{shop_name(connection)}: the stored credentials cannot be read with CONNECTION_KEYS "
                            "(was a key dropped before rotate_connection_keys ran?)") from None
        self.timeout = settings.SHOP_READ_TIMEOUT
        self.http = httpx.Client(
            base_url=connection.url,
            auth=httpx.BasicAuth(secrets.get("consumer_key", ""), secrets.get("consumer_secret", "")),
            timeout=httpx.Timeout(self.timeout, connect=settings.SHOP_CONNECT_TIMEOUT),
            # A redirect would be an address the connection does not hold; .netrc and proxy
            # variables are not read, so nothing but the connection decides where a call goes.
            follow_redirects=False, trust_env=False, transport=transport,
            headers={"Accept": "application/json", "User-Agent": "refund-backoffice"},
        )

    def __enter__(self) -> WooCommerceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.http.close()

    def orders_page(self, *, modified_after: datetime, page: int) -> OrdersPage:
        """One page of the orders changed after ``modified_after``, oldest change first."""
        params = {
            "modified_after": modified_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "dates_are_gmt": "true", "orderby": "modified", "order": "asc", "per_page": str(PER_PAGE),
            "page": str(page),
        }
        response, call = self._get(ORDERS, params)
        try:
            orders = response.json()
        except ValueError:
            orders = None
        if not isinstance(orders, list):
            self.note_result(call, "the answer is not a list of orders")
            raise ShopError(f"{shop_name(self.connection)} answered page {page} of its orders with something "
                            "other than a list of orders")
        total = response.headers.get("X-WP-TotalPages", "")
        self.note_result(call, f"{len(orders)} orders")
        return OrdersPage(orders=orders, total_pages=int(total) if total.isdigit() else None, call=call)

    def order_refunds(self, *, shop_order_id: int, order_id: int | None = None,
                      case_id: int | None = None) -> list[dict]:
        """Every refund the shop lists on its order ``shop_order_id``, newest first."""
        refunds: list[dict] = []
        page = 1
        while page <= MAX_REFUND_PAGES:
            params = {"per_page": str(PER_PAGE), "page": str(page)}
            response, call = self._get(REFUNDS.format(id=shop_order_id), params, order_id=order_id, case_id=case_id)
            try:
                listed = response.json()
            except ValueError:
                listed = None
            if not isinstance(listed, list) or not all(isinstance(item, dict) for item in listed):
                self.note_result(call, "the answer is not a list of refunds")
                raise ShopError(f"{shop_name(self.connection)} answered the refunds of its order {shop_order_id} "
                                "with something other than a list of refunds")
            refunds += listed
            self.note_result(call, f"{len(listed)} refunds")
            total = response.headers.get("X-WP-TotalPages", "")
            if len(listed) < PER_PAGE or (total.isdigit() and page >= int(total)):
                break
            page += 1
        return refunds

    def create_refund(self, *, shop_order_id: int, body: dict, order_id: int | None = None,
                      case_id: int | None = None) -> Answer:
        """POST one refund of order ``shop_order_id``. Never raises for what the shop answers, nor for
        no answer at all: the caller decides what each means (``shop.refunds``)."""
        path = REFUNDS.format(id=shop_order_id)
        started = time.monotonic()

        def log(status: int | None, result: str) -> ShopCall:
            return record_call(storefront=self.connection.storefront, kind=self.connection.kind,
                               direction=ShopCall.Direction.OUT, method="POST", endpoint=path, status=status,
                               result=result, started=started, order_id=order_id, case_id=case_id)

        name = shop_name(self.connection)
        try:
            response = self.http.post(path, json=body)
        except httpx.TimeoutException:
            why = f"{name} did not answer within {self.timeout:g} s"
            return Answer(status=None, body=None, call=log(None, f"no answer within the timeout ({self.timeout:g} s)"),
                          error=why)
        except httpx.TransportError as error:
            why = f"{name} cannot be reached ({type(error).__name__})"
            return Answer(status=None, body=None, call=log(None, f"cannot be reached ({type(error).__name__})"),
                          error=why)
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        return Answer(status=response.status_code, body=parsed, call=log(response.status_code,
                                                                            f"HTTP {response.status_code}"))

    def _get(self, path: str, params: dict[str, str], *, order_id: int | None = None,
             case_id: int | None = None) -> tuple[httpx.Response, ShopCall]:
        endpoint = f"{path}?{urlencode(params)}" if params else path
        storefront = self.connection.storefront
        started = time.monotonic()

        def log(status: int | None, result: str) -> ShopCall:
            return record_call(storefront=storefront, kind=self.connection.kind, direction=ShopCall.Direction.OUT,
                               method="GET", endpoint=endpoint, status=status, result=result, started=started,
                               order_id=order_id, case_id=case_id)

        name = shop_name(self.connection)
        try:
            response = self.http.get(path, params=params)
        except httpx.TimeoutException:
            log(None, f"no answer within the timeout ({self.timeout:g} s)")
            raise ShopUnreachable(f"{name} did not answer within {self.timeout:g} s") from None
        except httpx.TransportError as error:
            log(None, f"cannot be reached ({type(error).__name__})")
            raise ShopUnreachable(f"{name} cannot be reached ({type(error).__name__})") from None
        status = response.status_code
        if status in (401, 403):
            log(status, "the credentials were refused")
            raise ShopRefused(f"{name} refused the credentials (HTTP {status}): check the consumer key and secret "
                              "and that the server passes the Authorization header to WordPress")
        if 300 <= status < 400:
            log(status, "redirected elsewhere: not followed")
            raise ShopError(f"{name} redirects its REST API elsewhere (HTTP {status}): connect the shop with the "
                            "address it redirects to")
        if status != 200:
            log(status, f"HTTP {status}")
            raise ShopError(f"{name} answered HTTP {status}")
        return response, log(status, "answered")

    @staticmethod
    def note_result(call: ShopCall, result: str) -> None:
        call.result = result[:300]
        ShopCall.objects.filter(pk=call.pk).update(result=call.result)
