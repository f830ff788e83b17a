"""S1-VERSIONING: a new version starts from now on, after every other; a version in force keeps its start."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cases import services
from policies.models import PolicyVersion
from tests.admin.conftest import client_for
from tests.admin.test_policy_version_lock import form_data
from tests.conftest import at, make_order


def later_version(storefront, start, **fields) -> PolicyVersion:
    first = PolicyVersion.objects.filter(storefront=storefront).order_by("effective_from").first()
    values = {f.name: getattr(first, f.name) for f in PolicyVersion._meta.concrete_fields if f.name not in ("id",)}
    values.update(version=f"v-{start:%Y%m%d%H%M%S}", effective_from=start)
    values.update(fields)
    return PolicyVersion(**values)


@pytest.mark.parametrize("start", [at("2026-01-01 00:00"), at("2019-01-01 00:00")], ids=["past", "before-v1"])
def test_it_refuses_a_new_version_that_starts_in_the_past_s1_versioning(s1, start):
    version = later_version(s1, start)
    with pytest.raises(ValidationError) as refused:
        version.full_clean()
    assert "cannot start in the past" in str(refused.value.message_dict["effective_from"])


def test_it_refuses_a_new_version_that_starts_before_a_scheduled_one_s1_versioning(s1):
    now = timezone.now()
    later_version(s1, now + timedelta(days=10)).save()

    squeezed = later_version(s1, now + timedelta(days=5))
    with pytest.raises(ValidationError, match="must start after every version of this storefront"):
        squeezed.full_clean()
    later_version(s1, now + timedelta(days=11)).full_clean()


def test_it_keeps_the_start_of_a_version_in_force_s1_versioning(s1):
    """No case judged by it yet, and still its start cannot move: purchases since then rely on it."""
    version = PolicyVersion.objects.get(storefront=s1)
    version.effective_from = at("2025-06-01 00:00")
    with pytest.raises(ValidationError, match="in force since 5 Dec 2025, 00:00"):
        version.full_clean()
    version.effective_from = timezone.now() + timedelta(days=3)  # nor forward, leaving purchases without it
    with pytest.raises(ValidationError, match="in force since"):
        version.full_clean()


def test_it_lets_a_scheduled_version_move_within_the_future_only_s1_versioning(s1):
    now = timezone.now()
    scheduled = later_version(s1, now + timedelta(days=10))
    scheduled.save()

    scheduled.effective_from = now + timedelta(days=20)
    scheduled.full_clean()
    scheduled.effective_from = now - timedelta(days=1)
    with pytest.raises(ValidationError, match="cannot start in the past"):
        scheduled.full_clean()


def test_it_never_adds_a_backdated_version_from_the_admin_and_never_rejudges_a_case_s1_versioning(s1, manager):
    """A manager's backdated 'Save as new' would have re-judged an open case; versions now come only from drafts."""
    order = make_order(s1, purchased_at=at("2026-02-01 10:00"), delivered_at=None)
    case = services.case_create(order=order, reason="changed_mind", requested_at=at("2026-02-01 11:00"),
                                now=at("2026-02-01 11:00"))
    judged = case.evaluate(as_of=timezone.now()).as_dict()
    assert (judged["policy_version"], judged["outcome"]) == ("2025-12-05", "full_refund")
    version = PolicyVersion.objects.get(storefront=s1)
    url = reverse("admin:policies_policyversion_change", args=[version.pk])

    response = client_for(manager).post(url, form_data(
        version, version="2026-01-15", used_on_delivery="", discretion_after_delivery="",
        full_refund_window_hours="1", _saveasnew="Save as new",
        effective_from_0="2026-01-15", effective_from_1="00:00:00",
    ))

    assert response.status_code == 403
    assert PolicyVersion.objects.filter(storefront=s1).count() == 1
    case.refresh_from_db()
    case.forget_decision()
    assert case.evaluate(as_of=timezone.now()).as_dict() == judged


def test_it_never_rejudges_a_case_opened_under_another_version_when_the_policy_changes_s1_versioning(s1, agent):
    """A new text from now on: the case bought under the old one keeps the old decision, also when it is acted on."""
    order = make_order(s1, purchased_at=at("2026-02-01 10:00"))
    case = services.case_create(order=order, reason="server_switch", requested_at=at("2026-02-02 10:00"),
                                now=at("2026-02-02 10:00"))
    before = case.decision

    start = timezone.now() + timedelta(seconds=1)
    new = later_version(s1, start, version="stricter", discretion_after_delivery=False,
                        exclusions={"changed_mind": "S1-NOT-ELIGIBLE", "server_switch": "S1-NOT-ELIGIBLE"})
    new.full_clean()
    new.save()

    after = services.case_deny(case=case, actor=agent, reason="other", note="Goodwill refused.",
                               now=start + timedelta(days=1))
    assert after.decision["policy_version"] == before["policy_version"] == "2025-12-05"
    assert after.decision["outcome"] == before["outcome"] == "manager_discretion"
    fresh_order = make_order(s1, purchased_at=start + timedelta(hours=1))
    assert fresh_order.pk != order.pk
    judged_new = services.case_create(order=fresh_order, reason="server_switch",
                                      requested_at=start + timedelta(hours=2), now=start + timedelta(hours=2))
    assert (judged_new.decision["policy_version"], judged_new.decision["outcome"]) == ("stricter", "deny")
