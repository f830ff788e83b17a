"""Admin for storefronts, customers, plans and orders.

Money fields an action maintains (refunded amounts, chargeback sanctions) are read-only here: they
change through ``cases.services`` and ``orders.services`` only. The cases app adds an order's cases
and payouts to its page, and owns the chargebacks' admin (cases/admin/orders.py).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from core.admin_site import ReadOnlyAdmin
from orders.display import breakable_email
from orders.imports.admin import OrderImportAdminMixin
from orders.models import (
    Chargeback,
    Customer,
    Extension,
    Order,
    Plan,
    Storefront,
    StorefrontSettingChange,
    Subscription,
)
from orders.services import storefront_set_four_eyes


class StorefrontForm(forms.ModelForm):
    four_eyes_reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        label="Why the four-eyes rule changes", help_text="Required when switching the four-eyes rule; kept on record.",
    )

    class Meta:
        model = Storefront
        fields = ["name", "slug", "support_email", "currency", "four_eyes", "extension_limit_days",
                  "evidence_due_days", "evidence_grace_days"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and "four_eyes" in self.changed_data and not (cleaned.get("four_eyes_reason") or "").strip():
            self.add_error("four_eyes_reason", "Say why the four-eyes rule changes.")
        return cleaned


@admin.register(Storefront)
class StorefrontAdmin(admin.ModelAdmin):
    form = StorefrontForm
    list_display = ["name", "slug", "support_email", "currency", "four_eyes", "evidence_due_days"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_readonly_fields(self, request, obj=None):
        # H-FOUR-EYES controls the managers who edit storefronts: only a distinct permission switches it.
        if obj is not None and not request.user.has_perm("orders.change_four_eyes"):
            return ["four_eyes"]
        return []

    def get_exclude(self, request, obj=None):
        if obj is None or not request.user.has_perm("orders.change_four_eyes"):
            return ["four_eyes_reason"]
        return []

    def save_model(self, request, obj, form, change):
        if change and "four_eyes" in form.changed_data:
            wanted = obj.four_eyes
            obj.four_eyes = not wanted  # written by the service, with its record
            super().save_model(request, obj, form, change)
            storefront_set_four_eyes(storefront=obj, actor=request.user, enabled=wanted,
                                     reason=form.cleaned_data["four_eyes_reason"])
            obj.four_eyes = wanted
            return
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StorefrontSettingChange)
class StorefrontSettingChangeAdmin(ReadOnlyAdmin):
    list_display = ["changed_at", "storefront", "setting", "old_value", "new_value", "changed_by", "reason"]
    list_filter = ["storefront", "setting"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "storefront", "phone", "restricted_from_ordering", "created_at"]
    list_filter = ["storefront", "restricted_from_ordering"]
    search_fields = ["email", "name", "phone"]
    list_select_related = ["storefront"]
    fieldsets = [
        (None, {"fields": ["storefront", "email", "name", "phone"]}),
        ("Restriction", {"fields": ["restricted_from_ordering", "restriction_reason"]}),
    ]
    # Set by recording a chargeback and cleared only by lifting its sanction, which keeps a note.
    readonly_fields = ["restricted_from_ordering", "restriction_reason"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "storefront", "months", "devices", "price", "currency", "external_product_id"]
    list_filter = ["storefront", "months", "devices"]
    search_fields = ["name", "external_product_id"]
    list_select_related = ["storefront"]


# What the policy read when it decided on the order's cases; changing them later would rewrite history.
POLICY_INPUT_FIELDS = ["amount", "currency", "payment_method", "purchased_at", "storefront", "plan", "customer",
                       "number"]


def order_has_history(order: Order | None) -> bool:
    """Whether a case, payout or chargeback already rests on the order's terms."""
    if order is None or order.pk is None:
        return False
    if not hasattr(order, "_has_history"):  # asked several times while one change page is built
        order._has_history = (
            order.cases.exists() or order.payouts.exists() or order.chargebacks.exists()
        )
    return order._has_history


