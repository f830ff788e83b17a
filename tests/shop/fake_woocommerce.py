"""A WooCommerce shop on loopback for tests and benchmarks: its REST API's orders and refunds.

It serves ``GET /wp-json/wc/v3/orders`` (``modified_after`` with ``dates_are_gmt``, oldest change
first, ``per_page`` and ``page``, with the ``X-WP-Total`` and ``X-WP-TotalPages`` headers),
``GET /wp-json/wc/v3/orders/<id>/refunds`` and ``POST`` there (a refund made as WooCommerce makes one:
its amount checked against what is left of the order, ``refunded_payment`` true when ``api_refund``
was asked and the gateway can, the ``meta_data`` kept), answers 401 to any other credentials than
its consumer key and secret given by HTTP basic auth, and records every request it gets. Faults are
queued: ``fail_next`` answers the next requests with a status, ``stall_next`` holds them longer than
a client waits; ``after_refund`` makes the next refund posted and then loses its answer (the
connection dropped, an answer too late, a 5xx), and ``hold_refunds`` keeps refunds posted waiting
until the test lets them through.

``python -m tests.shop.fake_woocommerce --orders N`` serves N generated orders (100 a page when
asked so) until it is stopped, and prints its address first: the sync benchmark runs it in a
process of its own.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.shop.loopback import LoopbackServer

ORDERS_PATH = re.compile(r"^(?P<base>/[^?]*?)?/wp-json/wc/v3/orders(?:/(?P<id>[0-9]+)/refunds)?/?$")


def gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def woo_order(shop_id: int, *, number: str | None = None, status: str = "completed", total: str = "34.99",
              currency: str = "USD", email: str | None = None, product_id: int = 93,
              name: str = "IPTV Premium - 3 Months", modified: str = "2026-03-01T10:10:00",
              paid: str = "2026-03-01T10:00:00", completed: str | None = "2026-03-01T10:05:00",
              refunds: list[dict] | None = None, payment_method: str = "stripe", transaction_id: str | None = None,
              first_name: str = "Ann", last_name: str = "Lee") -> dict:
    """One order object as ``GET /wp-json/wc/v3/orders`` gives it (the fields the product reads, and more)."""
    return {
        "id": shop_id, "parent_id": 0, "number": number or str(shop_id), "order_key": f"wc_order_{shop_id}",
        "created_via": "checkout", "version": "9.4.0", "status": status, "currency": currency,
        "date_created": paid, "date_created_gmt": paid, "date_modified": modified, "date_modified_gmt": modified,
        "discount_total": "0.00", "shipping_total": "0.00", "total": total, "total_tax": "0.00", "customer_id": 0,
        "billing": {"first_name": first_name, "last_name": last_name, "company": "", "address_1": "1 Main St",
                    "city": "Springfield", "postcode": "12345", "country": "US",
                    "email": email or f"buyer{shop_id}@example.com", "phone": "+1 555 0100"},
        "shipping": {}, "payment_method": payment_method, "payment_method_title": "Credit card",
        "transaction_id": transaction_id if transaction_id is not None else f"ch_{shop_id}",
        "customer_ip_address": "203.0.113.9", "customer_user_agent": "Mozilla/5.0", "customer_note": "",
        "date_paid": paid, "date_paid_gmt": paid, "date_completed": completed, "date_completed_gmt": completed,
        "line_items": [{"id": shop_id * 10, "name": name, "product_id": product_id, "variation_id": 0,
                        "quantity": 1, "total": total, "sku": None, "meta_data": []}],
        "meta_data": [{"id": 1, "key": "_wc_order_attribution_source_type", "value": "typein"}],
        "refunds": list(refunds or []),
    }


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Fault:
    status: int = 500
    body: dict | None = None
    stall: float = 0.0
    method: str | None = None  # only requests of this method play it; None: any request
    made: bool = False  # the refund posted is made first, then the fault plays (its answer is lost)
    drop: bool = False  # the connection is closed without an answer


@dataclass
class FakeWooCommerce(LoopbackServer):
    consumer_key: str = "ck_fake_0123456789"
    consumer_secret: str = "cs_fake_0123456789"
    orders: dict[int, dict] = field(default_factory=dict)
    refunds: dict[int, list[dict]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    record: bool = True
    # Whether the orders' gateways refund through their API (``refunded_payment``).
    gateway_refunds: bool = True
    refund_bodies: list[dict] = field(default_factory=list)  # every body posted, as sent

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self._index: list[tuple[str, int]] | None = None
        self._next_refund_id = 900
        self._held: threading.Event | None = None
        self._serve()

    # --- what tests set ------------------------------------------------------------------------

    def put(self, *orders: dict) -> None:
        with self.lock:
            for order in orders:
                self.orders[order["id"]] = order
            self._index = None

    def fail_next(self, status: int, *, times: int = 1, body: dict | None = None) -> None:
        with self.lock:
            self.faults += [Fault(status=status, body=body) for _ in range(times)]

    def stall_next(self, seconds: float, *, times: int = 1) -> None:
        with self.lock:
            self.faults += [Fault(status=200, stall=seconds) for _ in range(times)]

    def after_refund(self, *, drop: bool = False, stall: float = 0.0, status: int = 502,
                     body: dict | None = None) -> None:
        """The next refund posted is made, and then its answer is lost: the connection dropped
        (``drop``), held ``stall`` seconds (longer than a client waits), or answered ``status``."""
        with self.lock:
            self.faults.append(Fault(status=status, body=body, stall=stall, method="POST", made=True, drop=drop))

    def refuse_next_refund(self, status: int, *, code: str, message: str) -> None:
        """The next refund posted is answered ``status`` with WooCommerce's error body, and not made."""
        with self.lock:
            self.faults.append(Fault(status=status, method="POST",
                                     body={"code": code, "message": message, "data": {"status": status}}))

    def hold_refunds(self) -> threading.Event:
        """Refunds posted from now on wait until the returned event is set (at most 60 s), then are made."""
        with self.lock:
            self._held = threading.Event()
            return self._held

    def refunds_made(self, shop_order_id: int | None = None) -> list[dict]:
        """Every refund the shop holds (of one order), oldest first."""
        with self.lock:
            made = [refund for order_id, refunds in self.refunds.items()
                    if shop_order_id is None or order_id == shop_order_id for refund in refunds]
        return sorted(made, key=lambda refund: refund["id"])

    def refund_posts(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.method == "POST" and seen.path.endswith("/refunds")]

    def order_requests(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.path.endswith("/wp-json/wc/v3/orders")]

    # --- serving -------------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        with self.lock:
            if self.record:
                self.requests.append(Seen(handler.command, parts.path, query, dict(handler.headers.items())))
                if handler.command == "POST":
                    try:
                        self.refund_bodies.append(json.loads(raw or b"{}"))
                    except ValueError:
                        self.refund_bodies.append({"unreadable": raw.decode("latin-1")})
            fault = next((f for f in self.faults if f.method in (None, handler.command)), None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is not None and fault.made:
            fault_after, fault = fault, None
        else:
            fault_after = None
        if fault is not None and fault.stall:
            time.sleep(fault.stall)
        elif fault is not None:
            return self._send(handler, fault.status, fault.body or {"code": "internal_server_error",
                                                                     "message": "There has been a critical error.",
                                                                     "data": {"status": fault.status}})
        if handler.headers.get("Authorization") != self._expected_auth():
            return self._send(handler, 401, {"code": "woocommerce_rest_cannot_view",
                                             "message": "Sorry, you cannot list resources.", "data": {"status": 401}})
        match = ORDERS_PATH.match(parts.path)
        if match is None or handler.command not in ("GET", "POST") or (handler.command == "POST"
                                                                       and not match.group("id")):
            return self._send(handler, 404, {"code": "rest_no_route", "message": "No route was found.",
                                             "data": {"status": 404}})
        if match.group("id") and handler.command == "POST":
            status, answer = self._make_refund(int(match.group("id")), raw)
            if fault_after is not None:
                return self._lose_answer(handler, fault_after)
            return self._send(handler, status, answer)
        if match.group("id"):
            per_page = min(int(query.get("per_page", ["10"])[0]), 100)
            page = max(int(query.get("page", ["1"])[0]), 1)
            with self.lock:
                # Newest first, as WooCommerce lists them.
                refunds = sorted(self.refunds.get(int(match.group("id")), []), key=lambda r: -r["id"])
            pages = (len(refunds) + per_page - 1) // per_page
            return self._send(handler, 200, refunds[(page - 1) * per_page: page * per_page],
                              {"X-WP-Total": str(len(refunds)), "X-WP-TotalPages": str(pages)})
        self._orders(handler, query)

    def _make_refund(self, shop_order_id: int, raw: bytes) -> tuple[int, dict]:
        """A refund as WooCommerce's REST API makes one, or its error."""
        held = self._held
        if held is not None:
            held.wait(timeout=60)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"code": "rest_invalid_json", "message": "Invalid JSON body passed.", "data": {"status": 400}}
        with self.lock:
            order = self.orders.get(shop_order_id)
            if order is None:
                return 404, {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                             "data": {"status": 404}}
            try:
                amount = Decimal(str(body.get("amount")))
            except (ArithmeticError, ValueError):
                amount = Decimal("0")
            refunded = sum((Decimal(r["amount"]) for r in self.refunds.get(shop_order_id, [])), Decimal("0"))
            if not amount.is_finite() or amount <= 0 or amount > Decimal(order["total"]) - refunded:
                return 500, {"code": "woocommerce_rest_cannot_create_order_refund", "message": "Invalid refund amount.",
                             "data": {"status": 500}}
            self._next_refund_id += 1
            refund = {
                "id": self._next_refund_id, "date_created": gmt(datetime.now(UTC)),
                "date_created_gmt": gmt(datetime.now(UTC)), "amount": f"{amount:.2f}",
                "reason": str(body.get("reason") or ""), "refunded_by": 1,
                "refunded_payment": bool(body.get("api_refund")) and self.gateway_refunds,
                "meta_data": [{"id": i + 1, **meta} for i, meta in enumerate(body.get("meta_data") or [])],
                "line_items": [], "shipping_lines": [], "tax_lines": [], "fee_lines": [],
            }
            self.refunds.setdefault(shop_order_id, []).append(refund)
            order["refunds"] = [{"id": r["id"], "reason": r["reason"], "total": f"-{r['amount']}"}
                                for r in self.refunds[shop_order_id]]
            order["date_modified"] = order["date_modified_gmt"] = gmt(datetime.now(UTC))
            self._index = None
        return 201, refund

    def _lose_answer(self, handler: BaseHTTPRequestHandler, fault: Fault) -> None:
        if self._lost(handler, fault):
            return None
        return self._send(handler, fault.status, fault.body or {"code": "bad_gateway", "message": "Bad gateway",
                                                                 "data": {"status": fault.status}})

    def _expected_auth(self) -> str:
        token = base64.b64encode(f"{self.consumer_key}:{self.consumer_secret}".encode()).decode()
        return f"Basic {token}"

    def _orders(self, handler: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        per_page = min(int(query.get("per_page", ["10"])[0]), 100)
        page = max(int(query.get("page", ["1"])[0]), 1)
        after = query.get("modified_after", [""])[0]
        with self.lock:
            if self._index is None:
                self._index = sorted((order["date_modified_gmt"], order["id"]) for order in self.orders.values())
            index = self._index
            # "after" is strictly after; the times compare as text in this one format.
            start = bisect.bisect_right(index, (after[:19], 2**63)) if after else 0
            total = len(index) - start
            chosen = index[start + (page - 1) * per_page: start + page * per_page]
            body = json.dumps([self.orders[shop_id] for _, shop_id in chosen]).encode()
        pages = (total + per_page - 1) // per_page
        self._send(handler, 200, body, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=UTF-8")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


def generated(count: int, *, start: datetime, product_id: int = 93) -> list[dict]:
    """``count`` paid orders, one a second from ``start``, each of its own customer."""
    return [woo_order(100_000 + i, modified=gmt(start + timedelta(seconds=i)), paid=gmt(start + timedelta(seconds=i)),
                      completed=gmt(start + timedelta(seconds=i, minutes=1)), product_id=product_id)
            for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake WooCommerce shop on loopback.")
    parser.add_argument("--orders", type=int, default=1000, help="how many generated orders it serves")
    parser.add_argument("--start", default="2026-01-01T00:00:00", help="the first order's time (UTC)")
    args = parser.parse_args()
    fake = FakeWooCommerce(record=False)
    fake.put(*generated(args.orders, start=datetime.fromisoformat(args.start).replace(tzinfo=UTC)))
    with fake:
        print(fake.url, flush=True)
        try:
            fake.thread.join()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
