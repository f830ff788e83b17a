from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Func, Q, Value
from django.db.models.functions import StrIndex, Substr, Upper
from django.utils import timezone

from orders.disputes import CLOSED_STATUSES, DisputeReason, DisputeStatus, reason_words
from rules.case_facts import returned_so_far
from rules.engine import PAYMENT_METHOD_LABELS, period_end

MONEY = {"max_digits": 12, "decimal_places": 2}


class Storefront(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(unique=True)
    support_email = models.EmailField(help_text="Every customer e-mail goes out from here (S0-SUPPORT-COMMS).")
    currency = models.CharField(max_length=3, default="USD", help_text="Default currency of new orders.")
    four_eyes = models.BooleanField(
        default=True, help_text="H-FOUR-EYES: the user who approved a refund may not also mark it paid."
    )
    extension_limit_days = models.PositiveIntegerField(
        default=30,
        help_text="S0-OUTAGE: an extension of more days (lost days plus bonus) needs a support manager.",
    )
    evidence_due_days = models.PositiveIntegerField(
        default=7, help_text="Days a customer has to send requested evidence before a reminder goes out."
    )
    evidence_grace_days = models.PositiveIntegerField(
        default=3, help_text="Days after the reminder before the case returns to the agent, flagged overdue."
    )

    class Meta:
        ordering = ["name"]
        # H-FOUR-EYES controls the support managers: switching it is not theirs to do.
        permissions = [("change_four_eyes", "Can switch the four-eyes rule of a storefront")]

    def __str__(self) -> str:
        return self.name

    def extension_needs_manager(self, days: int) -> bool:
        """S0-OUTAGE: an extension of more days than the storefront lets an agent grant."""
        return days > self.extension_limit_days


class StorefrontSettingChange(models.Model):
    """Append-only record of a change to a storefront setting that controls staff (four-eyes)."""

    storefront = models.ForeignKey(Storefront, on_delete=models.PROTECT, related_name="setting_changes")
    setting = models.CharField(max_length=40)
    old_value = models.CharField(max_length=200)
    new_value = models.CharField(max_length=200)
    reason = models.TextField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.storefront}: {self.setting} {self.old_value} -> {self.new_value}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Storefront setting changes are append-only.")
        super().save(*args, **kwargs)


def email_domain(field: str = "email") -> Func:
    """The part of an e-mail after its "@", upper-cased: what the case search matches a domain on.

    The ``customer_email_domain`` index is built on exactly this expression, so a query must use it
    as written here for the index (and its statistics) to serve.
    """
    return Upper(Substr(field, StrIndex(field, Value("@")) + 1))


