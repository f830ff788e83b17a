"""Admin for editing policy drafts; ``reports.draft_admin`` registers it with the backtest and publishing.

A draft is published only after its backtest, which replays cases: the reports app's work, above this one.
"""

from __future__ import annotations

from django.contrib import admin, messages

from policies.drafts import PolicyDraft
from policies.exclusion_field import ExclusionsForm
from policies.models import PolicyVersion


def draft_fieldsets():
    from policies.admin import FIELDSETS

    head = ("Draft", {
        "fields": ["storefront", "version", "based_on", "code", "text"],
        "description": "A draft is never in force and judges no case. Backtest it over closed cases, then "
                       "publish it: it becomes a new version, starting when you choose, from now on.",
    })
    return [head, *FIELDSETS[1:]]


class PolicyDraftAdmin(admin.ModelAdmin):
    list_display = ["storefront", "version", "based_on", "updated_at", "state"]
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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if str(object_id).isdigit():
            draft = PolicyDraft.objects.filter(pk=int(object_id), published_as=None).first()
            for problem in draft.text_problems() if draft and request.method == "GET" else []:
                messages.warning(request, f"Publishing will refuse this draft until this is fixed: {problem}")
        return super().change_view(request, object_id, form_url, extra_context=extra_context)
