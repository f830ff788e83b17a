"""The ways a refund can leave through a shop, as the cases see them (docs/shop.md).

The cases know no shop: an app above them (``shop``) registers its channels here when it is ready
(``AppConfig.ready``). Paying a case asks ``channel_for(order)``: when a channel applies, the pay
service writes a ``RefundRequest`` and hands it to ``send_refund_request`` after commit, which calls
the channel's ``send``; the channel settles the request with ``refund_request_confirm`` or
``refund_request_fail`` (``cases.services.refunds``). When none applies, the manager moves the
money and types its reference, as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orders.models import Order


class RefundChannel(Protocol):
    name: str  # kept on each request: which channel sends it and settles it
    label: str  # in sentences: "Refund sent to WooCommerce, waiting for the shop"

    def applies(self, order: Order) -> bool:
        """Refunds of ``order`` go out through this channel."""

    def api_refund(self, order: Order) -> bool:
        """The shop returns the money itself through the order's gateway (no reference to type);
        otherwise the manager moves it by hand and the shop only records the refund."""

    def send(self, *, request_id: int, now: datetime | None = None) -> None:
        """Send the request, or find out what became of it, and settle it if the shop answered for
        sure. Safe to call any number of times, at once from several processes: a refund leaves once."""


_channels: dict[str, RefundChannel] = {}


def register(channel: RefundChannel) -> None:
    """Add ``channel`` (again: replaces the one of the same name). Asked in the order registered."""
    _channels[channel.name] = channel


def unregister(name: str) -> None:
    _channels.pop(name, None)


def channel_for(order: Order) -> RefundChannel | None:
    """The first registered channel that applies to ``order``, or ``None``: paid by hand."""
    for channel in _channels.values():
        if channel.applies(order):
            return channel
    return None


def channel_named(name: str) -> RefundChannel | None:
    return _channels.get(name)


def channel_label(name: str) -> str:
    channel = _channels.get(name)
    return channel.label if channel is not None else name
