"""The admin's second-factor pages: the code after the password, setting up an app, backup codes, and
a manager's reset of a colleague's lost device.

Every page here is the admin site's own (``BackofficeAdminSite.get_urls``), behind ``admin_view``:
signed in, active staff, CSRF-checked. The code page and the set-up page are the only ones a session
that still owes its code reaches (and the logout).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.contrib.auth import get_user_model
from django.contrib.auth import logout as sign_out
from django.contrib.auth.models import Permission
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import SecondFactorReset
from core.second_factor import devices, gate
from core.second_factor.qr import qr_data_uri

if TYPE_CHECKING:
    from django.contrib.auth.models import User

NEW_KEY = "second_factor_new_key"  # session: the secret being set up, kept until its code is given
NEW_CODES = "second_factor_new_codes"  # session: backup codes made a moment ago, shown once


def exempt(view: Callable) -> Callable:
    """Mark a view as reachable by a session that still owes its second factor."""
    view.second_factor_exempt = True  # type: ignore[attr-defined]
    return view


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code", max_length=40, strip=True,
        widget=forms.TextInput(attrs={
            "autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false",
            "autofocus": True, "class": "rb-code-input", "size": 12,
        }),
    )


class SecondFactorPages:
    """The pages, bound to one admin site for its context, its URL names and its ``admin_view``."""

    def __init__(self, site: AdminSite) -> None:
        self.site = site

    def urls(self) -> list[URLPattern]:
        view = self.site.admin_view
        return [
            path("second-factor/", view(self.overview), name="second_factor"),
            path("second-factor/code/", view(self.verify), name="second_factor_verify"),
            path("second-factor/set-up/", view(self.enrol), name="second_factor_enrol"),
            path("second-factor/backup-codes/", view(self.backup_codes), name="second_factor_backup_codes"),
            path("second-factor/staff/", view(self.staff), name="second_factor_staff"),
            path("second-factor/staff/<int:user_id>/reset/", view(self.reset), name="second_factor_reset"),
        ]

    # --- helpers ----------------------------------------------------------------------------------

    def url(self, name: str, *args: object) -> str:
        return reverse(f"{self.site.name}:{name}", args=args)

    def render(self, request: HttpRequest, template: str, context: dict, status: int = 200) -> TemplateResponse:
        request.current_app = self.site.name
        return TemplateResponse(request, f"admin/second_factor/{template}",
                                {**self.site.each_context(request), **context}, status=status)

    def next_url(self, request: HttpRequest) -> str:
        wanted = request.POST.get("next") or request.GET.get("next") or ""
        if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()},
                                                       require_https=request.is_secure()):
            return wanted
        return self.url("index")

    def to_step(self, request: HttpRequest, step: gate.Step) -> HttpResponseRedirect:
        """To the code page or the set-up page, coming back to this page afterwards."""
        target = self.url("second_factor_verify" if step == gate.Step.VERIFY else "second_factor_enrol")
        if request.method == "GET" and request.path != target:
            query = QueryDict(mutable=True)
            query["next"] = request.get_full_path()
            target += "?" + query.urlencode()
        return HttpResponseRedirect(target)

    # --- the code after the password -----------------------------------------------------------

    @exempt
    def verify(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if gate.verified(user) or not gate.has_device(user):
            return HttpResponseRedirect(self.next_url(request))
        credentials = {"username": user.get_username()}
        if AxesProxyHandler.is_locked(request, credentials):
            return self.locked(request, until=None)
        form = CodeForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            check = devices.check_code(user=user, code=form.cleaned_data["code"])
            if check.result == devices.Result.ACCEPTED:
                return self.signed_in(request, check.device)
            if check.result == devices.Result.WAIT:
                form.add_error("code", "Wait a few seconds before trying another code.")
            else:
                if check.counted:
                    # A wrong code counts in the login lockout like a wrong password (docs/decisions/0010):
                    # django-axes answers with its lockout page once the pair reaches its limit.
                    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
                if check.result == devices.Result.LOCKED or getattr(request, "axes_locked_out", False):
                    return self.locked(request, until=check.until)
                form.add_error("code", "That code is not right. Type the code your app shows now, or a backup code.")
        return self.render(request, "verify.html", {
            "title": "Enter your code", "form": form, "next": self.next_url(request),
            "second_factor_pending": True,
        })

    def signed_in(self, request: HttpRequest, device) -> HttpResponse:
        otp_login(request, device)
        request.session.pop(gate.OWED, None)
        # A new session key for the session that now has both factors.
        request.session.cycle_key()
        if isinstance(device, StaticDevice):
            left = devices.backup_codes_left(request.user)
            messages.warning(request, f"Backup code used: {left} left. If your phone is lost, ask a manager "
                                      "to reset your second factor, then set up a new app.")
        return HttpResponseRedirect(self.next_url(request))

    def locked(self, request: HttpRequest, *, until) -> HttpResponse:
        sign_out(request)
        return self.render(request, "locked.html", {
            "title": "Sign-in temporarily locked",
            "until": date_format(timezone.localtime(until), "DATETIME_FORMAT") if until else None,
        }, status=429)

    # --- setting up an app -------------------------------------------------------------------------

    @exempt
    def enrol(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not gate.verified(user) and gate.has_device(user):
            # Replacing the app needs the old one first: a password alone must not swap it.
            return self.to_step(request, gate.Step.VERIFY)
        key = request.session.get(NEW_KEY)
        if not key:
            key = request.session[NEW_KEY] = devices.new_key()
        form = CodeForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            device = devices.enrol(user=user, key=key, code=form.cleaned_data["code"])
            if device is not None:
                request.session.pop(NEW_KEY, None)
                replaced = gate.verified(user)
                otp_login(request, device)
                request.session.pop(gate.OWED, None)
                request.session.cycle_key()
                if devices.backup_codes_left(user) == 0:
                    request.session[NEW_CODES] = devices.backup_codes_renew(user=user)
                    return HttpResponseRedirect(self.url("second_factor_backup_codes"))
                messages.success(request, "Your new authenticator app is set up" + (
                    "; the old one no longer works. Your backup codes still do." if replaced else "."))
                return HttpResponseRedirect(self.url("second_factor"))
            form.add_error("code", "That code does not match. Type the six digits the app shows for "
                                   f"“{devices.setup_label(user)}” now (they change every 30 seconds).")
        setup_url = devices.setup_url(user=user, key=key)
        return self.render(request, "enrol.html", {
            "title": "Set up your authenticator app",
            "form": form,
            "qr": qr_data_uri(setup_url),
            "setup_url": setup_url,
            "secret": devices.secret_for_typing(key),
            "account": devices.setup_label(user),
            "replacing": gate.verified(user),
            "required": gate.required(user),
            "second_factor_pending": not gate.verified(user) and gate.required(user),
        })

    # --- the user's own page and backup codes --------------------------------------------------

    def overview(self, request: HttpRequest) -> HttpResponse:
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        user = request.user
        return self.render(request, "overview.html", {
            "title": "Second factor",
            "app": devices.app_of(user),
            "codes_left": devices.backup_codes_left(user),
            "privileged": gate.privileged(user),
            "required": gate.required(user),
            "enforced": gate.required(user) or bool(request.session.get(gate.OWED)),
            "verified": gate.verified(user),
            "last_reset": SecondFactorReset.objects.filter(user=user).select_related("reset_by").first(),
        })

    def backup_codes(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if devices.app_of(user) is None:
            messages.info(request, "Set up an authenticator app first; backup codes come with it.")
            return HttpResponseRedirect(self.url("second_factor_enrol"))
        if not gate.verified(user):
            return self.to_step(request, gate.Step.VERIFY)
        if request.method == "POST":
            request.session[NEW_CODES] = devices.backup_codes_renew(user=user)
            return HttpResponseRedirect(self.url("second_factor_backup_codes"))
        codes = request.session.pop(NEW_CODES, None)
        return self.render(request, "backup_codes.html", {
            "title": "Backup codes",
            "codes": [f"{code[:4]}-{code[4:]}" for code in codes or []],
            "codes_left": devices.backup_codes_left(user),
        })

    # --- a manager's reset of a colleague's lost device -----------------------------------------

    def staff(self, request: HttpRequest) -> HttpResponse:
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        if not request.user.has_perm(devices.RESET_PERMISSION):
            raise PermissionDenied
        return self.render(request, "staff.html", {"title": "Staff second factors", "rows": staff_rows(request.user)})

    def reset(self, request: HttpRequest, user_id: int) -> HttpResponse:
        actor = request.user
        if not actor.has_perm(devices.RESET_PERMISSION):
            raise PermissionDenied
        target = get_object_or_404(get_user_model(), pk=user_id, is_staff=True)
        if target.is_superuser and not actor.is_superuser:
            raise PermissionDenied
        if target.pk == actor.pk:
            messages.error(request, "You cannot reset your own second factor: set up a new app from your own "
                                    "page, or ask another manager if your phone is lost.")
            return HttpResponseRedirect(self.url("second_factor_staff"))
        if request.method == "POST":
            record = devices.reset(user=target, actor=actor)
            messages.success(request, f"Second factor of {display_name(target)} reset: removed {record.removed}. "
                                      "They sign in with their password and set up a new app.")
            return HttpResponseRedirect(self.url("second_factor_staff"))
        return self.render(request, "reset.html", {
            "title": f"Reset the second factor of {display_name(target)}",
            "target": target,
            "app": devices.app_of(target),
            "codes_left": devices.backup_codes_left(target),
            "target_required": gate.required(target),
        })


def display_name(user: User) -> str:
    full = user.get_full_name()
    return f"{full} ({user.get_username()})" if full else user.get_username()


def staff_rows(viewer: User) -> list[dict]:
    """Every active staff member with their second factor, in one query."""
    User = get_user_model()
    apps = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True).order_by("-pk")
    codes = (StaticToken.objects.filter(device__user=OuterRef("pk"), device__confirmed=True)
             .values("device__user").annotate(n=Count("pk")).values("n"))
    resets = SecondFactorReset.objects.filter(user=OuterRef("pk")).order_by("-reset_at", "-pk")
    wanted = Q()
    for name in settings.OTP_PRIVILEGED_PERMISSIONS:
        app_label, codename = name.split(".", 1)
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    permissions = Permission.objects.filter(wanted)
    holds = Q(is_superuser=True) | Q(user_permissions__in=permissions) | Q(groups__permissions__in=permissions)
    privileged = User.objects.filter(holds, pk=OuterRef("pk"))
    users = (User.objects.filter(is_staff=True, is_active=True)
             .annotate(app_since=Subquery(apps.values("created_at")[:1]), has_app=Exists(apps),
                       codes_left=Subquery(codes), privileged=Exists(privileged),
                       reset_at=Subquery(resets.values("reset_at")[:1]),
                       reset_by=Subquery(resets.values("reset_by__username")[:1]))
             .order_by("username"))
    return [
        {
            "user": user,
            "name": display_name(user),
            "has_app": user.has_app,
            "app_since": user.app_since,
            "codes_left": user.codes_left or 0,
            "privileged": user.privileged,
            "reset_at": user.reset_at,
            "reset_by": user.reset_by,
            "can_reset": (bool(user.has_app or user.codes_left) and user.pk != viewer.pk
                          and (viewer.is_superuser or not user.is_superuser)),
        }
        for user in users
    ]
