"""The refund case admin: the support agents' queue and case page."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import HttpResponseRedirect
from django.urls import reverse

from cases import services
from cases.admin.case_list import (
    AssigneeFilter,
    CaseChangeList,
    CaseListColumns,
    NeedsManagerFilter,
    OverdueFilter,
    StateFilter,
    WaitingFilter,
)
from cases.admin.case_page import case_page_context
from cases.admin.case_views import CaseViewsMixin
from cases.admin.links import PortalLinksMixin
from cases.forms import CaseCreateForm
from cases.list_queries import CaseListPaginator, search_cases
from cases.models import RefundCase
from cases.selectors import case_list_queryset, case_page_queryset
from core.service_add import service_add_view
from orders.pickers import order_initial

ADD_FIELDSETS = [
    ("Request", {"fields": ["order", "reason", "description", "channel", "requested_at", "outage_hours"]}),
    ("Who works it", {"fields": ["assignee"]}),
]
DETAIL_FIELDSETS = [
    (None, {"fields": ["number", "state", "order", "reason", "channel", "requested_at", "outage_hours",
                       "description"]}),
    ("Fix attempt and evidence", {
        "classes": ["collapse"],
        "fields": ["fix_started_at", "fix_outcome", "fix_deadline", "evidence_requested_at", "evidence_due_at",
                   "evidence_reminded_at", "next_deadline", "flagged", "flag_reason"],
    }),
    ("Decision and approval", {
        "classes": ["collapse"],
        "fields": ["decided_at", "resolution", "deny_reason", "approved_amount", "approved_by", "approved_at",
                   "approval_note", "statutory_override", "statutory_basis", "created_at", "updated_at"],
    }),
]


@admin.register(RefundCase)
class RefundCaseAdmin(PortalLinksMixin, CaseViewsMixin, CaseListColumns, admin.ModelAdmin):
    list_display = [
        "case_number", "state_badge", "age", "deadline", "storefront_name", "reason", "order_number", "amount",
        "assignee_name",
    ]
    list_display_links = ["case_number"]
    list_filter = [
        StateFilter, NeedsManagerFilter, WaitingFilter, "storefront", "reason", OverdueFilter, AssigneeFilter,
        "statutory_override",
    ]
    # Shows the search box; the lookups themselves are cases.list_queries.search_cases.
    search_fields = ["=number", "=order__number", "order__customer__email"]
    search_help_text = (
        "Case number, order number, customer e-mail or e-mail domain (proton.me); or part of a case number, "
        "e-mail or name."
    )
    list_per_page = 50
    show_full_result_count = False
    paginator = CaseListPaginator
    # The queue: the nearest deadline first (cases waiting on nothing after them), then the newest request.
    ordering = [F("next_deadline").asc(nulls_last=True), "-requested_at"]
    fieldsets = DETAIL_FIELDSETS
    change_form_template = "admin/cases/refundcase/change_form.html"
    add_form_template = "admin/change_form.html"

    class Media:
        css = {"all": ["cases/admin.css"]}

    def get_queryset(self, request):
        return case_list_queryset()

    def get_readonly_fields(self, request, obj=None):
        # Nothing on a case is edited as a field: every change is an action that writes an event.
        return [f for fieldset in DETAIL_FIELDSETS for f in fieldset[1]["fields"]]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_changelist(self, request, **kwargs):
        return CaseChangeList

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        results, search = search_cases(queryset, search_term)
        request.case_search_note = search.note
        return results, False

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, extra_context={"title": "Refund cases", **(extra_context or {})})

    # --- add: through services.case_create -----------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        form = CaseCreateForm(
            request.POST if request.method == "POST" else None, initial=order_initial(request),
            admin_site=self.admin_site,
        )
        return service_add_view(
            self, request, form=form, fieldsets=ADD_FIELDSETS, form_url=form_url, extra_context=extra_context,
            create=lambda f: services.case_create(actor=request.user, **f.service_kwargs()),
            success_message=lambda case: f"Case {case.number} opened on order {case.order}; the customer was told.",
        )

    # --- change: the case page ---------------------------------------------------------

    def history_view(self, request, object_id, extra_context=None):
        # The case keeps its own append-only history (CaseEvent); Django's LogEntry page would show
        # nothing, since no case is ever edited as a form.
        self._check_view(request, object_id)
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:cases_refundcase_change", args=[object_id]) + "#timeline"
        )

    def get_object(self, request, object_id, from_field=None):
        # The change view asks twice (once for permissions, once to render); load the case once per request.
        cache = request.__dict__.setdefault("_case_cache", {})
        object_id = str(object_id)
        if object_id not in cache:
            try:
                cache[object_id] = case_page_queryset().get(pk=int(object_id))
            except (ValueError, RefundCase.DoesNotExist):
                cache[object_id] = None
        return cache[object_id]

    def _check_view(self, request, object_id) -> None:
        """Refuse as Django's own pages do before this admin answers in its own way."""
        case = self.get_object(request, object_id)
        if case is not None and not self.has_view_or_change_permission(request, case):
            raise PermissionDenied

    def change_view(self, request, object_id, form_url="", extra_context=None):
        self._check_view(request, object_id)
        if request.method == "POST":
            # The page has no editable fields; a stray POST must not save (and bump) the case.
            messages.info(request, "Nothing to save here: use the actions on the case page.")
            return HttpResponseRedirect(request.path)
        case = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if case is not None and self.has_view_permission(request, case):
            if case.customer_wrote_at is not None and case.assignee_id == request.user.pk:
                # This view still shows the mark; from now on the message is read.
                services.case_message_read(case=case.pk, actor=request.user)
            context.update(
                case_page_context(
                    request=request, case=case, site_name=self.admin_site.name,
                    retry=self.pop_retry(request, case.pk),
                )
            )
            context["title"] = f"Case {case.number}"
            context["subtitle"] = None
        return super().change_view(request, object_id, form_url, extra_context=context)
