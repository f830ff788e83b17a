from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html

from cases.admin.case_admin import RefundCaseAdmin
from cases.admin.orders import ChargebackAdmin
from cases.models import RefundCase
from core.admin_site import ReadOnlyAdmin
from core.job_admin import JobAdminMixin
from orders.models import Chargeback
from policies.drafts import PolicyDraft
from reports.admin_export import CaseExportAdminMixin
from reports.admin_packet import EvidencePacketAdminMixin
from reports.draft_admin import BACKTEST_PERMISSION, BacktestedDraftAdmin
from reports.models import Backtest, ExportJob, ExportRecord
from reports.services import EXPORT_PERMISSION

admin.site.register(PolicyDraft, BacktestedDraftAdmin)


class RefundCaseWithExportAdmin(CaseExportAdminMixin, RefundCaseAdmin):
    """The case list with its export page and export jobs; cases sit below reports and know neither."""


admin.site.unregister(RefundCase)
admin.site.register(RefundCase, RefundCaseWithExportAdmin)


class ChargebackWithPacketAdmin(EvidencePacketAdminMixin, ChargebackAdmin):
    """The chargeback (dispute) page with its evidence packet, which cases below know nothing of."""


admin.site.unregister(Chargeback)
admin.site.register(Chargeback, ChargebackWithPacketAdmin)


@admin.register(ExportRecord)
class ExportRecordAdmin(ReadOnlyAdmin):
    """Who exported which cases: read only, as the records are append-only."""

    list_display = ["created_at", "actor_label", "via", "format", "row_count", "filters"]
    list_filter = ["via", "format"]
    search_fields = ["actor_label"]
    date_hierarchy = "created_at"


@admin.register(ExportJob)
class ExportJobAdmin(JobAdminMixin, admin.ModelAdmin):
    """Background exports: each user sees and controls their own (they may hold cases filtered for them)."""

    list_select_related = ["requested_by", "record"]
    fields = ["download", "status", "format", "total", "processed", "record", "query", "error", "requested_by",
              "attempts", "created_at", "started_at", "finished_at"]
    readonly_fields = ["download"]

    def get_queryset(self, request):
        jobs = super().get_queryset(request).select_related("record", "requested_by")
        return jobs if request.user.is_superuser else jobs.filter(requested_by=request.user)

    def history_view(self, request, object_id, extra_context=None):
        # Asked first: Django looks the row up before the permission, so another's job would redirect instead.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return super().history_view(request, object_id, extra_context)

    def has_control_permission(self, request, job=None) -> bool:
        user = request.user
        mine = job is None or job.requested_by_id == user.pk or user.is_superuser
        return user.has_perm(EXPORT_PERMISSION) and mine

    @admin.display(description="Export page")
    def download(self, job: ExportJob) -> str:
        url = reverse(f"{self.admin_site.name}:cases_refundcase_export_job", args=[job.pk])
        return format_html('<a href="{}">{}</a>', url, "Download the file" if job.file else "Open")


@admin.register(Backtest)
class BacktestAdmin(JobAdminMixin, admin.ModelAdmin):
    """Backtests of policy drafts; each opens its run's page, with the summary, from here."""

    control_permission = BACKTEST_PERMISSION
    list_select_related = ["requested_by", "draft__storefront"]
    list_filter = ["status", "draft__storefront"]
    fields = ["run_page", "draft", "status", "period_start", "period_end", "total", "processed", "changed",
              "error", "requested_by", "attempts", "created_at", "started_at", "finished_at", "parameters"]
    readonly_fields = ["run_page"]

    @admin.display(description="Run page")
    def run_page(self, run: Backtest) -> str:
        url = reverse(f"{self.admin_site.name}:policies_policydraft_backtest_run", args=[run.draft_id, run.pk])
        return format_html('<a href="{}">The summary and the draft</a>', url)
