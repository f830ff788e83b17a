"""The connections (for users who may manage them; secrets write-only), the call log and the orders
kept aside (for managers), and the connected shop's part of the order page.

The order admin is registered again with the shop's part added, as the cases app does with its
own (``cases/admin/orders.py``): orders know nothing of shops.
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from cases.admin.orders import OrderWithCasesAdmin
from core.admin_site import ReadOnlyAdmin, Tool
from orders.models import Order
from shop.addresses import BadAddress, connection_url
from shop.connections import STRIPE_API, ConnectionRefused, connect, disconnect, refund_route
from shop.intake import take_kept_aside
from shop.keys import SecretsUnreadable
from shop.models import Connection, KeptAsideOrder, ShopCall

MANAGE = "shop.manage_connections"
# The form's secret fields, by kind, as the connection names them.
SECRET_FIELDS = {
    Connection.Kind.WOOCOMMERCE: {"consumer_key": "consumer_key", "consumer_secret": "consumer_secret",
                                  "webhook_secret": "webhook_secret"},
    Connection.Kind.STRIPE: {"stripe_key": "secret_key", "stripe_webhook_secret": "webhook_secret"},
}
ALL_SECRET_FIELDS = [name for fields in SECRET_FIELDS.values() for name in fields]


def _secret_field(label: str, help_text: str) -> forms.CharField:
    # Never rendered back: not the value, not a mask of it (its length would show).
    return forms.CharField(label=label, required=False, strip=True, help_text=help_text,
                           widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))


class ConnectionForm(forms.ModelForm):
    consumer_key = _secret_field("Consumer key", "WooCommerce: the REST API key (ck_…), read/write.")
    consumer_secret = _secret_field("Consumer secret", "WooCommerce: the REST API secret (cs_…).")
    webhook_secret = _secret_field("Webhook secret", "WooCommerce: the secret set on the shop's order webhooks.")
    stripe_key = _secret_field("Stripe secret key", "Stripe: the secret API key (sk_… or rk_…).")
    stripe_webhook_secret = _secret_field("Stripe webhook secret", "Stripe: the endpoint's signing secret (whsec_…).")

    class Meta:
        model = Connection
        fields = ["storefront", "kind", "url"]
        help_texts = {"url": f"WooCommerce: the shop's address. Stripe: {STRIPE_API}. https:// only."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name in ALL_SECRET_FIELDS:
                self.fields[name].help_text += " Leave empty to keep the one stored."

    @sensitive_variables("secrets", "stored")
    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind") or self.instance.kind
        storefront = cleaned.get("storefront") or getattr(self.instance, "storefront", None)
        if not kind or storefront is None:
            return cleaned
        if not self.instance.pk and Connection.objects.filter(storefront=storefront, kind=kind).exists():
            self.add_error("kind", "This storefront already has this connection: change that one.")
        if cleaned.get("url"):
            try:
                cleaned["url"] = connection_url(cleaned["url"])
            except BadAddress as error:
                self.add_error("url", f"The address {error}.")
        stored = {}
        if self.instance.pk and self.instance.kind == kind:
            try:
                stored = self.instance.secrets()
            except SecretsUnreadable:
                stored = {}  # no key opens them any more: every secret must be given again
        secrets = {}
        for field, name in SECRET_FIELDS[kind].items():
            secrets[name] = cleaned.get(field) or stored.get(name, "")
            if not secrets[name]:
                self.add_error(field, "Required: a connection is set with every secret of its kind.")
        for field in ALL_SECRET_FIELDS:
            if field not in SECRET_FIELDS[kind] and cleaned.get(field):
                self.add_error(field, f"Not a secret of a {Connection.Kind(kind).label} connection.")
        self.secrets_to_store = secrets
        return cleaned


@admin.register(Connection)
class ConnectionAdmin(admin.ModelAdmin):
    form = ConnectionForm
    list_display = ["storefront", "kind", "url", "connected_at", "secrets_set_at", "last_sync_at", "last_sync_result"]
    list_select_related = ["storefront"]
    readonly_fields = ["secrets_stored", "refunds_route", "webhook_url", "connected_at", "connected_by",
                       "sync_resume_at", "last_sync_at", "last_sync_result", "shop_links"]

    def get_fieldsets(self, request, obj=None):
        secrets = ["consumer_key", "consumer_secret", "webhook_secret", "stripe_key", "stripe_webhook_secret"]
        if obj is not None:
            secrets = ["secrets_stored", *SECRET_FIELDS[obj.kind]]
        fieldsets = [(None, {"fields": ["storefront", "kind", "url"]}),
                     ("Secrets (write-only: never shown again)", {"fields": secrets})]
        if obj is not None:
            fieldsets.append(("State", {"fields": ["refunds_route", "webhook_url", "connected_at", "connected_by",
                                                   "sync_resume_at", "last_sync_at", "last_sync_result",
                                                   "shop_links"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["storefront", "kind", *self.readonly_fields]
        return self.readonly_fields

    def get_actions(self, request):
        return {}  # removing a connection goes through the service, one at a time

    def _manages(self, request) -> bool:
        return request.user.has_perm(MANAGE)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._manages(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        return self._manages(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._manages(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._manages(request) and super().has_delete_permission(request, obj)

    @method_decorator(sensitive_post_parameters(*ALL_SECRET_FIELDS))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    @sensitive_variables("form")
    def save_model(self, request, obj, form, change):
        try:
            saved = connect(storefront=form.cleaned_data.get("storefront") or obj.storefront,
                            kind=form.cleaned_data.get("kind") or obj.kind, url=form.cleaned_data["url"],
                            secrets=form.secrets_to_store, options=obj.options, by=request.user.get_username())
        except ConnectionRefused as error:  # checked by the form already; a race with another change
            messages.error(request, f"Not saved: {error.option}: {error.message}")
            return
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        try:
            disconnect(storefront=obj.storefront, kind=obj.kind)
        except ConnectionRefused as error:
            messages.error(request, f"Not removed: {error.message}")

    @admin.display(description="Secrets")
    def secrets_stored(self, connection: Connection) -> str:
        names = ", ".join(name.replace("_", " ") for name in Connection.SECRETS[connection.kind])
        return f"{names}: stored encrypted, set {date_format(timezone.localtime(connection.secrets_set_at), 'DATETIME_FORMAT')}"

    @admin.display(description="Refunds go through")
    def refunds_route(self, connection: Connection) -> str:
        route = refund_route(connection.storefront)
        return Connection.Kind(route).label if route else "paid by hand"

    @admin.display(description="Webhook delivery URL")
    def webhook_url(self, connection: Connection) -> str:
        if connection.kind != Connection.Kind.WOOCOMMERCE:
            return "—"
        return settings.SITE_URL.rstrip("/") + reverse("shop:woocommerce_delivery", args=[connection.storefront.slug])

    @admin.display(description="See also")
    def shop_links(self, connection: Connection) -> str:
        kept = reverse(f"{self.admin_site.name}:shop_keptasideorder_changelist")
        calls = reverse(f"{self.admin_site.name}:shop_shopcall_changelist")
        waiting = KeptAsideOrder.objects.filter(storefront=connection.storefront, taken_in_at__isnull=True).count()
        return format_html('<a href="{}?storefront__id__exact={}&amp;waiting=yes">Orders kept aside ({})</a> · '
                           '<a href="{}?storefront__id__exact={}">Call log</a>', kept, connection.storefront_id,
                           waiting, calls, connection.storefront_id)


@admin.register(ShopCall)
class ShopCallAdmin(ReadOnlyAdmin):
    """Every call to a shop and every delivery from it: when, what, the answer, the order and case."""

    list_display = ["at", "storefront", "kind", "direction", "method", "endpoint", "status", "result", "duration_ms",
                    "order_link", "case_link"]
    list_filter = ["direction", "kind", "storefront"]
    search_fields = ["=delivery_id", "=order__number", "endpoint"]
    search_help_text = "Delivery id, order number or endpoint."
    list_select_related = ["storefront", "order", "case"]
    show_full_result_count = False

    def lookup_allowed(self, lookup, value, request=None):
        # The order page links to its own lines.
        return lookup in ("order__id__exact",) or super().lookup_allowed(lookup, value, request)

    @admin.display(description="Order")
    def order_link(self, call: ShopCall) -> str:
        if call.order_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse(f"{self.admin_site.name}:orders_order_change",
                                                          args=[call.order_id]), str(call.order))

    @admin.display(description="Case")
    def case_link(self, call: ShopCall) -> str:
        if call.case_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse(f"{self.admin_site.name}:cases_refundcase_change",
                                                          args=[call.case_id]), call.case.number)


class WaitingFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("yes", "Still kept aside"), ("no", "Taken in")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(taken_in_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(taken_in_at__isnull=False)
        return queryset


@admin.register(KeptAsideOrder)
class KeptAsideOrderAdmin(admin.ModelAdmin):
    """Orders the shop sent that could not be used, with the reason; read again once the cause is fixed."""

    list_display = ["last_kept_at", "storefront", "number", "shop_order_id", "reason", "via", "taken_in_at"]
    list_filter = [WaitingFilter, "storefront", "via"]
    search_fields = ["=number", "=shop_order_id"]
    list_select_related = ["storefront"]
    actions = ["take_in_again"]
    fields = ["storefront", "number", "shop_order_id", "reason", "via", "modified_at", "first_kept_at",
              "last_kept_at", "taken_in_at", "order", "order_object_shown"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # never dropped

    @admin.display(description="What the shop sent (the fields read)")
    def order_object_shown(self, kept: KeptAsideOrder) -> str:
        if not kept.order_object:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(kept.order_object, indent=2, ensure_ascii=False))

    @admin.action(description="Read again and take in what is usable now", permissions=["change"])
    def take_in_again(self, request: HttpRequest, queryset) -> None:
        taken = take_kept_aside(rows=list(queryset.select_related("storefront")))
        messages.info(request, f"Read again: {taken.summary}.")


class OrderWithShopAdmin(OrderWithCasesAdmin):
    """The order page with its shop id and the link to its lines in the call log."""

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets.append(("Connected shop", {"fields": ["shop_order_id", "shop_modified_at", "shop_calls"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "shop_order_id", "shop_modified_at", "shop_calls"]

    @admin.display(description="Call log")
    def shop_calls(self, order: Order) -> str:
        if order.pk is None:
            return "—"
        count = ShopCall.objects.filter(order=order).count()
        if not count:
            return "no call to or from the shop about this order"
        url = reverse(f"{self.admin_site.name}:shop_shopcall_changelist") + f"?order__id__exact={order.pk}"
        return format_html('<a href="{}">{} call{} to or from the shop</a>', url, count, "" if count == 1 else "s")


admin.site.unregister(Order)
admin.site.register(Order, OrderWithShopAdmin)


def shop_tools(request: HttpRequest, site: admin.AdminSite) -> list[Tool]:
    user = request.user
    tools: list[Tool] = []
    if user.has_perm("shop.view_keptasideorder"):
        waiting = KeptAsideOrder.objects.filter(taken_in_at__isnull=True).count()
        tools.append(Tool("Shop orders kept aside", reverse(f"{site.name}:shop_keptasideorder_changelist")
                          + "?waiting=yes", waiting, alert=waiting > 0))
    if user.has_perm("shop.view_shopcall"):
        tools.append(Tool("Shop call log", reverse(f"{site.name}:shop_shopcall_changelist")))
    if user.has_perm(MANAGE) and user.has_perm("shop.view_connection"):
        tools.append(Tool("Shop connections", reverse(f"{site.name}:shop_connection_changelist")))
    return tools


admin.site.register_tools(shop_tools, position=30)
