"""S1-VERSIONING: a version that judged cases is frozen; changes become a new version."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from policies.models import PolicyVersion
from tests.admin.conftest import client_for, open_case


def form_data(stored: PolicyVersion, **changes) -> dict:
    data = {
        "storefront": stored.storefront_id, "version": stored.version, "code": stored.code,
        "effective_from_0": stored.effective_from.strftime("%Y-%m-%d"),
        "effective_from_1": stored.effective_from.strftime("%H:%M:%S"),
        "text": stored.text, "fix_window_hours": stored.fix_window_hours,
        "full_refund_window_hours": stored.full_refund_window_hours or "",
        "outage_guarantee_hours": stored.outage_guarantee_hours or "",
        "short_outage_clause": stored.short_outage_clause, "evidence_clause": stored.evidence_clause,
        "exclusions": ["changed_mind"] if stored.code == "S1" else [],  # ticked reasons
        "arrival_card_min": stored.arrival_card_min, "arrival_card_max": stored.arrival_card_max,
        "arrival_card_worst": stored.arrival_card_worst, "arrival_other_min": stored.arrival_other_min,
        "arrival_other_max": stored.arrival_other_max, "arrival_other_worst": stored.arrival_other_worst,
    }
    for flag in ("prorate_after_window", "fix_first", "used_on_delivery", "discretion_after_delivery",
                 "chargeback_sanction", "statutory_override"):
        if getattr(stored, flag):
            data[flag] = "on"
    data.update(changes)
    return data


def test_it_freezes_a_version_once_it_judged_a_case(s1):
    version = PolicyVersion.objects.get(storefront=s1)
    version.arrival_card_max = 8
    version.full_clean()  # nothing judged yet: still editable

    open_case(s1)
    version.refresh_from_db()
    version.arrival_card_max = 8
    with pytest.raises(ValidationError, match="already judged by this version"):
        version.full_clean()


def test_it_changes_the_policy_only_through_a_published_draft(s1, manager):
    """The version's form neither edits a judged version nor adds one ('Save as new'): a draft is published."""
    open_case(s1)
    version = PolicyVersion.objects.get(storefront=s1)
    client = client_for(manager)
    url = reverse("admin:policies_policyversion_change", args=[version.pk])

    page = client.get(url).content.decode()
    assert "Save as new" not in page and "start a draft from this version" in page
    refused = client.post(url, form_data(version, arrival_card_max=8, arrival_card_worst=8, _save="Save"))
    assert refused.status_code == 200
    assert "already judged by this version" in refused.content.decode()
    assert "Start a draft from it, backtest it and publish it" in refused.content.decode()
    version.refresh_from_db()
    assert version.arrival_card_max == 10

    start = (timezone.now() + timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
    new_version = form_data(version, version="2027-01-10", arrival_card_max=8, arrival_card_worst=8,
                            effective_from_0=start.strftime("%Y-%m-%d"), effective_from_1="00:00:00")
    assert client.post(url, {**new_version, "_saveasnew": "Save as new"}).status_code == 403
    add_url = reverse("admin:policies_policyversion_add")
    assert client.get(add_url).status_code == 403
    assert client.post(add_url, {**new_version, "_save": "Save"}).status_code == 403
    assert PolicyVersion.objects.filter(storefront=s1).count() == 1
