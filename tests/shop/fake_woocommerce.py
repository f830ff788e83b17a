"""A WooCommerce shop on loopback for tests and benchmarks: its REST API's orders and refunds.

It serves ``GET /wp-json/wc/v3/orders`` (``modified_after`` with ``dates_are_gmt``, oldest change
first, ``per_page`` and ``page``, with the ``X-WP-Total`` and ``X-WP-TotalPages`` headers) and
``GET /wp-json/wc/v3/orders/<id>/refunds``, answers 401 to any other credentials than its consumer
key and secret given by HTTP basic auth, and records every request it gets. Faults are queued:
``fail_next`` answers the next requests with a status, ``stall_next`` holds them longer than a
client waits.

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

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


@dataclass
class FakeWooCommerce:
    consumer_key: str = "ck_fake_0123456789"
    consumer_secret: str = "cs_fake_0123456789"
    orders: dict[int, dict] = field(default_factory=dict)
    refunds: dict[int, list[dict]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    record: bool = True

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self._index: list[tuple[str, int]] | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                fake._answer(self)

            def do_POST(self) -> None:
                fake._answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeWooCommerce:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

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

    def order_requests(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.path.endswith("/wp-json/wc/v3/orders")]

    # --- serving -------------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query)
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        with self.lock:
            if self.record:
                self.requests.append(Seen(handler.command, parts.path, query, dict(handler.headers.items())))
            fault = self.faults.pop(0) if self.faults else None
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
        if handler.command != "GET" or match is None:
            return self._send(handler, 404, {"code": "rest_no_route", "message": "No route was found.",
                                             "data": {"status": 404}})
        if match.group("id"):
            with self.lock:
                refunds = list(self.refunds.get(int(match.group("id")), []))
            return self._send(handler, 200, refunds)
        self._orders(handler, query)

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
