"""Writing a staff member's devices: set up an app, check a code, new backup codes, a reset.

The rows are django-otp's (``TOTPDevice``, ``StaticDevice`` with its ``StaticToken`` backup codes);
every code is checked by django-otp, under a row lock, so that a code is taken once and each device's
back-off applies. On top of that back-off, ``OTP_FAILURE_LIMIT`` wrong codes in a row lock the
second step for ``OTP_LOCKOUT_TIME``.
"""

from __future__ import annotations

import re
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from core.models import SecondFactorReset
from core.typing import Actor

APP_NAME = "Authenticator app"
BACKUP_NAME = "Backup codes"
BACKUP_CODES = 10
RESET_PERMISSION = "core.reset_second_factor"
_SEPARATORS = re.compile(r"[\s-]+")


def normalise(code: str) -> str:
    """As typed or pasted: "123 456", "abcd-efgh", "ABCD EFGH"."""
    return _SEPARATORS.sub("", code).lower()


def new_key() -> str:
    """A fresh TOTP secret, hex as django-otp stores it."""
    return random_hex(20)


def secret_for_typing(key: str) -> str:
    """The secret as authenticator apps ask for it when typed: base32, in groups of four."""
    text = b32encode(bytes.fromhex(key)).decode("ascii").rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def setup_label(user: Actor) -> str:
    """The account's name in the authenticator app, as django-otp's set-up address labels it."""
    issuer = str(getattr(settings, "OTP_TOTP_ISSUER", "") or "").replace(":", "")
    return f"{issuer}: {user.get_username()}" if issuer else user.get_username()


def setup_url(*, user: Actor, key: str) -> str:
    """The otpauth:// address the QR code carries (issuer ``OTP_TOTP_ISSUER``, label the username)."""
    return TOTPDevice(user=user, key=key).config_url


def enrol(*, user: Actor, key: str, code: str) -> TOTPDevice | None:
    """The app that showed ``code`` for ``key`` becomes the user's, replacing any earlier one.

    None when the code is not the key's: nothing is kept.
    """
    with transaction.atomic():
        device = TOTPDevice.objects.create(user=user, name=APP_NAME, key=key, confirmed=False)
        # django-otp's own check: it records the code's time step, so the same code cannot sign in later.
        if not device.verify_token(normalise(code)):
            transaction.set_rollback(True)
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return device


def backup_codes_renew(*, user: Actor) -> list[str]:
    """New backup codes in place of any earlier ones; the only time they can be read."""
    codes: set[str] = set()
    while len(codes) < BACKUP_CODES:
        codes.add(StaticToken.random_token())
    with transaction.atomic():
        device = StaticDevice.objects.select_for_update().filter(user=user).order_by("pk").first()
        if device is None:
            device = StaticDevice.objects.create(user=user, name=BACKUP_NAME)
        StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.token_set.all().delete()
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in sorted(codes))
        device.confirmed = True
        device.throttle_reset(commit=False)
        device.save()
    return sorted(codes)


def backup_codes_left(user: Actor) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def app_of(user: Actor) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


class Result(StrEnum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    WAIT = "wait"  # django-otp's back-off: too soon after the last wrong code
    LOCKED = "locked"  # OTP_FAILURE_LIMIT wrong codes in a row


@dataclass(frozen=True)
class Check:
    result: Result
    device: Device | None = None  # ACCEPTED: the device that took the code
    until: datetime | None = None  # WAIT, LOCKED: when the next code may be tried
    counted: bool = False  # a wrong code was counted on the devices (not one refused unread)


def check_code(*, user: Actor, code: str, now: datetime | None = None) -> Check:
    """Is ``code`` the app's current code or one of the unused backup codes? A backup code is used up."""
    code = normalise(code)
    with transaction.atomic():
        apps = list(TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk"))
        backups = list(StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk"))
        devices: list[Device] = [*apps, *backups]
        locked = locked_until(devices, now=now)
        if locked is not None:
            return Check(Result.LOCKED, until=locked)
        # A six-digit code is the app's, anything else a backup code; a code of neither shape still counts
        # as a wrong code on every device, so that no kind of guess goes uncounted.
        tried = (apps if code.isdigit() and len(code) == 6 else backups) or devices
        for device in tried:
            allowed, details = device.verify_is_allowed()
            if not allowed:
                return Check(Result.WAIT, until=(details or {}).get("locked_until"))
        for device in tried:
            if device.verify_token(code):
                return Check(Result.ACCEPTED, device=device)
        locked = locked_until(devices, now=now)
    if locked is not None:
        return Check(Result.LOCKED, until=locked, counted=True)
    return Check(Result.WRONG, counted=True)


def locked_until(devices: list[Device], *, now: datetime | None = None) -> datetime | None:
    """When the last of ``OTP_FAILURE_LIMIT`` wrong codes in a row stops locking, if it still does."""
    now = now or timezone.now()
    ends = [
        device.throttling_failure_timestamp + settings.OTP_LOCKOUT_TIME
        for device in devices
        if device.throttling_failure_count >= settings.OTP_FAILURE_LIMIT and device.throttling_failure_timestamp
    ]
    latest = max(ends, default=None)
    return latest if latest is not None and latest > now else None


def reset(*, user: Actor, actor: Actor, now: datetime | None = None) -> SecondFactorReset:
    """Remove ``user``'s app and backup codes, because the device was lost; ``actor`` is recorded.

    The user signs in with the password alone next time and, where the second factor is required,
    sets up a new app before anything else. Nobody resets their own (they replace it from their own
    page), and only a superuser resets a superuser's.
    """
    if not actor.has_perm(RESET_PERMISSION) or actor.pk == user.pk or (user.is_superuser and not actor.is_superuser):
        raise PermissionDenied
    with transaction.atomic():
        apps = TOTPDevice.objects.filter(user=user).count()
        codes = StaticToken.objects.filter(device__user=user).count()
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        return SecondFactorReset.objects.create(
            user=user, reset_by=actor, reset_at=now or timezone.now(), removed=describe(apps=apps, codes=codes)
        )


def describe(*, apps: int, codes: int) -> str:
    parts = []
    if apps:
        parts.append("the authenticator app" if apps == 1 else f"{apps} authenticator apps")
    if codes:
        parts.append("1 unused backup code" if codes == 1 else f"{codes} unused backup codes")
    return " and ".join(parts) or "nothing (no second factor was set up)"
