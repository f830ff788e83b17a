"""The admin of a kind of background job (``core.jobs.Job``): one list, one page, Cancel and Retry.

The list shows every kind of job the same way: status, progress, when it was asked, started and
finished, who asked and how many times it ran. A job's page shows its row, read only, with the two
buttons; both post (with the CSRF token) to their own URL, which answers only POST and only to a
user allowed to control the job (``has_control_permission``). A feature's own page about a job (an
export's download page) shows the same buttons through ``job_controls``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from django.views.decorators.http import require_POST

from core.jobs import Job

JOB_COLUMNS = ("__str__", "status", "progress", "requested_by", "created_at", "started_at", "finished_at",
               "attempts")


class JobAdminMixin:
    """For a ``ModelAdmin`` of a ``Job`` model: put it first among the bases."""

    list_display = JOB_COLUMNS
    list_filter = ("status",)
    list_select_related = ("requested_by",)
    change_form_template = "admin/core/job/change_form.html"
    # Who may cancel and retry: this permission; empty: the model's change permission.
    control_permission = ""

    # A job is written by whoever asks and by its worker: shown here, never added or edited. Deleting
    # stays the model's delete permission's: a job goes with what it belongs to (a backtest with its draft).
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_control_permission(self, request, job: Job | None = None) -> bool:
        opts = self.opts
        permission = self.control_permission or f"{opts.app_label}.{get_permission_codename('change', opts)}"
        return request.user.has_perm(permission)

    @admin.display(description="Progress")
    def progress(self, job: Job) -> str:
        if job.total == 0 and job.processed == 0:
            return "–"
        return f"{job.processed:,} of {job.total:,} ({job.percent} %)"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/cancel/", wrap(require_POST(self.cancel_view)), name="%s_%s_cancel" % info),
            path("<path:object_id>/retry/", wrap(require_POST(self.retry_view)), name="%s_%s_retry" % info),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, unquote(object_id))
        extra = {"job_controls": job_controls(request, job, admin_site=self.admin_site) if job else None}
        return super().change_view(request, object_id, form_url, extra_context={**extra, **(extra_context or {})})

    def cancel_view(self, request, object_id: str):
        job = self._controlled(request, object_id)
        if job.cancel():
            self.log_change(request, job, "Cancelled.")
            messages.success(request, f"{job_label(job)} is cancelled." if job.started_at is None else
                             f"{job_label(job)} is cancelled: it stops at its next progress point.")
        else:
            messages.warning(request, f"{job_label(job)} is {job.get_status_display().lower()}: "
                                      "there is nothing to cancel.")
        return HttpResponseRedirect(self._back(request, job))

    def retry_view(self, request, object_id: str):
        job = self._controlled(request, object_id)
        if job.retry():
            self.log_change(request, job, "Queued again.")
            messages.success(request, f"{job_label(job)} is queued again.")
        else:
            messages.warning(request, f"{job_label(job)} is {job.get_status_display().lower()}: only a failed or "
                                      "cancelled job runs again.")
        return HttpResponseRedirect(self._back(request, job))

    def _controlled(self, request, object_id: str) -> Job:
        job = self.get_object(request, unquote(object_id))
        if job is None:
            raise Http404
        if not self.has_control_permission(request, job):
            raise PermissionDenied
        return job

    def _back(self, request, job: Job) -> str:
        """The page the button was on (a feature's own page about the job), else the job's admin page."""
        wanted = request.POST.get("next", "")
        if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()},
                                                      require_https=request.is_secure()):
            return wanted
        info = self.opts.app_label, self.opts.model_name
        return reverse("%s:%s_%s_change" % (self.admin_site.name, *info), args=[job.pk])


def job_label(job: Job) -> str:
    return f"{capfirst(job._meta.verbose_name)} #{job.pk}"


def job_controls(request, job: Job, *, admin_site: admin.AdminSite, next_url: str = "") -> dict | None:
    """What ``admin/core/job/_controls.html`` needs to show the buttons this user may press on ``job``."""
    model_admin = admin_site._registry.get(type(job))
    if not isinstance(model_admin, JobAdminMixin) or not model_admin.has_control_permission(request, job):
        return None
    info = admin_site.name, job._meta.app_label, job._meta.model_name
    controls = {"noun": job._meta.verbose_name, "next": next_url}
    if job.can_cancel:
        controls["cancel_url"] = reverse("%s:%s_%s_cancel" % info, args=[job.pk])
    if job.can_retry:
        controls["retry_url"] = reverse("%s:%s_%s_retry" % info, args=[job.pk])
    return controls if len(controls) > 2 else None
