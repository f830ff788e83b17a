"""An admin "add" page whose save is a service call, so a refusal becomes a form error.

Django's add view validates a ModelForm and then saves the instance itself; our records are only
created by services (which check things a form cannot, under a lock), so the page is rendered with
the admin's change-form template but the write is ``create(form)``.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpResponseRedirect
from django.urls import reverse

from core.errors import CaseActionError


def service_add_view(
    model_admin,
    request,
    *,
    form: forms.Form,
    fieldsets: list,
    create: Callable[[forms.Form], Model],
    success_message: Callable[[Model], str],
    form_url: str = "",
    extra_context: dict | None = None,
):
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    if request.method == "POST" and form.is_valid():
        try:
            obj = create(form)
        except CaseActionError as error:
            form.add_error(None, error.message)
        else:
            model_admin.log_addition(request, obj, [{"added": {}}])
            messages.success(request, success_message(obj))
            opts = model_admin.opts
            return HttpResponseRedirect(
                reverse(f"{model_admin.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            )
    admin_form = helpers.AdminForm(form, fieldsets, {}, readonly_fields=(), model_admin=model_admin)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Add {model_admin.opts.verbose_name}",
        "subtitle": None,
        "adminform": admin_form,
        "object_id": None,
        "original": None,
        "is_popup": IS_POPUP_VAR in request.POST or IS_POPUP_VAR in request.GET,
        "to_field": None,
        "media": model_admin.media + admin_form.media,
        "inline_admin_formsets": [],
        "errors": helpers.AdminErrorList(form, []),
        "preserved_filters": model_admin.get_preserved_filters(request),
        "show_save_and_add_another": False,
        "show_save_and_continue": False,
        **(extra_context or {}),
    }
    return model_admin.render_change_form(request, context, add=True, form_url=form_url)
