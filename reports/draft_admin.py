"""Policy drafts in the admin: edited as ``policies`` says, backtested over closed cases, published after.

The backtest is a background job (``reports.backtest``); publishing shows the latest finished run of
the draft as it is and asks for it. The pages keep the drafts' addresses (``policies_policydraft_*``).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from core.job_admin import job_controls
from policies.draft_admin import PolicyDraftAdmin
from policies.drafts import PolicyDraft
from policies.publishing import can_publish
from policies.words import outcome_words
from reports.backtest import current_backtest, publish_backtested, start_backtest
from reports.models import Backtest

BACKTEST_PERMISSION = "policies.backtest_policy"
DEFAULT_DAYS = 90
MAX_DAYS = 3660


class PeriodForm(forms.Form):
    start = forms.DateField(label="Closed from", help_text="First day (YYYY-MM-DD).")
    end = forms.DateField(label="Closed until", help_text="Last day, included.")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise ValidationError("The period ends before it starts.")
            if (end - start).days > MAX_DAYS:
                raise ValidationError(f"Choose a period of at most {MAX_DAYS} days.")
        return data

    def moments(self) -> tuple[datetime, datetime]:
        start = timezone.make_aware(datetime.combine(self.cleaned_data["start"], time.min))
        end = timezone.make_aware(datetime.combine(self.cleaned_data["end"] + timedelta(days=1), time.min))
        return start, end


class PublishForm(forms.Form):
    backtest = forms.IntegerField(widget=forms.HiddenInput)
    effective_from = forms.DateTimeField(
        label="In force from", help_text="Purchases from this moment on are judged by the new version "
                                          "(YYYY-MM-DD HH:MM, from now on, after every existing version).")
    confirm = forms.BooleanField(label="I have read the backtest above and publish this version")


class BacktestedDraftAdmin(PolicyDraftAdmin):
    list_display = [*PolicyDraftAdmin.list_display, "tools"]

    @admin.display(description="")
    def tools(self, draft: PolicyDraft) -> str:
        if draft.published_as_id:
            return ""
        return format_html('<a href="{}">Backtest</a> · <a href="{}">Publish</a>',
                           self._url("backtest", draft.pk), self._url("publish", draft.pk))

    def _url(self, name: str, *args) -> str:
        return reverse(f"{self.admin_site.name}:policies_policydraft_{name}", args=args)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:draft_id>/backtest/", wrap(self.backtest_view), name="policies_policydraft_backtest"),
            path("<int:draft_id>/backtest/<int:run_id>/", wrap(self.backtest_run_view),
                 name="policies_policydraft_backtest_run"),
            path("<int:draft_id>/publish/", wrap(self.publish_view), name="policies_policydraft_publish"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        if str(object_id).isdigit():
            extra["draft_links"] = [("Backtest", self._url("backtest", int(object_id))),
                                    ("Publish", self._url("publish", int(object_id)))]
        return super().change_view(request, object_id, form_url, extra_context=extra)

    # --- backtest ----------------------------------------------------------------------

    def _draft(self, request, draft_id: int) -> PolicyDraft:
        if not request.user.has_perm(BACKTEST_PERMISSION):
            raise PermissionDenied
        return get_object_or_404(PolicyDraft.objects.select_related("storefront", "published_as"), pk=draft_id)

    def _context(self, request, draft: PolicyDraft, **extra) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.opts, "draft": draft,
                "backtest_url": self._url("backtest", draft.pk), "publish_url": self._url("publish", draft.pk),
                "change_url": self._url("change", draft.pk), **extra}

    def backtest_view(self, request, draft_id: int):
        draft = self._draft(request, draft_id)
        today = timezone.localdate()
        form = PeriodForm(request.POST or None,
                          initial={"start": today - timedelta(days=DEFAULT_DAYS), "end": today})
        if request.method == "POST":
            if draft.published_as_id is not None:
                messages.error(request, "This draft was published; backtest a new draft instead.")
                return HttpResponseRedirect(self._url("backtest", draft.pk))
            if form.is_valid():
                start, end = form.moments()
                run = start_backtest(draft=draft, start=start, end=end, actor=request.user)
                run.send_to_worker()
                return HttpResponseRedirect(self._url("backtest_run", draft.pk, run.pk))
        runs = list(draft.backtests.all()[:10])
        return TemplateResponse(request, "admin/policies/policydraft/backtest.html", self._context(
            request, draft, form=form, runs=runs, title=f"Backtest {draft}", current=current_backtest(draft)))

    def backtest_run_view(self, request, draft_id: int, run_id: int):
        draft = self._draft(request, draft_id)
        run = draft.backtests.select_related("requested_by").filter(pk=run_id).first()
        if run is None:
            raise Http404
        return TemplateResponse(request, "admin/policies/policydraft/backtest_run.html", self._context(
            request, draft, run=run, summary=summary_view(run), title=f"Backtest of {draft}", refresh=run.is_active,
            job_controls=job_controls(request, run, admin_site=self.admin_site, next_url=request.get_full_path())))

    # --- publish -----------------------------------------------------------------------

    def publish_view(self, request, draft_id: int):
        draft = self._draft(request, draft_id)
        if not can_publish(request.user):
            raise PermissionDenied
        if draft.published_as_id is not None:
            messages.info(request, f"This draft was published as version {draft.published_as.version}.")
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:policies_policyversion_change",
                                                args=[draft.published_as_id]))
        run = current_backtest(draft)
        form = PublishForm(request.POST or None, initial={"backtest": run.pk if run else None})
        if request.method == "POST" and run is not None and form.is_valid():
            try:
                version = publish_backtested(draft_id=draft.pk, backtest_id=form.cleaned_data["backtest"],
                                             effective_from=form.cleaned_data["effective_from"], actor=request.user)
            except ValidationError as error:
                for field, errors in error_items(error):
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"Published version {version.version} of {draft.storefront.name}, "
                                          f"in force from {date_format(timezone.localtime(version.effective_from), 'DATETIME_FORMAT')}.")
                return HttpResponseRedirect(reverse(f"{self.admin_site.name}:policies_policyversion_change",
                                                    args=[version.pk]))
        return TemplateResponse(request, "admin/policies/policydraft/publish.html", self._context(
            request, draft, form=form, run=run, summary=summary_view(run) if run else None,
            title=f"Publish {draft}"))


def error_items(error: ValidationError):
    if hasattr(error, "error_dict"):
        return [(field, errors) for field, errors in error.message_dict.items()]
    return [(None, error.messages)]


def summary_view(run: Backtest) -> dict | None:
    """The stored summary with words for the outcomes and links to the sampled cases."""
    if run.status != Backtest.Status.DONE:
        return None
    summary = run.summary
    return {
        **summary,
        "transitions": [{**row, "from_words": outcome_words(row["from"]), "to_words": outcome_words(row["to"])}
                        for row in summary["transitions"]],
        "sample": [{**row, "before_words": outcome_words(row["before"]), "after_words": outcome_words(row["after"]),
                    "url": reverse("admin:cases_refundcase_change", args=[row["case_id"]])}
                   for row in summary["sample"]],
        "unchanged": summary["total"] - summary["changed"],
    }
