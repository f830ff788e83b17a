"""The case page behind its link: the customer's words, what we need, the decision, the arrival window."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission

from cases import services
from cases.customer_words import STATE_WORDS, TRANSITION_WORDS
from cases.states import State
from tests.portal.conftest import case_url, case_with_link

pytestmark = pytest.mark.django_db


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def page(client, secret) -> str:
    response = client.get(case_url(secret))
    assert response.status_code == 200
    return response.content.decode()


def test_it_has_customer_words_for_every_state():
    assert set(STATE_WORDS) == set(State.values)


def test_it_shows_the_status_and_what_the_policy_says_so_far_in_customer_words(s0, customer):
    case, secret = case_with_link(s0, description="No picture since Monday.")
    body = page(customer, secret)
    assert "We are reviewing your request" in body
    assert "requested within 48 hours of purchase, so it is refunded in full" in body
    assert "Refunds must be requested within 48 h of purchase" in body  # the clause in plain words
    assert "No picture since Monday." in body and "You asked for a refund" in body
    text = visible_text(body)
    for code in ("S0-WINDOW", "full_refund", "other", "Requested"):
        assert code not in text
    response = customer.get(case_url(secret))
    assert response["Referrer-Policy"] == "same-origin" and "no-store" in response["Cache-Control"]


def test_it_shows_the_agents_evidence_request_and_the_due_date(s0, agent, customer):
    case, secret = case_with_link(s0)
    services.case_request_evidence(case=case, actor=agent, message="Send a photo of the error on your TV.")
    body = page(customer, secret)
    assert "We need something from you" in body
    assert "What we need from you" in body and "Send a photo of the error on your TV." in body
    assert str(TRANSITION_WORDS["request_evidence"]) in body


def test_it_never_shows_internal_notes(s0, agent, customer):
    case, secret = case_with_link(s0)
    services.case_comment(case=case, actor=agent, comment="Customer seems to abuse refunds.")
    services.case_approve(case=case, actor=agent, note="Internal: approved inside the window.")
    body = page(customer, secret)
    assert "abuse" not in body and "Internal: approved" not in body
    assert "Refund approved" in body and "59.99 USD" in body


def test_it_shows_the_arrival_window_once_paid_and_that_it_cannot_be_sped_up(s0, agent, manager, customer):
    case, secret = case_with_link(s0, order_kwargs={"payment_method": "card"})
    services.case_approve(case=case, actor=agent)
    services.case_pay(case=case, actor=manager, reference="BANK-7")
    body = page(customer, secret)
    assert "Refund sent" in body and "When the money arrives" in body
    # S0-ARRIVAL and S0-NO-ACCELERATE in the version's words, each said once; the dates are the payout's
    text = " ".join(visible_text(body).split())
    assert text.count("Card refunds take 20–31 business days, up to 90; processor refunds 20–90 business days") == 1
    assert text.count("We cannot accelerate the processor") == 1
    assert text.count("business days") == 2 and "It should reach your account by" in text
    assert "Send files" not in body  # closed: no uploads


def test_it_shows_the_s1_arrival_window(s1, manager, customer):
    case, secret = case_with_link(s1, order_kwargs={"delivered_at": None})
    services.case_approve(case=case, actor=manager)
    manager2 = type(manager).objects.create_user("payer", is_staff=True)
    manager2.user_permissions.add(Permission.objects.get(codename="pay_refundcase"))
    services.case_pay(case=case, actor=type(manager).objects.get(pk=manager2.pk), reference="BANK-8")
    body = page(customer, secret)
    text = " ".join(visible_text(body).split())
    assert text.count("Refunds usually appear within 3–10 business days") == 1
    assert text.count("business days") == 1 and "It should reach your account by" in text


def test_it_shows_a_denial_with_its_clause_in_plain_words(s1, agent, customer):
    case, secret = case_with_link(s1, reason="changed_mind")
    services.case_deny(case=case, actor=agent, reason="policy_exclusion")
    body = page(customer, secret)
    assert "Refund declined" in body and "does not cover a change of mind" in body
    assert "A list of situations not eligible for a refund" in body
    assert "missing from the copy" not in body


def test_it_quotes_a_clause_with_the_numbers_of_the_version_that_judged_the_case(s0, customer):
    from datetime import timedelta

    from django.utils import timezone

    from policies.models import PolicyDraft, PolicyVersion

    shipped = PolicyVersion.objects.get(storefront=s0)
    # In force for the order below (saved directly: through the admin a start lies in the future).
    PolicyDraft.from_version(shipped, version="72h", full_refund_window_hours=72).as_version(
        effective_from=timezone.now() - timedelta(days=1)).save()
    case, secret = case_with_link(s0)
    text = " ".join(visible_text(page(customer, secret)).split())
    assert "Refunds must be requested within 72 h of purchase; full refunds only for requests within 72 h" in text
    assert "48 h" not in text


def test_it_quotes_only_the_cases_own_storefront_clauses_and_the_house_rules(s0, s1):
    from cases.customer_words import clause_words
    from policies.selectors import policy_version_for
    from tests.conftest import at

    p0 = policy_version_for(storefront_id=s0.pk, purchased_at=at("2026-01-01 10:00")).to_policy()
    words = clause_words(["S0-WINDOW", "S1-STATUTORY", "S1-NOT-ELIGIBLE", "H-CAP", "S0-WINDOW"], policy=p0)
    assert words == ["Refunds must be requested within 48 h of purchase; full refunds only for requests within 48 h",
                     "We never refund more than what is left of what you paid."]
