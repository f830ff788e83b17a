"""The case page behind its link: the customer's words, what we need, the decision, the arrival window."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission

from cases import services
from cases.portal.words import STATE_WORDS, TRANSITION_WORDS
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
    assert "within 20 to 31 business days" in body and "up to 90 business days" in body  # S0-ARRIVAL
    assert "We cannot accelerate the processor" in body  # S0-NO-ACCELERATE
    assert "Send files" not in body  # closed: no uploads


def test_it_shows_the_s1_arrival_window(s1, manager, customer):
    case, secret = case_with_link(s1, order_kwargs={"delivered_at": None})
    services.case_approve(case=case, actor=manager)
    manager2 = type(manager).objects.create_user("payer", is_staff=True)
    manager2.user_permissions.add(Permission.objects.get(codename="pay_refundcase"))
    services.case_pay(case=case, actor=type(manager).objects.get(pk=manager2.pk), reference="BANK-8")
    body = page(customer, secret)
    assert "within 3 to 10 business days" in body and "Refunds usually appear within 3–10 business days" in body


def test_it_shows_a_denial_with_its_clause_in_plain_words(s1, agent, customer):
    case, secret = case_with_link(s1, reason="changed_mind")
    services.case_deny(case=case, actor=agent, reason="policy_exclusion")
    body = page(customer, secret)
    assert "Refund declined" in body and "does not cover a change of mind" in body
    assert "A list of situations not eligible for a refund" in body
    assert "missing from the copy" not in body
