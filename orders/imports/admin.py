"""The order import in the admin, on django-import-export's upload, preview and confirm pages.

The preview is a dry run of ``orders.imports.engine``: the same checks and counts as
``import_orders``, each record shown as new, updated (with what changes) or skipped, and every
error by position and field. Confirming runs it again with the write, all or nothing.
"""

from __future__ import annotations

import tablib
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from import_export.admin import ImportMixin
from import_export.formats.base_formats import Format
from import_export.forms import ConfirmImportForm, ImportForm
from import_export.resources import ModelResource
from import_export.results import Result, RowResult

from orders.imports.engine import NEW, UPDATED, ImportResult, import_orders
from orders.models import Order, Storefront

PREVIEW_HEADERS = ["position", "number", "email", "plan", "amount", "status", "changes"]
ROW_TYPES = {NEW: RowResult.IMPORT_TYPE_NEW, UPDATED: RowResult.IMPORT_TYPE_UPDATE}


class _WholeFile(Format):
    """Hands the whole file to the import engine, which reads it with positions and fields."""

    code = ""
    title = ""
    extension = ""

    def __init__(self, encoding=None, **kwargs):
        self.encoding = encoding

    def get_title(self):
        return self.title

    def create_dataset(self, in_stream):
        text = in_stream.decode("utf-8-sig") if isinstance(in_stream, bytes) else in_stream
        return tablib.Dataset([self.code, text], headers=["format", "text"])

    def is_binary(self):
        return False

    def get_read_mode(self):
        return "r"

    def get_extension(self):
        return self.extension

    def can_import(self):
        return True

    def can_export(self):
        return False


class WooCommerceOrders(_WholeFile):
    code, title, extension = "woocommerce", "WooCommerce orders (REST API v3 JSON)", "json"


class OrdersCSV(_WholeFile):
    code, title, extension = "csv", "Orders CSV (docs/reports.md)", "csv"


class OrderImportForm(ImportForm):
    storefront = forms.ModelChoiceField(queryset=Storefront.objects.all(), help_text="The shop the orders come from.")
    field_order = ["storefront", "resource", "import_file", "format"]


class OrderConfirmImportForm(ConfirmImportForm):
    storefront = forms.ModelChoiceField(queryset=Storefront.objects.all(), widget=forms.HiddenInput())


def _preview_row(outcome) -> RowResult:
    record = outcome.record
    row = RowResult()
    row.import_type = ROW_TYPES.get(outcome.kind, RowResult.IMPORT_TYPE_SKIP)
    changes = "; ".join(f"{name}: {old} → {new}" for name, (old, new) in outcome.changes.items())
    row.diff = [record.position, record.number, record.email, str(record.plan), f"{record.amount:.2f} {record.currency}",
                record.shop_status, changes or outcome.note or outcome.kind]
    return row


def to_result(outcome: ImportResult) -> Result:
    """The engine's answer as import-export's Result, which its preview page renders."""
    result = Result()
    result.diff_headers = list(PREVIEW_HEADERS)
    by_position: dict[str, dict[str, list[str]]] = {}
    for error in outcome.errors:
        by_position.setdefault(error.position, {}).setdefault(error.field, []).append(error.message)
    for position, errors in by_position.items():
        result.append_invalid_row(number=position, row={"position": position}, validation_error=ValidationError(errors))
    for item in outcome.outcomes:
        row = _preview_row(item)
        result.append_row_result(row)
        result.increment_row_result_total(row)
    result.total_rows = len(outcome.outcomes) + len(by_position)
    result.summary = outcome.summary
    return result


class OrderImportResource(ModelResource):
    """A Resource only in name: the engine checks and writes; this adapts its answer."""

    class Meta:
        model = Order
        name = "Orders from the shop"
        # What the preview page lists as imported: the order and its customer, plan and subscription.
        fields = ("number", "customer", "plan", "amount", "currency", "payment_method", "processor_reference",
                  "purchased_at", "refunded_amount", "status")

    def __init__(self, storefront: Storefront | None = None, **kwargs):
        super().__init__(**kwargs)
        self.storefront = storefront

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None, collect_failed_rows=False,
                    rollback_on_validation_errors=False, **kwargs):
        fmt, text = dataset[0]
        return to_result(import_orders(storefront=self.storefront, text=text, fmt=fmt, commit=not dry_run))


class OrderImportAdminMixin(ImportMixin):
    resource_classes = [OrderImportResource]
    import_form_class = OrderImportForm
    confirm_form_class = OrderConfirmImportForm
    formats = [WooCommerceOrders, OrdersCSV]
    skip_admin_log = True

    def get_import_formats(self):
        return [WooCommerceOrders, OrdersCSV]

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm("orders.add_order") and request.user.has_perm("orders.change_order")

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        storefront = getattr(form, "cleaned_data", {}).get("storefront") if form is not None else None
        return {"storefront": storefront}

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["storefront"] = import_form.cleaned_data["storefront"].pk
        return initial

    def process_result(self, result, request):
        url = reverse(f"{self.admin_site.name}:orders_order_changelist")
        if result.has_validation_errors():
            # The file or the orders changed since the preview: nothing was written.
            messages.error(request, f"Nothing imported: {result.summary}. Upload the file again to see why.")
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:orders_order_import"))
        messages.success(request, f"Imported: {result.summary}.")
        return HttpResponseRedirect(url)
