"""The order import in the admin, on django-import-export's upload, preview and confirm pages.

The preview is a dry run of ``orders.imports.engine``: the same checks and counts as
``import_orders``, each record shown as new, updated (with what changes) or skipped, and every
error by position and field. Confirming runs it again with the write, all or nothing.

A shop's whole history can be 100,000 orders: the preview then lists the first ``PREVIEW_ROWS``
new or updated orders (or errors) and counts all of them, because a page of 100,000 table rows
takes longer to render than the import takes to run. The upload may be up to
``ORDER_IMPORT_MAX_BYTES`` and is cut off as it streams in past that (``core.uploads.handler``).

The confirm page carries only the token of the preview (``orders.imports.previews``): the confirm
imports the previewed file for the previewed storefront, once, and only for the user who previewed it.
"""

from __future__ import annotations

from itertools import islice

import tablib
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST
from import_export.admin import ImportMixin
from import_export.formats.base_formats import Format
from import_export.forms import ImportForm
from import_export.resources import ModelResource
from import_export.results import Result, RowResult

from core.uploads.handler import upload_limit
from core.uploads.types import megabytes
from orders.imports.engine import NEW, SKIPPED, UNCHANGED, UPDATED, ImportResult, import_orders
from orders.imports.previews import PreviewRefused, confirm_preview, file_hash, start_preview
from orders.models import Order, Storefront

PREVIEW_ROWS = 1000
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


FORMATS = [WooCommerceOrders, OrdersCSV]


