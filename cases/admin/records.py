"""Read-only admin for what cases leave behind: events, payouts, evidence, and intake messages kept aside."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from cases.models import CaseEvent, Evidence, Payout
from core.admin_site import ReadOnlyAdmin


def case_link(admin_site_name: str, case) -> str:
    url = reverse(f"{admin_site_name}:cases_refundcase_change", args=[case.pk])
    return format_html('<a href="{}">{}</a>', url, case.number)


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "case_link", "kind", "transition_label", "actor_label", "visibility", "comment_short"]
    list_filter = ["kind", "visibility", "transition"]
    search_fields = ["=case__number", "actor_label", "comment"]
    list_select_related = ["case"]
    date_hierarchy = "created_at"
    list_per_page = 100

    @admin.display(description="Case", ordering="case__number")
    def case_link(self, event: CaseEvent) -> str:
        return case_link(self.admin_site.name, event.case)

    @admin.display(description="Transition")
    def transition_label(self, event: CaseEvent) -> str:
        if not event.transition:
            return "—"
        return f"{event.transition}: {event.from_state} → {event.to_state}"

    @admin.display(description="Comment")
    def comment_short(self, event: CaseEvent) -> str:
        return event.comment if len(event.comment) <= 80 else event.comment[:79] + "…"


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ["paid_at", "case_link", "order", "amount", "currency", "method", "reference", "paid_by",
                    "expected_by"]
    list_filter = ["method", "currency", "order__storefront"]
    search_fields = ["=case__number", "=order__number", "reference"]
    list_select_related = ["case", "order", "paid_by"]
    date_hierarchy = "paid_at"

    @admin.display(description="Case", ordering="case__number")
    def case_link(self, payout: Payout) -> str:
        return case_link(self.admin_site.name, payout.case)


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdmin):
    """Evidence is added from the case page, where the upload is checked; here it is only listed."""

    list_display = ["created_at", "case_link", "kind", "from_customer", "content_type", "size", "open_link"]
    list_filter = ["kind", "from_customer"]
    search_fields = ["=case__number", "sha256"]
    list_select_related = ["case"]
    exclude = ["file"]

    @admin.display(description="Case", ordering="case__number")
    def case_link(self, evidence: Evidence) -> str:
        return case_link(self.admin_site.name, evidence.case)

    @admin.display(description="File")
    def open_link(self, evidence: Evidence) -> str:
        if not evidence.file:
            return "—"
        url = reverse(f"{self.admin_site.name}:cases_refundcase_evidence_file", args=[evidence.case_id, evidence.pk])
        return format_html('<a href="{}">open</a>', url)
