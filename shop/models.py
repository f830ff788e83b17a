"""A storefront's connections to its shop and processor, every call to and from them, and the
orders a shop sent that could not be taken in (docs/shop.md)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from shop.keys import unseal


class Connection(models.Model):
    """How the product reaches one storefront's shop (WooCommerce) or processor (Stripe), and back.

    The secrets are one encrypted token (``shop.keys``): written whole, never shown again.
    """

    class Kind(models.TextChoices):
        WOOCOMMERCE = "woocommerce", "WooCommerce"
        STRIPE = "stripe", "Stripe"

    # The secrets each kind holds, in the order they are asked for.
    SECRETS = {
        Kind.WOOCOMMERCE: ("consumer_key", "consumer_secret", "webhook_secret"),
        Kind.STRIPE: ("secret_key", "webhook_secret"),
    }

    storefront = models.ForeignKey("orders.Storefront", on_delete=models.PROTECT, related_name="connections")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.CharField(
        max_length=300, help_text="The shop's address (WooCommerce), or Stripe's API. https:// only, but on loopback."
    )
    options = models.JSONField(default=dict, blank=True, help_text="Settings of the connection that are not secret.")
    sealed_secrets = models.TextField(editable=False)
    secrets_set_at = models.DateTimeField(default=timezone.now, editable=False)
    connected_at = models.DateTimeField(default=timezone.now, editable=False)
    connected_by = models.CharField(max_length=150, editable=False, help_text="A user, or the command.")
    # The newest ``date_modified_gmt`` a sync has seen: the next one starts there, less a minute.
    sync_resume_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_sync_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_sync_result = models.CharField(max_length=200, blank=True, editable=False)

    class Meta:
        ordering = ["storefront__name", "kind"]
        constraints = [models.UniqueConstraint(fields=["storefront", "kind"], name="connection_one_per_kind")]
        permissions = [("manage_connections", "Can manage shop connections and their secrets")]

    def __str__(self) -> str:
        return f"{self.storefront} — {self.get_kind_display()}"

    @sensitive_variables()
    def secrets(self) -> dict[str, str]:
        return unseal(self.sealed_secrets)

    @sensitive_variables()
    def secret(self, name: str) -> str:
        return self.secrets().get(name, "")


class ShopCall(models.Model):
    """One call to a shop or one delivery from it: what, when, the answer, the order and case it was
    about. Never a secret, never a body: the endpoint's path and query, and a short result."""

    class Direction(models.TextChoices):
        OUT = "out", "Call to the shop"
        IN = "in", "Delivery from the shop"

    at = models.DateTimeField(default=timezone.now)
    storefront = models.ForeignKey("orders.Storefront", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    kind = models.CharField(max_length=16, choices=Connection.Kind.choices)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    method = models.CharField(max_length=8)
    endpoint = models.CharField(max_length=500, help_text="Path and query, without the host or any credential.")
    status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="HTTP status; empty: no answer.")
    result = models.CharField(max_length=300)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    topic = models.CharField(max_length=60, blank=True)
    delivery_id = models.CharField(max_length=64, blank=True)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="shop_calls")
    case = models.ForeignKey("cases.RefundCase", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "shop call"
        verbose_name_plural = "call log"
        indexes = [
            models.Index(fields=["-at"], name="shopcall_at"),
            models.Index(fields=["order", "-at"], name="shopcall_order_at"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.status or 'no answer'}"


class KeptAsideOrder(models.Model):
    """An order a shop sent that cannot be used as it is (no plan matches, a bad field): kept with the
    reason, never dropped and never guessed, until a delivery, a sync or a manager takes it in."""

    class Via(models.TextChoices):
        WEBHOOK = "webhook", "Webhook delivery"
        SYNC = "sync", "Sync"

    storefront = models.ForeignKey("orders.Storefront", on_delete=models.PROTECT, related_name="+")
    shop_order_id = models.PositiveBigIntegerField(null=True, blank=True)
    number = models.CharField(max_length=40, blank=True)
    reason = models.TextField()
    # Only the fields the order reader uses (``orders.imports.records.woo_fields_read``), to read it again.
    order_object = models.JSONField(default=dict, blank=True)
    modified_at = models.DateTimeField(null=True, blank=True, help_text="The shop's last change of the kept version.")
    via = models.CharField(max_length=10, choices=Via.choices)
    first_kept_at = models.DateTimeField(default=timezone.now)
    last_kept_at = models.DateTimeField(default=timezone.now)
    taken_in_at = models.DateTimeField(null=True, blank=True)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-last_kept_at", "-pk"]
        verbose_name = "order kept aside"
        verbose_name_plural = "orders kept aside"
        constraints = [
            models.UniqueConstraint(fields=["storefront", "shop_order_id"], condition=Q(shop_order_id__isnull=False),
                                    name="kept_aside_once_per_shop_order"),
        ]
        indexes = [models.Index(fields=["taken_in_at", "-last_kept_at"], name="keptaside_waiting")]

    def __str__(self) -> str:
        return f"Order {self.number or self.shop_order_id or '?'} of {self.storefront}"