class Customer(models.Model):
    storefront = models.ForeignKey(Storefront, on_delete=models.PROTECT, related_name="customers")
    email = models.EmailField()
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True, help_text="Phone or WhatsApp number.")
    restricted_from_ordering = models.BooleanField(default=False)
    restriction_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(fields=["storefront", "email"], name="customer_unique_email_per_storefront"),
        ]
        indexes = [
            # The customer's history on the case page: the same e-mail on every storefront.
            models.Index(fields=["email"], name="customer_email"),
            # The case search's exact e-mail (iexact is UPPER(email) = UPPER(term)).
            models.Index(Upper("email"), name="customer_email_upper"),
            # The case search's e-mail domain ("proton.me" or "@proton.me"): an equality on a b-tree,
            # whose statistics tell the planner how many customers a domain has.
            models.Index(email_domain(), name="customer_email_domain"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


class Plan(models.Model):
    MONTHS = [(1, "1 month"), (3, "3 months"), (6, "6 months"), (12, "12 months")]

    storefront = models.ForeignKey(Storefront, on_delete=models.PROTECT, related_name="plans")
    name = models.CharField(max_length=120)
    months = models.PositiveSmallIntegerField(choices=MONTHS)
    devices = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    price = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, default="USD")
    external_product_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["storefront", "months", "devices"]
        constraints = [
            models.CheckConstraint(condition=Q(months__in=[1, 3, 6, 12]), name="plan_months_allowed"),
            models.CheckConstraint(condition=Q(devices__gte=1), name="plan_devices_positive"),
            models.CheckConstraint(condition=Q(price__gte=0), name="plan_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.months} mo, {self.devices} device{'s' if self.devices > 1 else ''})"


class Order(models.Model):
    class Status(models.TextChoices):
        PAID = "paid", "Paid"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"
        CHARGEBACK = "chargeback", "Chargeback"

    PAYMENT_METHOD_CHOICES = list(PAYMENT_METHOD_LABELS.items())

    storefront = models.ForeignKey(Storefront, on_delete=models.PROTECT, related_name="orders")
    number = models.CharField(max_length=40)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="orders")
    amount = models.DecimalField(**MONEY, help_text="Amount paid.")
    currency = models.CharField(max_length=3)
    payment_method = models.CharField(max_length=20, choices=PAYMENT_METHOD_CHOICES)
    processor_reference = models.CharField(max_length=120, blank=True)
    purchased_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PAID)
    # Maintained by the pay service under a row lock; the constraint below is the backstop.
    refunded_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    # Money the bank took back. With the refunds it never exceeds the amount paid (H-CAP).
    charged_back_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    # The shop's own id of the order (WooCommerce's ``id``), for calls back to the shop; empty for an
    # order typed in or imported from a file.
    shop_order_id = models.PositiveBigIntegerField(
        null=True, blank=True, editable=False, help_text="The order's id in the connected shop."
    )
    # The shop's ``date_modified_gmt`` of the version stored here: an older delivery is not applied.
    shop_modified_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-purchased_at"]
        constraints = [
            models.UniqueConstraint(fields=["storefront", "number"], name="order_unique_number_per_storefront"),
            models.UniqueConstraint(fields=["storefront", "shop_order_id"], name="order_unique_shop_id_per_storefront"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative"),
            models.CheckConstraint(condition=Q(refunded_amount__gte=0), name="order_refunded_not_negative"),
            models.CheckConstraint(condition=Q(charged_back_amount__gte=0), name="order_charged_back_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=models.F("amount")), name="order_refunds_within_amount"
            ),
            models.CheckConstraint(
                condition=Q(charged_back_amount__lte=models.F("amount") - models.F("refunded_amount")),
                name="order_returned_within_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["purchased_at"]),
            # The case search's exact order number, on any storefront.
            models.Index(fields=["number"], name="order_number"),
        ]

    def __str__(self) -> str:
        return f"#{self.number}"

    @property
    def returned_so_far(self) -> Decimal:
        """Refunds paid plus chargebacks, never more than the amount: the policy's "already refunded"."""
        return returned_so_far(amount=self.amount, refunded=self.refunded_amount, charged_back=self.charged_back_amount)

    @property
    def refundable_remainder(self) -> Decimal:
        """H-CAP: what may still be refunded on this order."""
        return self.amount - self.returned_so_far


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        TERMINATED = "terminated", "Terminated"
        EXPIRED = "expired", "Expired"

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="subscription")
    delivered_at = models.DateTimeField(
        null=True, blank=True, help_text="When the access details were created and sent; empty: not delivered."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    extension_days = models.PositiveIntegerField(default=0, help_text="Days added by extensions, bonus included.")
    access_reference = models.CharField(max_length=200, blank=True, help_text="Account or activation code sent.")

    def __str__(self) -> str:
        return f"Subscription of {self.order}"

    @property
    def period_end(self):
        """S1-PERIOD: delivery + plan months, plus every extension and bonus granted since."""
        if self.delivered_at is None:
            return None
        return period_end(self.delivered_at, self.order.plan.months) + timedelta(days=self.extension_days)


class Extension(models.Model):
    """Lost time and bonus added to a subscription (S0-OUTAGE)."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="extensions")
    case = models.ForeignKey("cases.RefundCase", null=True, blank=True, on_delete=models.PROTECT)
    lost_days = models.PositiveIntegerField()
    bonus_days = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.lost_days} + {self.bonus_days} days on {self.subscription.order}"

    @property
    def total_days(self) -> int:
        return self.lost_days + self.bonus_days


class Chargeback(models.Model):
    """A dispute the customer opened with their bank (S1-CHARGEBACK).

    Typed in by staff, or recorded from the processor's dispute (``dispute_id`` set), which also
    brings the bank's reason, the evidence deadline and, later, the outcome (orders/disputes.py).
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="chargebacks")
    amount = models.DecimalField(**MONEY)
    processor_reference = models.CharField(max_length=120, blank=True)
    opened_at = models.DateTimeField()
    prior_contact = models.BooleanField(help_text="The customer had contacted support before the chargeback.")
    sanction_applied = models.BooleanField(default=False)
    suspended_subscription = models.BooleanField(
        default=False, help_text="This chargeback's sanction suspended the order's subscription."
    )
    restricted_customer = models.BooleanField(
        default=False, help_text="This chargeback's sanction restricted the customer from ordering."
    )
    sanction_lifted_at = models.DateTimeField(null=True, blank=True)
    sanction_lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sanction_lift_note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    # What a processor's dispute brings; blank on a chargeback typed in by staff.
    dispute_id = models.CharField(
        "dispute ID", max_length=120, blank=True, help_text="The processor's ID of the dispute (Stripe: dp_…); one chargeback each."
    )
    reason = models.CharField(
        max_length=40, blank=True, choices=DisputeReason.choices, help_text="The reason the bank gave."
    )
    evidence_due_by = models.DateTimeField(
        null=True, blank=True, help_text="The processor must have our evidence by then."
    )
    status = models.CharField(max_length=16, blank=True, choices=DisputeStatus.choices)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When the processor closed the dispute.")

    class Meta:
        ordering = ["-opened_at"]
        permissions = [
            ("lift_sanction", "Can lift a chargeback sanction (S1-CHARGEBACK)"),
            # The packet itself is made by reports (docs/disputes.md); managers hold this.
            ("download_evidence_packet", "Can download a chargeback's evidence packet"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="chargeback_amount_positive"),
            models.CheckConstraint(
                condition=Q(sanction_lifted_at__isnull=True) | (Q(sanction_applied=True) & ~Q(sanction_lift_note="")),
                name="chargeback_lift_needs_sanction_and_note",
            ),
            # A replayed webhook, or two deliveries of one event at once, must not record a dispute twice.
            models.UniqueConstraint(fields=["dispute_id"], condition=~Q(dispute_id=""), name="chargeback_dispute_once"),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True, status__in=["", DisputeStatus.OPEN])
                | Q(closed_at__isnull=False, status__in=list(CLOSED_STATUSES)),
                name="chargeback_closed_has_time",
            ),
        ]
        indexes = [
            # The disputes queue: open disputes, nearest evidence deadline first.
            models.Index(fields=["evidence_due_by", "id"], condition=Q(status=DisputeStatus.OPEN),
                         name="chargeback_open_disputes"),
        ]

    def __str__(self) -> str:
        return f"Chargeback of {self.amount} {self.order.currency} on {self.order}"

    @property
    def is_dispute(self) -> bool:
        return bool(self.dispute_id)

    @property
    def reason_words(self) -> str:
        return reason_words(self.reason)


class OrderImportPreview(models.Model):
    """An order import the admin previewed: what its confirm imports, once, for that user only.

    The confirm page carries only ``token``; the storefront, the stored file (and its hash, so it
    cannot be swapped on disk) and the format are read from here (docs/decisions/0034).
    """

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    storefront = models.ForeignKey(Storefront, on_delete=models.CASCADE, related_name="+")
    file_name = models.CharField(max_length=255, help_text="The upload as django-import-export stored it.")
    file_sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Order import preview for {self.storefront} by {self.user}"