class SubscriptionInline(admin.StackedInline):
    model = Subscription
    can_delete = False
    fields = ["delivered_at", "status", "access_reference", "extension_days", "period_end"]
    # A suspension is lifted with the chargeback's own action, which needs a note (S1-CHARGEBACK).
    readonly_fields = ["status", "extension_days", "period_end"]

    def get_queryset(self, request):
        # The period end reads the plan's months through the order.
        return super().get_queryset(request).select_related("order__plan")

    def get_readonly_fields(self, request, obj=None):
        # Delivery time decides "used on delivery" and the refund windows (S1-USED-ON-DELIVERY).
        if order_has_history(obj):
            return ["delivered_at", *self.readonly_fields]
        return self.readonly_fields

    @admin.display(description="Period ends")
    def period_end(self, subscription: Subscription) -> str:
        end = subscription.period_end
        return date_format(timezone.localtime(end), "DATETIME_FORMAT") if end else "—"


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ChargebackInline(ReadOnlyInline):
    model = Chargeback
    fields = ["opened_at", "amount", "processor_reference", "status", "evidence_due_by", "prior_contact",
              "sanction_applied", "sanction_lifted_at"]
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(OrderImportAdminMixin, admin.ModelAdmin):
    list_display = ["order_number", "storefront", "customer_column", "plan", "amount_paid", "refunded", "status",
                    "payment_method", "purchased_at"]
    list_filter = ["storefront", "status", "payment_method"]
    search_fields = ["=number", "customer__email", "processor_reference"]
    search_help_text = "Order number, customer e-mail or processor reference."
    autocomplete_fields = ["customer"]
    readonly_fields = ["refunded_amount", "status", "refundable_remainder", "created_at"]
    date_hierarchy = "purchased_at"
    fieldsets = [
        (None, {"fields": ["storefront", "number", "customer", "plan", "purchased_at"]}),
        ("Payment", {"fields": ["amount", "currency", "payment_method", "processor_reference"]}),
        ("Refunds (maintained by payouts)", {"fields": ["refunded_amount", "refundable_remainder", "status"]}),
    ]
    inlines = [SubscriptionInline, ChargebackInline]
    change_form_template = "admin/orders/order/change_form.html"

    def get_queryset(self, request):
        # The list shows, and the order picker (autocomplete) labels each order with, these rows.
        return super().get_queryset(request).select_related("customer", "storefront", "plan")

    def get_readonly_fields(self, request, obj=None):
        if order_has_history(obj):
            return [*POLICY_INPUT_FIELDS, *self.readonly_fields]
        return self.readonly_fields

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, search_term.strip().lstrip("#"))

    class Media:
        css = {"all": ["orders/admin.css"]}

    @admin.display(description="Order", ordering="number")
    def order_number(self, order: Order) -> str:
        return str(order)

    @admin.display(description="Customer", ordering="customer__email")
    def customer_column(self, order: Order) -> str:
        customer = order.customer
        return format_html('{}<br><span class="rb-order-email">{}</span>', customer.name or "",
                           breakable_email(customer.email))

    @admin.display(description="Paid", ordering="amount")
    def amount_paid(self, order: Order) -> str:
        return f"{order.amount:.2f} {order.currency}"

    @admin.display(description="Refunded", ordering="refunded_amount")
    def refunded(self, order: Order) -> str:
        return f"{order.refunded_amount:.2f}" if order.refunded_amount else "—"

    @admin.display(description="Refundable remainder")
    def refundable_remainder(self, order: Order) -> str:
        return f"{order.refundable_remainder:.2f} {order.currency}" if order.pk else "—"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        if request.user.has_perm("cases.add_refundcase"):
            context["open_case_url"] = reverse(f"{self.admin_site.name}:cases_refundcase_add") + f"?order={object_id}"
        if request.user.has_perm("orders.add_chargeback"):
            context["chargeback_url"] = reverse(f"{self.admin_site.name}:orders_chargeback_add") + f"?order={object_id}"
        return super().change_view(request, object_id, form_url, extra_context=context)


@admin.register(Extension)
class ExtensionAdmin(ReadOnlyAdmin):
    """Extensions are granted by the extend action on a case (S0-OUTAGE); listed here only."""

    list_display = ["subscription", "case", "lost_days", "bonus_days", "created_by", "created_at"]
    list_select_related = ["subscription__order", "case", "created_by"]
    search_fields = ["=subscription__order__number", "=case__number"]
