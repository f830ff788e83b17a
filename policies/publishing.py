"""Publishing a draft: it becomes a new PolicyVersion, after its backtest has been seen."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from core.typing import Actor, RequestUser
from policies.drafts import Backtest, PolicyDraft
from policies.models import PolicyVersion

PUBLISH_PERMISSIONS = ("policies.backtest_policy", "policies.add_policyversion")


def can_publish(user: RequestUser) -> bool:
    return all(user.has_perm(p) for p in PUBLISH_PERMISSIONS)


def current_backtest(draft: PolicyDraft) -> Backtest | None:
    """The latest finished backtest of the draft as it is now (an edit since makes older ones stale)."""
    parameters = draft.parameters()
    for run in draft.backtests.filter(status=Backtest.Status.DONE).order_by("-finished_at", "-id")[:20]:
        if run.parameters == parameters:
            return run
    return None


def publish_draft(*, draft_id: int, backtest_id: int, effective_from: datetime, actor: Actor) -> PolicyVersion:
    """The draft as a version starting at ``effective_from``, under the version's own rules (S1-VERSIONING).

    ``backtest_id`` is the run whose summary the publisher was shown; it must be of the draft as it is.
    """
    if not can_publish(actor):
        raise PermissionDenied
    with transaction.atomic():
        # Locked: two managers confirming at once would otherwise both create a version from it.
        draft = PolicyDraft.objects.select_for_update().get(pk=draft_id)
        if draft.published_as_id is not None:
            raise ValidationError("This draft was already published.")
        run = draft.backtests.filter(pk=backtest_id, status=Backtest.Status.DONE).first()
        if run is None or run.parameters != draft.parameters():
            raise ValidationError("The draft changed since that backtest: run a backtest of it as it is now.")
        version = draft.as_version(effective_from=effective_from)
        version.full_clean()
        version.save()
        draft.published_as = version
        draft.save(update_fields=["published_as", "updated_at"])
    return version
