"""Admin for policy versions and clause texts, and the manager's policy simulator page."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse

from core.admin_site import Tool
from policies import views
from policies.exclusion_field import ExclusionsForm
from policies.models import Clause, PolicyVersion

FIELDSETS = [
    ("Version (S1-VERSIONING)", {
        "fields": ["storefront", "version", "effective_from", "code", "text"],
        "description": "A case is judged by the version in force at purchase time. To change a policy, "
                       "start a draft from this version (an action of the list), backtest it and publish "
                       "it: it becomes a new version starting from now on, after every existing version.",
    }),
    ("Refund window (S0-WINDOW, S0-PARTIAL)", {"fields": ["full_refund_window_hours", "prorate_after_window"]}),
    ("Technical issues (S0-FIX-FIRST, S0-FIX-48H)", {"fields": ["fix_first", "fix_window_hours"]}),
    ("Server outages (S0-OUTAGE, S0-NO-INTERMITTENT)", {"fields": ["outage_guarantee_hours", "short_outage_clause"]}),
    ("Delivery (S1-USED-ON-DELIVERY, S1-DISCRETION)", {"fields": ["used_on_delivery", "discretion_after_delivery"]}),
    ("Exclusions (S0-NO-*, S1-NOT-ELIGIBLE)", {
        "fields": ["exclusions"],
        "description": "Tick the reasons this version never refunds. The policy text lists only these.",
    }),
    ("Evidence (S0-EVIDENCE, S1-VERIFY)", {"fields": ["evidence_clause"]}),
    ("Arrival of paid refunds, business days (S0-ARRIVAL, S1-ARRIVAL)", {
        "fields": [("arrival_card_min", "arrival_card_max", "arrival_card_worst"),
                   ("arrival_other_min", "arrival_other_max", "arrival_other_worst")],
    }),
    ("Chargebacks and consumer law (S1-CHARGEBACK, S1-STATUTORY)", {
        "fields": ["chargeback_sanction", "statutory_override"],
    }),
]


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ["storefront", "version", "code", "effective_from", "full_refund_window_hours", "fix_first",
                    "used_on_delivery", "statutory_override"]
    list_filter = ["storefront"]
    list_select_related = ["storefront"]
    search_fields = ["version", "storefront__name", "storefront__slug"]
    form = ExclusionsForm
    fieldsets = FIELDSETS
    actions = ["start_draft"]

    @admin.action(description="Start a draft from the selected version", permissions=["add_draft"])
    def start_draft(self, request, queryset):
        version = queryset.order_by("-effective_from").first()
        return HttpResponseRedirect(f"{reverse('admin:policies_policydraft_add')}?based_on={version.pk}")

    def has_add_draft_permission(self, request) -> bool:
        return request.user.has_perm("policies.add_policydraft")

    def has_add_permission(self, request) -> bool:
        return False  # a version comes only from publishing a draft, after its backtest (decision 0030)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # decisions recorded on cases name the version they used

    def get_urls(self):
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path("simulate/", self.admin_site.admin_view(self.simulate_view), name="%s_%s_simulate" % info),
        ] + super().get_urls()

    def simulate_view(self, request):
        return views.simulator(request, admin_site=self.admin_site, opts=self.opts)


@admin.register(Clause)
class ClauseAdmin(admin.ModelAdmin):
    list_display = ["clause_id", "storefront", "summary"]
    list_filter = ["storefront"]
    list_select_related = ["storefront"]
    search_fields = ["clause_id", "summary", "action"]

    def get_readonly_fields(self, request, obj=None):
        return ["clause_id"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # decisions and events cite clause IDs


def _simulator_tool(request: HttpRequest, site: admin.AdminSite) -> list[Tool]:
    if not request.user.has_perm("policies.simulate_policy"):
        return []
    return [Tool("Policy simulator", reverse(f"{site.name}:policies_policyversion_simulate"))]


admin.site.register_tools(_simulator_tool, position=20)
