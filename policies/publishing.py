"""Publishing a draft: it becomes a new PolicyVersion, once the caller's check of the draft passes.

The check that a draft is published only after its backtest has been seen (docs/decisions/0024) is
``reports.backtest.publish_backtested``'s: a backtest replays cases, which this app does not read.
It is given here as ``check`` and runs on the locked draft, inside the transaction that publishes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from core.typing import Actor, RequestUser
from policies.drafts import PolicyDraft
from policies.models import PolicyVersion

PUBLISH_PERMISSIONS = ("policies.backtest_policy", "policies.add_policyversion")


def can_publish(user: RequestUser) -> bool:
    return all(user.has_perm(p) for p in PUBLISH_PERMISSIONS)


def publish_draft(*, draft_id: int, effective_from: datetime, actor: Actor,
                  check: Callable[[PolicyDraft], None]) -> PolicyVersion:
    """The draft as a version starting at ``effective_from``, under the version's own rules (S1-VERSIONING).

    ``check`` refuses with a ValidationError what the caller requires and the draft does not meet.
    """
    if not can_publish(actor):
        raise PermissionDenied
    with transaction.atomic():
        # Locked: two managers confirming at once would otherwise both create a version from it.
        draft = PolicyDraft.objects.select_for_update().get(pk=draft_id)
        if draft.published_as_id is not None:
            raise ValidationError("This draft was already published.")
        check(draft)
        version = draft.as_version(effective_from=effective_from)
        version.full_clean()
        version.save()
        draft.published_as = version
        draft.save(update_fields=["published_as", "updated_at"])
    return version
