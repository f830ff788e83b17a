"""The case list's export: a page reached from the list, keeping its filters and search.

CSV and JSON of up to ``STREAM_LIMIT`` cases stream in the response; an XLSX, or anything bigger,
becomes an ``ExportJob`` whose page shows progress and then the file.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.test import RequestFactory
from django.urls import path, reverse
from django.utils import timezone

from cases.models import RefundCase
from core.job_admin import job_controls
from reports import services
from reports.models import FORMATS, ExportJob, ExportRecord
from reports.names import export_name

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def list_filters(query: str) -> dict:
    """The case list's query string as a record of the filter: {param: value or [values]}."""
    params = QueryDict(query)
    return {key: values[0] if len(values) == 1 else values for key, values in params.lists()}


def changelist_queryset(model_admin, request):
    """Exactly the cases the list shows for this request: its filters, its search, all pages."""
    changelist = model_admin.get_changelist_instance(request)
    return changelist.get_queryset(request)


def job_queryset(job: ExportJob):
    """The job's cases, rebuilt from its query string as its user's list would show them now."""
    request = RequestFactory().get("/", QueryDict(job.query))
    request.user = job.requested_by
    services.check_export_permission(job.requested_by)
    return changelist_queryset(admin.site._registry[RefundCase], request)


class CaseExportAdminMixin:
    """Adds the export page and the export jobs to the case admin."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="%s_%s_export" % info),
            path("export/<int:job_id>/", self.admin_site.admin_view(self.export_job_view),
                 name="%s_%s_export_job" % info),
            path("export/<int:job_id>/file/", self.admin_site.admin_view(self.export_file_view),
                 name="%s_%s_export_file" % info),
            *super().get_urls(),
        ]

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm(services.EXPORT_PERMISSION)

    def changelist_view(self, request, extra_context=None):
        extra = {"has_export_permission": self.has_export_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def export_view(self, request):
        if not self.has_export_permission(request):
            raise PermissionDenied
        query = request.GET.urlencode()
        queryset = changelist_queryset(self, request)
        if request.method != "POST":
            return TemplateResponse(request, "admin/cases/refundcase/export.html", {
                **self.admin_site.each_context(request), "opts": self.opts, "title": "Export cases",
                "count": queryset.count(), "formats": FORMATS, "query": query,
                "filters": list_filters(query), "stream_limit": services.STREAM_LIMIT,
                "jobs": ExportJob.objects.filter(requested_by=request.user).select_related("record", "requested_by")[:5],
                "described": export_name(list_filters(query), username=request.user.get_username()),
            })
        fmt = request.POST.get("format", "")
        if fmt not in dict(FORMATS):
            raise Http404("Unknown export format.")
        count = queryset.count()
        filters = list_filters(query)
        if services.needs_job(fmt=fmt, row_count=count):
            job = services.export_job_start(user=request.user, fmt=fmt, query=query, filters=filters,
                                            row_count=count)
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:cases_refundcase_export_job", args=[job.pk]))
        services.check_export_permission(request.user)
        services.export_record(user=request.user, actor_label=request.user.get_username(),
                               via=ExportRecord.Via.ADMIN, fmt=fmt, filters=filters, row_count=count)
        now = timezone.now()
        response = StreamingHttpResponse(
            (chunk.encode("utf-8") for chunk in services.stream(queryset, fmt=fmt, now=now)),
            content_type=CONTENT_TYPES[fmt],
        )
        response["Content-Disposition"] = f'attachment; filename="cases-{now:%Y%m%d-%H%M%S}.{fmt}"'
        return response

    def _own_job(self, request, job_id: int) -> ExportJob:
        if not self.has_export_permission(request):
            raise PermissionDenied
        job = ExportJob.objects.filter(pk=job_id).first()
        # Another manager's export is theirs: it may hold cases filtered for them.
        if job is None or (job.requested_by_id != request.user.pk and not request.user.is_superuser):
            raise Http404("No such export.")
        return job

    def export_job_view(self, request, job_id: int):
        job = self._own_job(request, job_id)
        return TemplateResponse(request, "admin/cases/refundcase/export_job.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "title": job.name,
            "job": job, "filters": job.record.filters, "running": job.is_active,
            "job_controls": job_controls(request, job, admin_site=self.admin_site, next_url=request.get_full_path()),
        })

    def export_file_view(self, request, job_id: int):
        job = self._own_job(request, job_id)
        if job.status != ExportJob.Status.DONE or not job.file:
            raise Http404("This export is not ready.")
        return FileResponse(job.file.open("rb"), as_attachment=True, filename=job.filename)