class OrderImportForm(ImportForm):
    storefront = forms.ModelChoiceField(queryset=Storefront.objects.all(), help_text="The shop the orders come from.")
    # The file last: a file cut off at the size limit ends the upload, and fields after it are not sent.
    field_order = ["storefront", "resource", "format", "import_file"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["import_file"].help_text = f"Up to {megabytes(settings.ORDER_IMPORT_MAX_BYTES)}."

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        refusal = getattr(upload, "refusal", "")
        if refusal:  # cut off by the upload handler while it streamed in
            raise ValidationError(f"{refusal} Split the export into several files.")
        return upload


class OrderConfirmImportForm(forms.Form):
    """Only the preview's token: the storefront, file and format are the preview's own."""

    token = forms.CharField(widget=forms.HiddenInput(), max_length=64)


def page_position(position: str) -> str:
    """Records counted from 1 on the pages ("record 1" is the file's first); the command names the array index."""
    if position.startswith("record ") and position[7:].isdigit():
        return f"record {int(position[7:]) + 1}"
    return position


def _preview_row(outcome) -> RowResult:
    record = outcome.record
    row = RowResult()
    row.import_type = ROW_TYPES.get(outcome.kind, RowResult.IMPORT_TYPE_SKIP)
    changes = "; ".join(f"{name}: {old} → {new}" for name, (old, new) in outcome.changes.items())
    row.diff = [page_position(record.position), record.number, record.email, str(record.plan), f"{record.amount:.2f} {record.currency}",
                record.shop_status, changes or outcome.note or outcome.kind]
    return row


def to_result(outcome: ImportResult, *, limit: int = PREVIEW_ROWS) -> Result:
    """The engine's answer as import-export's Result, which its preview page renders.

    Every order is counted; a file of more than ``limit`` orders lists only its first ``limit``
    new or updated ones (and its first ``limit`` records with errors).
    """
    result = Result()
    result.diff_headers = list(PREVIEW_HEADERS)
    by_position: dict[str, dict[str, list[str]]] = {}
    for error in outcome.errors:
        by_position.setdefault(page_position(error.position), {}).setdefault(error.field, []).append(error.message)
    for position, errors in islice(by_position.items(), limit):
        result.append_invalid_row(number=position, row={"position": position}, validation_error=ValidationError(errors))
    listed = outcome.outcomes
    if len(listed) > limit:
        listed = islice((o for o in listed if o.kind in (NEW, UPDATED)), limit)
    for item in listed:
        result.append_row_result(_preview_row(item))
    result.totals[RowResult.IMPORT_TYPE_NEW] = outcome.count(NEW)
    result.totals[RowResult.IMPORT_TYPE_UPDATE] = outcome.count(UPDATED)
    # The shop's unpaid orders are the skipped ones; an order already here as it is counts as unchanged.
    result.totals[RowResult.IMPORT_TYPE_SKIP] = outcome.count(SKIPPED)
    result.unchanged = outcome.count(UNCHANGED)
    result.warnings = [f"{page_position(w.position)}, {w.field}: {w.message}" for w in outcome.warnings]
    result.totals[RowResult.IMPORT_TYPE_INVALID] = len(by_position)
    result.total_rows = len(outcome.outcomes) + len(by_position)
    result.summary = outcome.page_summary
    result.rows_left_out = len(outcome.outcomes) - len(result.rows) if not by_position else 0
    result.errors_left_out = max(0, len(by_position) - limit)
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
    formats = FORMATS
    skip_admin_log = True
    import_template_name = "admin/orders/order/import.html"

    def get_urls(self):
        urls = super().get_urls()
        for pattern in urls:
            if getattr(pattern, "name", "") == f"{self.opts.app_label}_{self.opts.model_name}_import":
                upload_limit("ORDER_IMPORT_MAX_BYTES")(pattern.callback)
        return urls

    def write_to_tmp_storage(self, import_file, input_format):
        # import-export adds the chunks up one by one (bytes += chunk): quadratic at 100 MB.
        tmp_storage = self.get_tmp_storage_class()(
            encoding=None if input_format.is_binary() else self.from_encoding,
            read_mode=input_format.get_read_mode(), **self.get_tmp_storage_class_kwargs(),
        )
        data = b"".join(import_file.chunks())
        tmp_storage.save(data)
        import_file.stored_sha256 = file_hash(data)
        return tmp_storage

    def get_import_formats(self):
        return list(FORMATS)

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm("orders.add_order") and request.user.has_perm("orders.change_order")

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        storefront = getattr(form, "cleaned_data", {}).get("storefront") if form is not None else None
        return {"storefront": storefront}

    def create_confirm_form(self, request, import_form=None):
        """After a clean preview: record it and offer its token. On the confirm: the posted token."""
        if import_form is None:
            return OrderConfirmImportForm(request.POST or None)
        cleaned = import_form.cleaned_data
        upload = cleaned["import_file"]
        token = start_preview(user=request.user, storefront=cleaned["storefront"], file_name=upload.tmp_storage_name,
                              file_sha256=upload.stored_sha256, fmt=FORMATS[int(cleaned["format"])].code)
        return OrderConfirmImportForm(initial={"token": token})

    def _stored(self, name: str):
        return self.get_tmp_storage_class()(name=name, encoding=None, read_mode="rb",
                                            **self.get_tmp_storage_class_kwargs())

    @method_decorator(require_POST)
    def process_import(self, request, **kwargs):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = OrderConfirmImportForm(request.POST)
        token = form.cleaned_data["token"] if form.is_valid() else ""
        try:
            preview, outcome = confirm_preview(token=token, user=request.user,
                                               read=lambda name: self._stored(name).read())
        except PreviewRefused as refusal:
            messages.error(request, str(refusal))
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:orders_order_import"))
        try:
            self._stored(preview.file_name).remove()
        except OSError:
            pass  # already gone: the import is done either way
        return self.process_result(to_result(outcome), request)

    def process_result(self, result, request):
        url = reverse(f"{self.admin_site.name}:orders_order_changelist")
        if result.has_validation_errors():
            # The file or the orders changed since the preview: nothing was written.
            messages.error(request, f"Nothing imported: {result.summary}. Upload the file again to see why.")
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:orders_order_import"))
        messages.success(request, f"Imported: {result.summary}.")
        return HttpResponseRedirect(url)
