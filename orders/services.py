"""Writes on storefronts that are not about a case (the four-eyes switch).

Chargebacks are written by ``cases.services.chargebacks``: they note themselves on the order's open case.
"""

from __future__ import annotations

from django.db import transaction

from core.errors import CaseActionError, Code
from core.typing import Actor
from orders.models import Storefront, StorefrontSettingChange


def storefront_set_four_eyes(*, storefront: Storefront, actor: Actor, enabled: bool, reason: str) -> Storefront:
    """H-FOUR-EYES on or off, by someone it does not control, with the reason on record."""
    if not actor.has_perm("orders.change_four_eyes"):
        raise CaseActionError(Code.NO_PERMISSION, permission="switch the four-eyes rule")
    reason = (reason or "").strip()
    if not reason:
        raise CaseActionError(Code.NOTE_REQUIRED, what="The reason for switching the four-eyes rule")
    with transaction.atomic():
        locked = Storefront.objects.select_for_update().get(pk=storefront.pk)
        if locked.four_eyes == enabled:
            return locked
        StorefrontSettingChange.objects.create(
            storefront=locked, setting="four_eyes", old_value=str(locked.four_eyes), new_value=str(enabled),
            reason=reason, changed_by=actor,
        )
        locked.four_eyes = enabled
        locked.save(update_fields=["four_eyes"])
    return locked
