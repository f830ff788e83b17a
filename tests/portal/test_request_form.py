"""The request form: one answer for every order number, a case for the real one, its link by mail."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from cases.customer_words import REASON_WORDS
from cases.models import CaseEvent, Evidence, RefundCase
from cases.states import Channel
from rules.engine import REASONS
from tests.portal.conftest import links_in, png, recent_order

pytestmark = pytest.mark.django_db
CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def request_url(storefront) -> str:
    return reverse("portal:request", args=[storefront.slug])


def post_request(client, storefront, order=None, **fields):
    data = {
        "order_number": order.number if order else "NOPE-1", "email": order.customer.email if order else "x@example.com",
        "reason": "other", "description": "It stopped working.", **fields,
    }
    return client.post(request_url(storefront), data)


def test_it_shows_the_form_in_the_storefronts_name_with_customer_words(s0, customer):
    response = customer.get(request_url(s0))
    body = response.content.decode()
    assert response.status_code == 200
    assert "IPTV Smarters Pro" in body and "Request a refund" in body
    assert "Charged twice" in body and "I never received my access details" in body
    for field in ("order_number", "email", "reason", "description", "screenshots", "csrfmiddlewaretoken"):
        assert f'name="{field}"' in body
    # Reason codes are values, never words on the page.
    assert ">technical_issue<" not in body and "Technical issue" not in body


def test_it_has_customer_words_for_every_reason_the_engine_knows():
    assert set(REASON_WORDS) == set(REASONS)


def test_it_shows_the_policys_answer_from_the_engine_before_submitting(s0, s1, customer):
    s0_page = customer.get(request_url(s0)).content.decode()
    # S0-WINDOW in the policy's own words, next to the engine's outcome for a request soon after buying.
    assert "Asked soon after buying" in s0_page and "Refunded in full" in s0_page
    assert "Refunds must be requested within 48 h of purchase" in s0_page
    assert "No refund when the customer changes their mind" in s0_page
    s1_page = customer.get(request_url(s1)).content.decode()
    assert "A support manager decides" in s1_page
    assert "S0-" not in s0_page and "S1-" not in s1_page  # clause IDs are ours, not the customer's


def test_it_opens_one_portal_case_and_mails_its_link_to_the_orders_address(
    s0, customer, mailoutbox, django_capture_on_commit_callbacks
):
    order = recent_order(s0, email="buyer@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_request(customer, s0, order, email="BUYER@example.com", reason="not_delivered")
    assert response.status_code == 200
    case = RefundCase.objects.get(order=order)
    assert case.channel == Channel.PORTAL and case.reason == "not_delivered"
    assert case.description == "It stopped working."
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["buyer@example.com"]
    assert s0.support_email in message.from_email
    [link] = links_in(mailoutbox)
    page = customer.get(link)
    assert page.status_code == 200 and case.number in page.content.decode()


def test_it_stores_the_screenshots_sent_with_the_request(s0, customer, django_capture_on_commit_callbacks):
    order = recent_order(s0)
    with django_capture_on_commit_callbacks(execute=True):
        post_request(customer, s0, order, screenshots=[png("one.png"), png("two.png", size=(30, 30))])
    case = RefundCase.objects.get(order=order)
    assert Evidence.objects.filter(case=case, from_customer=True).count() == 2


def test_it_answers_a_real_and_a_fake_order_with_the_same_page(s0, mailoutbox, django_capture_on_commit_callbacks):
    order = recent_order(s0)
    answers = []
    for fields in (
        {"order_number": order.number, "email": order.customer.email},  # real
        {"order_number": order.number, "email": "someone-else@example.com"},  # real order, wrong e-mail
        {"order_number": "T999999", "email": order.customer.email},  # no such order
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post(request_url(s0), {"reason": "other", "description": "x", **fields})
        answers.append((response.status_code, CSRF.sub(b"", response.content), sorted(response.headers.keys())))
    assert answers[0][0] == 200
    # The page echoes the e-mail typed in; with the same e-mail typed, the pages are byte for byte the same.
    assert answers[0] == answers[2]
    assert answers[1][0] == answers[0][0] and answers[1][2] == answers[0][2]
    assert answers[1][1] == answers[0][1].replace(order.customer.email.encode(), b"someone-else@example.com")
    assert RefundCase.objects.filter(order=order).count() == 1
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [order.customer.email]


def test_it_opens_one_case_when_the_form_is_sent_twice(s0, customer, mailoutbox, django_capture_on_commit_callbacks):
    order = recent_order(s0)
    form = customer.get(request_url(s0)).content.decode()
    submission = re.search(r'name="submission" value="([^"]+)"', form).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        first = post_request(customer, s0, order, submission=submission)
        second = post_request(customer, s0, order, submission=submission)
    assert first.status_code == second.status_code == 200
    assert RefundCase.objects.filter(order=order).count() == 1
    assert len(mailoutbox) == 1


def test_it_acts_on_the_same_form_sent_again_with_corrected_details(
    s0, customer, mailoutbox, django_capture_on_commit_callbacks
):
    order = recent_order(s0)
    form = customer.get(request_url(s0)).content.decode()
    submission = re.search(r'name="submission" value="([^"]+)"', form).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        # A typo in the address, then Back, correct it and send the same form again.
        post_request(customer, s0, order, submission=submission, email="typo-" + order.customer.email)
        post_request(customer, s0, order, submission=submission)
    assert RefundCase.objects.filter(order=order).count() == 1
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [order.customer.email]


def test_it_joins_a_second_request_to_the_open_case(s0, customer, mailoutbox, django_capture_on_commit_callbacks):
    order = recent_order(s0)
    with django_capture_on_commit_callbacks(execute=True):
        post_request(customer, s0, order)
        post_request(customer, s0, order, description="Still broken today.")
    case = RefundCase.objects.get(order=order)
    assert case.flagged and "again" in case.flag_reason
    assert case.events.filter(kind=CaseEvent.Kind.COMMENT, comment="Still broken today.").exists()
    assert len(links_in(mailoutbox)) == 2  # each answer carries a working link


def test_it_refuses_a_forged_post_without_the_csrf_token(s0):
    order = recent_order(s0)
    forger = Client(enforce_csrf_checks=True)
    response = forger.post(request_url(s0), {"order_number": order.number, "email": order.customer.email,
                                             "reason": "other"})
    assert response.status_code == 403
    assert not RefundCase.objects.filter(order=order).exists()


@pytest.mark.parametrize("fields", [
    {"reason": "not_a_reason"},
    {"email": "not-an-address"},
    {"order_number": ""},
    {"description": "x" * 5000},
])
def test_it_answers_bad_input_with_a_400_page_and_no_case(s0, customer, fields):
    order = recent_order(s0)
    response = post_request(customer, s0, order, **fields)
    assert response.status_code == 400
    assert "Please check the form" in response.content.decode()
    assert not RefundCase.objects.filter(order=order).exists()


def test_it_answers_an_unknown_storefront_with_a_404_page(db, customer):
    response = customer.get("/portal/no-such-shop/")
    assert response.status_code == 404
    assert "no shop at this address" in response.content.decode()
