"""The default limits: wide per address (a carrier's shared address), tight per e-mail and per order."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import RefundCase

pytestmark = pytest.mark.django_db
CARRIER = "100.64.0.1"  # carrier-grade NAT: one address for a whole town's phones


def post(storefront, form: str, *, address: str, order_number: str, email: str) -> int:
    url = reverse(f"portal:{form}", args=[storefront.slug])
    data = {"order_number": order_number, "email": email, "reason": "other"}
    return Client(REMOTE_ADDR=address).post(url, data).status_code


@pytest.mark.parametrize("form", ["request", "link"])
def test_it_lets_a_few_hundred_customers_behind_one_carrier_address_ask_in_an_hour(s0, form):
    codes = {post(s0, form, address=CARRIER, order_number=f"{100000 + n}", email=f"c{n}@example.com")
             for n in range(250)}
    assert codes == {200}


@pytest.mark.parametrize("form", ["request", "link"])
def test_it_limits_one_email_address_to_a_few_tries_from_any_address(s0, form):
    codes = [post(s0, form, address=f"198.51.100.{n}", order_number=f"{100000 + n}", email="same@example.com")
             for n in range(6)]
    assert codes == [200] * 5 + [429]


@pytest.mark.parametrize("form", ["request", "link"])
def test_it_limits_one_order_number_to_a_few_tries_whatever_the_email(s0, form):
    numbers = ["100234", "#100234", " 100234 ", "100234", "#100234", "100234"]
    codes = [post(s0, form, address=f"198.51.100.{n}", order_number=number, email=f"guess{n}@example.com")
             for n, number in enumerate(numbers)]
    assert codes == [200] * 5 + [429]
    assert RefundCase.objects.count() == 0
