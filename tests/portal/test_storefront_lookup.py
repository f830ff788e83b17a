"""The storefront in a portal address is read once a minute per process, and at once after a change."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db


def storefront_reads(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return sum('FROM "orders_storefront"' in q["sql"] for q in queries.captured_queries)


def test_it_reads_the_shop_once_for_many_pages(s0, customer):
    url = reverse("portal:link", args=[s0.slug])
    assert storefront_reads(customer, url) == 1
    assert storefront_reads(customer, url) == 0
    assert storefront_reads(customer, reverse("portal:request", args=[s0.slug])) == 0


def test_it_shows_a_renamed_shop_at_once(s0, customer):
    url = reverse("portal:link", args=[s0.slug])
    assert s0.name.encode() in customer.get(url).content
    s0.name = "Smarters Renamed"
    s0.save()
    assert b"Smarters Renamed" in customer.get(url).content


def test_it_still_answers_an_unknown_shop_address_with_a_404_page(db, customer):
    url = reverse("portal:request", args=["no-such-shop"])
    assert customer.get(url).status_code == 404
    assert customer.get(url).status_code == 404
