"""Admin for policy drafts: edit, backtest over closed cases (a background job), publish after the summary."""

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

from policies.drafts import Backtest, PolicyDraft
from policies.exclusion_field import ExclusionsForm
from policies.models import PolicyVersion
from policies.publishing import can_publish, current_backtest, publish_draft

BACKTEST_PERMISSION = "policies.backtest_policy"
DEFAULT_DAYS = 90
MAX_DAYS = 3660


def draft_fieldsets():
    from policies.admin import FIELDSETS

    head = ("Draft", {
        "fields": ["storefront", "version", "based_on", "code", "text"],
        "description": "A draft is never in force and judges no case. Backtest it over closed cases, then "
                       "publish it: it becomes a new version, starting when you choose, from now on.",
    })
    return [head, *FIELDSETS[1:]]


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


@admin.register(PolicyDraft)
class PolicyDraftAdmin(admin.ModelAdmin):
    list_display = ["storefront", "version", "based_on", "updated_at", "state", "tools"]
    list_filter = ["storefront"]
    list_select_related = ["storefront", "based_on", "published_as"]
    readonly_fields = ["published_as", "created_by"]
    form = ExclusionsForm

    def get_fieldsets(self, request, obj=None):
        return draft_fieldsets()

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.published_as_id is not None:
            return False  # published: the version names it as its origin
        return super().has_delete_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.published_as_id is not None:
            return False  # published: the version is the record now
        return super().has_change_permission(request, obj)

    def get_changeform_initial_data(self, request):
        """``?based_on=<version id>`` copies that version's parameters into the new draft."""
        initial = super().get_changeform_initial_data(request)
        raw = request.GET.get("based_on", "")
        version = PolicyVersion.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 18 else None
        if version is not None:
            draft = PolicyDraft.from_version(version)
            initial.update({name: getattr(draft, name) for name in draft.parameters()})
            initial.update(storefront=version.storefront_id, based_on=version.pk, version=f"{version.version} draft")
        return initial

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="State")
    def state(self, draft: PolicyDraft) -> str:
        return f"published as {draft.published_as.version}" if draft.published_as_id else "draft"

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
            draft = PolicyDraft.objects.filter(pk=int(object_id), published_as=None).first()
            for problem in draft.text_problems() if draft and request.method == "GET" else []:
                messages.warning(request, f"Publishing will refuse this draft until this is fixed: {problem}")
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
        from cases.backtest import start_backtest
        from policies.tasks import run_backtest

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
                # After the commit: a worker must find the row it is given.
                run_backtest.delay_on_commit(run.pk)
                return HttpResponseRedirect(self._url("backtest_run", draft.pk, run.pk))
        runs = list(draft.backtests.all()[:10])
        return TemplateResponse(request, "admin/policies/policydraft/backtest.html", self._context(
            request, draft, form=form, runs=runs, title=f"Backtest {draft}", current=current_backtest(draft)))

    def backtest_run_view(self, request, draft_id: int, run_id: int):
        draft = self._draft(request, draft_id)
        run = draft.backtests.filter(pk=run_id).first()
        if run is None:
            raise Http404
        return TemplateResponse(request, "admin/policies/policydraft/backtest_run.html", self._context(
            request, draft, run=run, summary=summary_view(run), title=f"Backtest of {draft}",
            refresh=run.status in (Backtest.Status.QUEUED, Backtest.Status.RUNNING)))

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
                version = publish_draft(draft_id=draft.pk, backtest_id=form.cleaned_data["backtest"],
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
    from cases.admin.case_page import outcome_words

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
