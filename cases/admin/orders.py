"""The order page's cases and payouts, and the chargebacks' admin with its disputes queue.

Orders sit below cases, so their admin knows nothing of cases: this module registers the order
admin again with the case and payout lists added, and the chargeback admin, whose actions write on
the order's open case. The chargeback list's "Open disputes" view (``?dispute=open``) is the
managers' disputes queue: nearest evidence deadline first, overdue ones marked (docs/disputes.md).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from cases.models import Payout, RefundCase
from cases.services.chargebacks import chargeback_lift_sanction, chargeback_record
from core.admin_site import Tool
from core.errors import CaseActionError
from core.service_add import service_add_view
from orders.admin import ChargebackInline, OrderAdmin, ReadOnlyInline, SubscriptionInline
from orders.disputes import DisputeStatus
from orders.models import Chargeback, Order
from orders.pickers import order_initial, use_order_picker


class CaseInline(ReadOnlyInline):
    model = RefundCase
    fields = ["number", "state", "reason", "requested_at", "approved_amount", "assignee"]
    readonly_fields = fields
    verbose_name_plural = "Refund cases"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("assignee")


class PayoutInline(ReadOnlyInline):
    model = Payout
    fields = ["case", "amount", "currency", "method_words", "reference", "paid_by", "paid_at", "expected_by"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("case", "paid_by")

    @admin.display(description="method")
    def method_words(self, payout: Payout) -> str:
        return payout.method_words


class OrderWithCasesAdmin(OrderAdmin):
    inlines = [SubscriptionInline, CaseInline, PayoutInline, ChargebackInline]


admin.site.unregister(Order)
admin.site.register(Order, OrderWithCasesAdmin)


# --- chargebacks ------------------------------------------------------------------------------


class ChargebackRecordForm(forms.Form):
    order = forms.ModelChoiceField(queryset=Order.objects.select_related("customer"))
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    opened_at = forms.SplitDateTimeField(widget=AdminSplitDateTime, help_text="When the customer opened the dispute.")
    processor_reference = forms.CharField(max_length=120, required=False)

    def __init__(self, *args, admin_site=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if admin_site is not None:
            use_order_picker(self.fields["order"], Chargeback._meta.get_field("order"), admin_site)


class LiftSanctionForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="Why the sanction is lifted; kept on the chargeback and the case history.",
    )


# The index's "Open disputes" turns red when evidence is due this soon, or overdue.
DUE_SOON = timedelta(days=3)
OPEN_DISPUTES = "open"


class DisputeFilter(admin.SimpleListFilter):
    title = "dispute"
    parameter_name = "dispute"

    def lookups(self, request, model_admin):
        return [
            (OPEN_DISPUTES, "Open disputes"),
            (DisputeStatus.WON, "Won"),
            (DisputeStatus.LOST, "Lost"),
            (DisputeStatus.CLOSED_OTHER, "Closed without a decision"),
            ("typed", "Typed in by staff"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "typed":
            return queryset.filter(dispute_id="")
        if value in DisputeStatus.values:
            return queryset.filter(status=value)
        return queryset


class ChargebackChangeList(ChangeList):
    def get_ordering_field_columns(self):
        # Django marks the column of the model's own ordering (opened, newest first); the queue is
        # sorted by the evidence deadline, so that column is marked instead.
        if ORDER_VAR not in self.params and self.params.get(DisputeFilter.parameter_name) == OPEN_DISPUTES:
            return {self.list_display.index(name): "asc" for name in ["due_column"] if name in self.list_display}
        return super().get_ordering_field_columns()


@admin.register(Chargeback)
class ChargebackAdmin(admin.ModelAdmin):
    list_display = ["opened_at", "order", "amount_column", "reason_column", "due_column", "status_column",
                    "processor_reference", "prior_contact", "sanction_state"]
    list_filter = [DisputeFilter, "sanction_applied", "prior_contact", "order__storefront"]
    search_fields = ["=order__number", "processor_reference", "=dispute_id", "order__customer__email"]
    search_help_text = "Order number, dispute ID or processor reference, or the customer's e-mail."
    list_select_related = ["order"]
    change_form_template = "admin/orders/chargeback/change_form.html"
    add_form_template = "admin/change_form.html"

    class Media:
        css = {"all": ["cases/admin.css"]}

    def get_changelist(self, request, **kwargs):
        return ChargebackChangeList

    def get_ordering(self, request):
        if request.GET.get(DisputeFilter.parameter_name) == OPEN_DISPUTES:
            # The queue: the evidence that must go out first on top; a dispute without a deadline last.
            return [F("evidence_due_by").asc(nulls_last=True), "opened_at"]
        return super().get_ordering(request)

    @admin.display(description="Amount", ordering="amount")
    def amount_column(self, chargeback: Chargeback) -> str:
        return f"{chargeback.amount:.2f} {chargeback.order.currency}"

    @admin.display(description="Bank's reason", ordering="reason")
    def reason_column(self, chargeback: Chargeback) -> str:
        return chargeback.reason_words if chargeback.dispute_id else "—"

    @admin.display(description="Evidence due", ordering="evidence_due_by")
    def due_column(self, chargeback: Chargeback) -> str:
        if chargeback.evidence_due_by is None:
            return "—"
        due = date_format(timezone.localtime(chargeback.evidence_due_by), "DATETIME_FORMAT")
        if chargeback.status == DisputeStatus.OPEN and chargeback.evidence_due_by < timezone.now():
            return format_html('{} <span class="rb-overdue">{}</span>', due, "Overdue")
        return due

    @admin.display(description="Dispute", ordering="status")
    def status_column(self, chargeback: Chargeback) -> str:
        if not chargeback.status:
            return "—"
        if chargeback.closed_at is None:
            return chargeback.get_status_display()
        return f"{chargeback.get_status_display()}, {date_format(timezone.localtime(chargeback.closed_at))}"

    @admin.display(description="Sanction")
    def sanction_state(self, chargeback: Chargeback) -> str:
        if not chargeback.sanction_applied:
            return "—"
        if chargeback.sanction_lifted_at:
            return format_html("lifted {}", date_format(timezone.localtime(chargeback.sanction_lifted_at)))
        return format_html('<span class="rb-flagged">{}</span>', "in force")

    fieldsets = [
        (None, {"fields": ["order", "amount", "opened_at", "processor_reference", "prior_contact", "recorded_by",
                           "created_at"]}),
        ("Dispute", {"fields": ["dispute_id", "reason_column", "evidence_due_by", "status", "closed_at"]}),
        ("Sanction (S1-CHARGEBACK)", {"fields": ["sanction_applied", "suspended_subscription", "restricted_customer",
                                                 "sanction_lifted_at", "sanction_lifted_by", "sanction_lift_note"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The reason in words: a code the bank added after this was written would show as the code.
        return [f.name for f in Chargeback._meta.fields if f.name not in ("id", "reason")] + ["reason_column"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # recorded by the service; the only later change is lifting the sanction

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path("<int:pk>/lift-sanction/", self.admin_site.admin_view(self.lift_sanction_view),
                 name="%s_%s_lift_sanction" % info),
        ] + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        form = ChargebackRecordForm(
            request.POST if request.method == "POST" else None, initial=order_initial(request),
            admin_site=self.admin_site,
        )
        return service_add_view(
            self, request, form=form, form_url=form_url, extra_context=extra_context,
            fieldsets=[(None, {"fields": ["order", "amount", "opened_at", "processor_reference"]})],
            create=lambda f: _record_chargeback(f, request.user),
            success_message=_recorded_message,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        chargeback = self.get_object(request, object_id)
        if chargeback is not None and _liftable(chargeback) and request.user.has_perm("orders.lift_sanction"):
            context["lift_url"] = reverse(f"{self.admin_site.name}:orders_chargeback_lift_sanction",
                                          args=[chargeback.pk])
        return super().change_view(request, object_id, form_url, extra_context=context)

    def lift_sanction_view(self, request, pk: int):
        chargeback = self.get_object(request, str(pk))
        if chargeback is None:
            raise Http404("No such chargeback.")
        if not request.user.has_perm("orders.lift_sanction"):
            raise PermissionDenied
        change_url = reverse(f"{self.admin_site.name}:orders_chargeback_change", args=[chargeback.pk])
        form = LiftSanctionForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                chargeback_lift_sanction(chargeback=chargeback, actor=request.user, note=form.cleaned_data["note"])
            except CaseActionError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, "Sanction lifted: the subscription and the customer are released.")
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Lift the sanction of the chargeback on order {chargeback.order}",
            "opts": self.opts,
            "original": chargeback,
            "chargeback": chargeback,
            "liftable": _liftable(chargeback),
            "form": form,
            "adminform": helpers.AdminForm(form, [(None, {"fields": ["note"]})], {}),
            "change_url": change_url,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/orders/chargeback/lift_sanction.html", context)


def _liftable(chargeback: Chargeback) -> bool:
    return chargeback.sanction_applied and chargeback.sanction_lifted_at is None


def _record_chargeback(form: ChargebackRecordForm, actor) -> Chargeback:
    data = form.cleaned_data
    return chargeback_record(
        order=data["order"], actor=actor, amount=data["amount"], opened_at=data["opened_at"],
        processor_reference=data["processor_reference"],
    )


def _recorded_message(chargeback: Chargeback) -> str:
    if chargeback.sanction_applied:
        return ("Chargeback recorded. The customer had not contacted support first (S1-CHARGEBACK): "
                "their subscription is suspended and they are restricted from ordering.")
    if chargeback.prior_contact:
        return "Chargeback recorded. The customer had contacted support first, so no sanction applies."
    return "Chargeback recorded. This storefront's policy has no chargeback sanction."


def dispute_tools(request: HttpRequest, site: admin.AdminSite) -> list[Tool]:
    """The disputes queue on the index, for whoever may read chargebacks: red when evidence is due soon."""
    if not request.user.has_perm("orders.view_chargeback"):
        return []
    counts = Chargeback.objects.filter(status=DisputeStatus.OPEN).aggregate(
        open=Count("id"), soon=Count("id", filter=Q(evidence_due_by__lt=timezone.now() + DUE_SOON)),
    )
    url = reverse(f"{site.name}:orders_chargeback_changelist") + f"?dispute={OPEN_DISPUTES}"
    return [Tool("Open disputes", url, counts["open"], alert=counts["soon"] > 0)]


# After the case queues (10), before the simulator (20).
admin.site.register_tools(dispute_tools, position=15)
