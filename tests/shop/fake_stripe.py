"""Stripe's refunds API on loopback, for tests: what ``stripe``'s own library talks to when pointed here.

It serves ``POST /v1/refunds`` (form-encoded, ``charge`` or ``payment_intent``, ``amount`` in the
smallest unit, ``metadata[...]``), honouring ``Idempotency-Key`` as Stripe does (the same key
answers the first answer again), ``GET /v1/refunds?charge=…`` / ``?payment_intent=…`` and
``GET /v1/refunds/<id>``; it answers 401 to any other key than its own, and records every request.
New refunds take ``refund_status`` (``succeeded`` by default; ``pending``, ``failed``…). Faults as the
fake WooCommerce's: ``fail_next`` answers a status, ``after_refund`` makes the refund and then loses
its answer.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.shop.fake_woocommerce import Fault, Seen
from tests.shop.loopback import LoopbackServer


@dataclass
class FakeStripe(LoopbackServer):
    secret_key: str = "sk_test_fake_0123456789"
    # Charges by id: amount (smallest unit), currency, payment_intent.
    charges: dict[str, dict] = field(default_factory=dict)
    refund_status: str = "succeeded"
    failure_reason: str = "expired_or_canceled_card"
    refunds: list[dict] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    forms: list[dict] = field(default_factory=list)  # every refund posted, as sent
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self._answers: dict[str, tuple[int, dict]] = {}  # Idempotency-Key -> first answer
        self._serve()

    def charge(self, charge_id: str, *, amount: int, currency: str = "usd", payment_intent: str = "") -> None:
        with self.lock:
            self.charges[charge_id] = {"amount": amount, "currency": currency, "payment_intent": payment_intent}

    def fail_next(self, status: int, *, body: dict | None = None) -> None:
        with self.lock:
            self.faults.append(Fault(status=status, body=body, method="POST"))

    def after_refund(self, *, drop: bool = False, stall: float = 0.0, status: int = 502) -> None:
        with self.lock:
            self.faults.append(Fault(status=status, stall=stall, method="POST", made=True, drop=drop))

    def settle(self, refund_id: str, status: str) -> None:
        """What Stripe does later to a pending refund."""
        with self.lock:
            for refund in self.refunds:
                if refund["id"] == refund_id:
                    refund["status"] = status

    def refund_posts(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.method == "POST"]

    # --- serving -------------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        form = {key: values[0] for key, values in parse_qs((handler.rfile.read(length) if length else b"").decode())
                .items()}
        with self.lock:
            self.requests.append(Seen(handler.command, parts.path, {k: [v] for k, v in query.items()},
                                      dict(handler.headers.items())))
            if handler.command == "POST":
                self.forms.append(form)
            fault = next((f for f in self.faults if f.method in (None, handler.command)), None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is not None and not fault.made:
            return self._send(handler, fault.status, fault.body or {"error": {
                "type": "api_error", "message": "An unknown error occurred."}})
        if handler.headers.get("Authorization") != f"Bearer {self.secret_key}":
            return self._send(handler, 401, {"error": {"type": "invalid_request_error",
                                                       "message": "Invalid API Key provided."}})
        if handler.command == "POST" and parts.path == "/v1/refunds":
            status, body = self._create(form, handler.headers.get("Idempotency-Key") or "")
            if fault is not None:
                return self._lose_answer(handler, fault)
            return self._send(handler, status, body)
        if handler.command == "GET" and parts.path == "/v1/refunds":
            with self.lock:
                data = [r for r in reversed(self.refunds)
                        if all(r.get(name) == query[name] for name in ("charge", "payment_intent") if name in query)]
            limit = int(query.get("limit", "10"))
            return self._send(handler, 200, {"object": "list", "url": "/v1/refunds", "has_more": len(data) > limit,
                                             "data": data[:limit]})
        if handler.command == "GET" and parts.path.startswith("/v1/refunds/"):
            with self.lock:
                found = next((r for r in self.refunds if r["id"] == parts.path.rsplit("/", 1)[1]), None)
            if found is not None:
                return self._send(handler, 200, found)
        return self._send(handler, 404, {"error": {"type": "invalid_request_error",
                                                   "message": f"Unrecognized request URL ({parts.path})."}})

    def _create(self, form: dict, key: str) -> tuple[int, dict]:
        with self.lock:
            if key and key in self._answers:
                return self._answers[key]
            answer = self._make(form)
            if key:
                self._answers[key] = answer
            return answer

    def _make(self, form: dict) -> tuple[int, dict]:
        charge_id = form.get("charge") or next(
            (cid for cid, c in self.charges.items() if form.get("payment_intent") and
             c["payment_intent"] == form["payment_intent"]), None)
        charge = self.charges.get(charge_id or "")
        if charge is None:
            what = form.get("charge") or form.get("payment_intent")
            return 400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                   "message": f"No such charge: '{what}'", "param": "charge"}}
        amount = int(form.get("amount") or charge["amount"])
        refunded = sum(r["amount"] for r in self.refunds if r["charge"] == charge_id and r["status"] != "failed")
        if amount > charge["amount"] - refunded:
            return 400, {"error": {"type": "invalid_request_error", "code": "amount_too_large",
                                   "message": f"Refund amount ({amount}) is greater than unrefunded amount on "
                                              f"charge ({charge['amount'] - refunded})", "param": "amount"}}
        metadata = {key[len("metadata["):-1]: value for key, value in form.items() if key.startswith("metadata[")}
        refund = {"id": f"re_{len(self.refunds) + 1:04d}fake", "object": "refund", "amount": amount,
                  "charge": charge_id, "payment_intent": charge["payment_intent"] or None,
                  "currency": charge["currency"], "created": int(time.time()), "metadata": metadata,
                  "reason": None, "status": self.refund_status,
                  "failure_reason": self.failure_reason if self.refund_status == "failed" else None}
        self.refunds.append(refund)
        return 200, dict(refund)

    @staticmethod
    def _lose_answer(handler: BaseHTTPRequestHandler, fault: Fault) -> None:
        if LoopbackServer._lost(handler, fault):
            return None
        return FakeStripe._send(handler, fault.status, {"error": {"type": "api_error",
                                                                  "message": "An unknown error occurred."}})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("Request-Id", "req_fake")
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
