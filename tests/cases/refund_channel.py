"""A refund channel for the cases' tests: a shop that answers as the test says.

The cases know a shop only through ``cases.refund_channels``; this one plays any shop, so the cases'
side (the request, the waiting case, the answer settling it once) is tested without one. The shop
app's own channels are tested against a fake shop on loopback (tests/shop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cases import refund_channels, services
from orders.models import Order


@dataclass
class ScriptedShop:
    """Applies to the orders in ``orders``; returns the money itself for the methods in ``by_api``.

    ``answer`` is what the shop says when a request is sent: ``("confirm", refund_id)``,
    ``("unpaid", refund_id)`` (recorded without returning the money), ``("refuse", message)``, or
    ``None`` (no answer: the request waits).
    """

    name: str = "scripted"
    label: str = "Scripted shop"
    orders: set[int] = field(default_factory=set)
    by_api: tuple[str, ...] = ("card", "paypal")
    answer: tuple[str, str] | None = None
    at: datetime | None = None  # the moment its answers are given (the worker passes none)
    sent: list[int] = field(default_factory=list)

    def applies(self, order: Order) -> bool:
        return order.pk in self.orders

    def api_refund(self, order: Order) -> bool:
        return order.payment_method in self.by_api

    def send(self, *, request_id: int, now: datetime | None = None) -> None:
        self.sent.append(request_id)
        if self.answer is None:
            return
        what, value = self.answer
        now = now or self.at
        if what == "refuse":
            services.refund_request_fail(request=request_id, message=value, now=now)
        else:
            services.refund_request_confirm(request=request_id, shop_refund_id=value, money_returned=what == "confirm",
                                            now=now)

    def __enter__(self) -> ScriptedShop:
        refund_channels.register(self)
        return self

    def __exit__(self, *exc) -> None:
        refund_channels.unregister(self.name)
