"""Builders for the admin tests: real cases made through the services, clients logged in as personas."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import RefundCase
from tests.conftest import make_order


def recent(hours_ago: float) -> datetime:
    return timezone.now() - timedelta(hours=hours_ago)


def open_case(storefront, *, reason: str = "other", actor=None, order_kwargs=None, **kwargs) -> RefundCase:
    """A case requested an hour after a purchase made two hours ago (inside S0's 48 h window)."""
    order_kwargs = {"purchased_at": recent(2), **(order_kwargs or {})}
    order = make_order(storefront, **order_kwargs)
    kwargs.setdefault("requested_at", order.purchased_at + timedelta(hours=1))
    return services.case_create(order=order, reason=reason, actor=actor, **kwargs)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def case_url(case: RefundCase, name: str = "change", *args) -> str:
    return reverse(f"admin:cases_refundcase_{name}", args=[case.pk, *args])


def act_url(case: RefundCase, action: str) -> str:
    return case_url(case, "act", action)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def changelist_url() -> str:
    return reverse("admin:cases_refundcase_changelist")
