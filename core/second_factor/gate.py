"""What a signed-in session owes before the admin opens a page: a code, or setting up a device first.

A session owes a code when the user had a device when they signed in (remembered in the session at
login, so that a page costs no query for everyone else), and, where the second factor is required
(``OTP_REQUIRED_FOR_PRIVILEGED``), whenever the user holds a privileged permission: that is asked on
every page until the session is verified, so a permission granted mid-session counts at once.
"""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.typing import RequestUser

OWED = "second_factor_owed"  # session key: the user had a device when this session signed in


class Step(StrEnum):
    VERIFY = "verify"  # give a code from the device (or a backup code)
    ENROL = "enrol"  # set up a device first


def privileged(user: RequestUser) -> bool:
    """Holds a permission that moves money or changes a published promise (``OTP_PRIVILEGED_PERMISSIONS``)."""
    return user.is_authenticated and any(user.has_perm(name) for name in settings.OTP_PRIVILEGED_PERMISSIONS)


def required(user: RequestUser) -> bool:
    return bool(settings.OTP_REQUIRED_FOR_PRIVILEGED) and privileged(user)


def has_device(user: RequestUser) -> bool:
    """A confirmed authenticator app, or backup codes left to use."""
    if not user.is_authenticated:
        return False
    return (TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
            or StaticToken.objects.filter(device__user_id=user.pk, device__confirmed=True).exists())


def verified(user: RequestUser) -> bool:
    """This session has given a code (django-otp's middleware reads it from the session)."""
    return getattr(user, "otp_device", None) is not None


def step_for(request: HttpRequest) -> Step | None:
    user = request.user
    if not user.is_authenticated or verified(user):
        return None
    owed = request.session.get(OWED, False)
    if not owed and not required(user):
        return None
    if has_device(user):
        return Step.VERIFY
    if required(user):
        return Step.ENROL
    # The device was reset since this session signed in, and nothing requires a new one.
    request.session.pop(OWED, None)
    return None


def remember_at_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """``user_logged_in``: a user with a device owes a code in this session, whatever the settings."""
    if request is not None and hasattr(request, "session") and has_device(user):
        request.session[OWED] = True
