"""Every portal page: translatable, CSP-clean (no inline script or style), labelled fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.portal.conftest import case_url, case_with_link

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pages(s0):
    _, secret = case_with_link(s0)
    return [reverse("portal:request", args=[s0.slug]), reverse("portal:link", args=[s0.slug]), case_url(secret)]


def test_it_has_no_inline_script_or_style_and_sends_the_sites_csp(pages, customer):
    for url in pages:
        response = customer.get(url)
        body = response.content.decode()
        assert response.status_code == 200
        assert "Content-Security-Policy" in response and "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
        assert "<style" not in body and " style=" not in body, url


def test_it_labels_every_field(pages, customer):
    for url in pages:
        body = customer.get(url).content.decode()
        ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', body)
        assert ids, url
        for field_id in ids:
            assert f'for="{field_id}"' in body, f"{url}: #{field_id} has no label"


def test_it_answers_in_the_language_the_catalogue_has(pages, customer):
    response = customer.get(pages[0], HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert response["Content-Language"] == "en"
    assert '<html lang="en">' in response.content.decode()


def test_it_ships_the_english_catalogue_with_the_portals_strings():
    catalogue = (ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    for text in ("Request a refund", "Send me my link again", "What we need from you", "Too many tries",
                 "Charged twice", "We are reviewing your request"):
        assert f'msgid "{text}"' in catalogue
