"""The public policy page of a storefront: the text in force, rendered from its rules, and the earlier ones."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from policies.models import PolicyDraft, PolicyVersion

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_it_shows_the_text_in_force_rendered_from_its_rules(s1, customer):
    response = customer.get("/portal/smarters-pro/policy/")
    assert response.status_code == 200
    text = text_of(response)
    assert "Refund policy" in text and "In force since 5 December 2025" in text
    assert "it usually takes between 3 and 10 business days" in text
    assert "{{" not in response.content.decode() and "{%" not in response.content.decode()
    assert "Earlier versions" not in text


def test_it_shows_the_earlier_versions_with_the_dates_each_was_in_force(s0, customer):
    shipped = PolicyVersion.objects.get(storefront=s0)
    exclusions = {k: v for k, v in shipped.exclusions.items() if k != "adult_channels_missing"}
    start = timezone.now() - timedelta(days=3)
    PolicyDraft.from_version(shipped, version="72h", full_refund_window_hours=72, exclusions=exclusions).as_version(
        effective_from=start).save()
    PolicyDraft.from_version(shipped, version="later", full_refund_window_hours=24).as_version(
        effective_from=timezone.now() + timedelta(days=30)).save()
    text = text_of(customer.get("/portal/iptv-smarters-pro/policy/"))
    current, _, rest = text.partition("A new version is coming")
    assert f"In force since {start:%-d %B %Y}" in current
    assert "within 72 hours of the original purchase" in current and "adult channels" not in current
    coming, _, earlier = rest.partition("Earlier versions")
    assert "within 24 hours of the original purchase" in coming
    assert f"In force from 1 January 2020 until {start:%-d %B %Y}" in earlier
    assert "within 48 hours of the original purchase" in earlier and "adult channels" in earlier


def test_it_links_the_policy_from_the_request_form(s0, customer):
    assert 'href="/portal/iptv-smarters-pro/policy/"' in customer.get("/portal/iptv-smarters-pro/").content.decode()


def test_it_answers_an_unknown_shop_with_a_page_not_a_crash(customer):
    response = customer.get("/portal/no-such-shop/policy/")
    assert response.status_code == 404
    assert "There is no shop at this address" in response.content.decode()
    assert customer.post("/portal/iptv-smarters-pro/policy/").status_code == 405
