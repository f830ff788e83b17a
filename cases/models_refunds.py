"""Refunds sent out through a connected shop: one row per request, settled exactly once (docs/shop.md)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from cases.refund_channels import channel_label
from orders.models import MONEY


def new_refund_key() -> str:
    """The key the shop keeps with the refund (``refund_payout``, Stripe's Idempotency-Key): how a
    refund whose answer was lost is found again. Made once, with the row; never changed."""
    return "rp_" + secrets.token_hex(16)


class RefundRequest(models.Model):
    """One refund a manager asked a shop to make for an approved case.

    While it is ``sending`` the shop has not answered for sure: the case stays approved, and it
    cannot be paid again or cancelled. The shop's answer settles it once (``cases.services.refunds``):
    ``confirmed`` pays the case, ``failed`` leaves it approved for a manager to pay again with a new
    request, ``held`` is a refund the shop recorded without returning the money, for a manager.
    """

    class Status(models.TextChoices):
        SENDING = "sending", "Refund sent, waiting for the shop"
        CONFIRMED = "confirmed", "Confirmed by the shop"
        FAILED = "failed", "Refused by the shop"
        HELD = "held", "Recorded by the shop, money not returned"

    key = models.CharField(max_length=40, unique=True, default=new_refund_key, editable=False)
    case = models.ForeignKey("cases.RefundCase", on_delete=models.PROTECT, related_name="refund_requests")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refund_requests")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=20)
    method_note = models.TextField(blank=True, help_text="Why the original payment method was not used.")
    channel = models.CharField(max_length=32, help_text="The refund channel that sends it (cases.refund_channels).")
    api_refund = models.BooleanField(
        help_text="The shop returns the money through the order's gateway; otherwise it was moved by hand "
                  "and the shop only records it."
    )
    reference = models.CharField(
        max_length=120, blank=True, help_text="The manager's reference of money moved by hand (no API refund)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENDING)
    shop_refund_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Times the refund was sent to the shop.")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True, help_text="The shop's last word on it, in words.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            # Two requests in flight for one case are two refunds in the making.
            models.UniqueConstraint(fields=["case"], condition=Q(status="sending"),
                                    name="refund_request_one_sending_per_case"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_request_amount_positive"),
            models.CheckConstraint(condition=Q(api_refund=True) | ~Q(reference=""),
                                   name="refund_request_reference_by_hand"),
            models.CheckConstraint(condition=~Q(status__in=["confirmed", "held"]) | ~Q(shop_refund_id=""),
                                   name="refund_request_settled_has_refund_id"),
            models.CheckConstraint(condition=Q(status="sending") | Q(settled_at__isnull=False),
                                   name="refund_request_settled_at"),
            models.UniqueConstraint(fields=["order", "shop_refund_id"], condition=~Q(shop_refund_id=""),
                                    name="refund_request_shop_refund_once"),
        ]
        indexes = [
            # What the settling worker walks: the few requests still waiting, oldest attempt first.
            models.Index(fields=["last_attempt_at", "id"], condition=Q(status="sending"),
                         name="refund_request_waiting"),
            models.Index(fields=["case", "-requested_at"], name="refund_request_case"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount} {self.currency} for case {self.case_id} ({self.get_status_display()})"

    @property
    def channel_label(self) -> str:
        return channel_label(self.channel)

    @property
    def waiting(self) -> bool:
        return self.status == self.Status.SENDING
