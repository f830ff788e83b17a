"""H-FOUR-EYES is switched only by a permission the support managers do not have, with the reason on record."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from core.errors import CaseActionError, Code
from orders.models import Storefront, StorefrontSettingChange
from orders.services import storefront_set_four_eyes
from tests.admin.conftest import client_for
from tests.conftest import make_user


@pytest.fixture
def owner(db) -> User:
    """A manager who was also given the distinct four-eyes permission."""
    user = make_user("olga", "Support manager")
    user.user_permissions.add(Permission.objects.get(codename="change_four_eyes"))
    return User.objects.get(pk=user.pk)


def form_data(storefront: Storefront, **changes) -> dict:
    data = {field: getattr(storefront, field) for field in
            ("name", "slug", "support_email", "currency", "extension_limit_days", "evidence_due_days",
             "evidence_grace_days")}
    data["four_eyes"] = "on" if storefront.four_eyes else ""
    data.update(changes)
    return data


def test_it_refuses_a_support_manager_switching_four_eyes_off(s0, manager):
    with pytest.raises(CaseActionError) as refused:
        storefront_set_four_eyes(storefront=s0, actor=manager, enabled=False, reason="Short-staffed")
    assert refused.value.code == Code.NO_PERMISSION
    assert Storefront.objects.get(pk=s0.pk).four_eyes
    assert not StorefrontSettingChange.objects.exists()


def test_it_records_who_switched_four_eyes_and_why(s0, owner):
    storefront_set_four_eyes(storefront=s0, actor=owner, enabled=False, reason="One-person shop this week")

    change = StorefrontSettingChange.objects.get()
    assert not Storefront.objects.get(pk=s0.pk).four_eyes
    assert (change.setting, change.old_value, change.new_value) == ("four_eyes", "True", "False")
    assert change.changed_by == owner and change.reason == "One-person shop this week"
    with pytest.raises(ValueError):
        change.save()


def test_it_needs_a_reason_to_switch_four_eyes(s0, owner):
    with pytest.raises(CaseActionError) as refused:
        storefront_set_four_eyes(storefront=s0, actor=owner, enabled=False, reason="  ")
    assert refused.value.code == Code.NOTE_REQUIRED
    assert Storefront.objects.get(pk=s0.pk).four_eyes


def test_it_keeps_four_eyes_read_only_for_a_support_manager_in_the_admin(s0, manager):
    manager.user_permissions.add(Permission.objects.get(codename="change_storefront"))
    url = reverse("admin:orders_storefront_change", args=[s0.pk])

    response = client_for(User.objects.get(pk=manager.pk)).post(url, form_data(s0, four_eyes=""))

    assert response.status_code in (200, 302)
    assert Storefront.objects.get(pk=s0.pk).four_eyes
    assert not StorefrontSettingChange.objects.exists()


def test_it_switches_four_eyes_in_the_admin_only_with_a_reason(s0, owner):
    owner.user_permissions.add(Permission.objects.get(codename="change_storefront"))
    client = client_for(User.objects.get(pk=owner.pk))
    url = reverse("admin:orders_storefront_change", args=[s0.pk])

    without = client.post(url, form_data(s0, four_eyes=""))
    assert without.status_code == 200
    assert "Say why the four-eyes rule changes." in without.content.decode()
    assert Storefront.objects.get(pk=s0.pk).four_eyes

    with_reason = client.post(url, form_data(s0, four_eyes="", four_eyes_reason="Owner runs the shop alone"))
    assert with_reason.status_code == 302
    assert not Storefront.objects.get(pk=s0.pk).four_eyes
    assert StorefrontSettingChange.objects.get().reason == "Owner runs the shop alone"
