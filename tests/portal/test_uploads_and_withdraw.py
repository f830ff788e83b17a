"""Files and withdrawal through the link: per-file answers, back to review on evidence, rate limits."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases import services
from cases.models import CaseEvent, Evidence, RefundCase
from cases.states import State
from tests.portal.conftest import case_url, case_with_link, png

pytestmark = pytest.mark.django_db


def upload(client, secret, *files):
    return client.post(case_url(secret, "upload"), {"files": list(files)})


def test_it_answers_each_file_on_the_case_page_after_a_redirect(s0, customer):
    case, secret = case_with_link(s0)
    bad = SimpleUploadedFile("fake.png", b"<html>not an image</html>", content_type="image/png")
    response = upload(customer, secret, png("good.png"), bad)
    assert response.status_code == 303 and response["Location"] == case_url(secret)
    body = customer.get(response["Location"]).content.decode()
    assert "good.png" in body and "received" in body
    assert "fake.png" in body and "not accepted" in body
    assert list(case.evidence.values_list("original_name", flat=True)) == ["good.png"]  # the refused one stored nothing
    # The answer is shown once.
    assert "not accepted" not in customer.get(case_url(secret)).content.decode()


def test_it_puts_a_case_waiting_for_evidence_back_in_review_flagged_for_the_assignee(s0, agent, customer):
    case, secret = case_with_link(s0, assignee=agent)
    services.case_request_evidence(case=case, actor=agent, message="A screenshot, please.")
    upload(customer, secret, png())
    case.refresh_from_db()
    assert case.state == State.REQUESTED
    assert case.flagged and case.flag_reason == "Customer sent evidence"
    event = case.events.get(transition="evidence_received")
    assert event.actor is None and event.actor_label == "customer"
    assert event.visibility == CaseEvent.Visibility.CUSTOMER and event.data["link"].startswith("…")


def test_it_keeps_a_case_in_review_when_only_refused_files_arrive(s0, agent, customer):
    case, secret = case_with_link(s0)
    services.case_request_evidence(case=case, actor=agent, message="A screenshot, please.")
    upload(customer, secret, SimpleUploadedFile("empty.png", b"", content_type="image/png"))
    case.refresh_from_db()
    assert case.state == State.EVIDENCE_REQUESTED


def test_it_refuses_uploads_to_a_closed_case(s0, agent, customer):
    case, secret = case_with_link(s0)
    services.case_deny(case=case, actor=agent, reason="other", note="Not covered.")
    response = upload(customer, secret, png())
    assert response.status_code == 303
    assert "closed" in customer.get(case_url(secret)).content.decode()
    assert not case.evidence.exists()


def test_it_refuses_more_files_than_one_post_takes_and_stores_none(s0, customer):
    case, secret = case_with_link(s0)
    upload(customer, secret, *[png(f"{i}.png", size=(10 + i, 10)) for i in range(11)])
    assert not case.evidence.exists()


def test_it_lets_the_customer_withdraw_an_open_request(s0, customer, mailoutbox, django_capture_on_commit_callbacks):
    case, secret = case_with_link(s0)
    with django_capture_on_commit_callbacks(execute=True):
        response = customer.post(case_url(secret, "withdraw"), {"confirm": "on"})
    assert response.status_code == 303
    case.refresh_from_db()
    assert case.state == State.WITHDRAWN
    event = case.events.get(transition="withdraw")
    assert event.actor_label == "customer" and event.actor is None
    assert len(mailoutbox) == 1
    body = customer.get(case_url(secret)).content.decode()
    assert "Withdrawn" in body and "Withdraw my request" not in body


def test_it_needs_the_confirmation_to_withdraw(s0, customer):
    case, secret = case_with_link(s0)
    customer.post(case_url(secret, "withdraw"), {})
    case.refresh_from_db()
    assert case.state == State.REQUESTED


def test_it_does_not_let_the_customer_cancel_an_approval(s0, agent, customer):
    case, secret = case_with_link(s0)
    services.case_approve(case=case, actor=agent)
    customer.post(case_url(secret, "withdraw"), {"confirm": "on"})
    case.refresh_from_db()
    assert case.state == State.APPROVED


def test_it_refuses_a_forged_upload_or_withdrawal_without_csrf(s0):
    from django.test import Client

    case, secret = case_with_link(s0)
    forger = Client(enforce_csrf_checks=True)
    assert forger.post(case_url(secret, "upload"), {"files": [png()]}).status_code == 403
    assert forger.post(case_url(secret, "withdraw"), {"confirm": "on"}).status_code == 403
    case.refresh_from_db()
    assert case.state == State.REQUESTED and not case.evidence.exists()


def test_it_answers_get_on_the_post_only_addresses_with_405(s0, customer):
    _, secret = case_with_link(s0)
    assert customer.get(case_url(secret, "upload")).status_code == 405
    assert customer.get(case_url(secret, "withdraw")).status_code == 405


def test_it_limits_uploads_per_case_with_a_429_page(s0, customer, settings):
    settings.PORTAL_RATE_LIMITS = {"upload_case": (2, 3600)}
    case, secret = case_with_link(s0)
    upload(customer, secret, png("1.png", size=(11, 11)), png("2.png", size=(12, 12)))
    response = upload(customer, secret, png("3.png", size=(13, 13)))
    assert response.status_code == 429 and "Retry-After" in response
    assert "Too many tries" in response.content.decode()
    assert case.evidence.count() == 2


def test_it_limits_the_request_form_per_address_and_per_email(s0, customer, settings):
    from django.urls import reverse

    settings.PORTAL_RATE_LIMITS = {"request_ip": (3, 3600), "request_email": (2, 3600)}
    url = reverse("portal:request", args=[s0.slug])
    data = {"order_number": "NOPE", "reason": "other"}
    codes = [customer.post(url, {**data, "email": "same@example.com"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    # A fourth e-mail from the same address hits the per-address limit.
    assert customer.post(url, {**data, "email": "other@example.com"}).status_code == 429
    assert RefundCase.objects.count() == 0


def test_it_limits_link_requests_per_case_without_changing_the_page(
    s0, customer, settings, mailoutbox, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    settings.PORTAL_RATE_LIMITS = {"link_case": (1, 3600)}
    case, _ = case_with_link(s0)
    url = reverse("portal:link", args=[s0.slug])
    data = {"order_number": case.order.number, "email": case.order.customer.email}
    with django_capture_on_commit_callbacks(execute=True):
        first = customer.post(url, data)
        second = post_from_elsewhere(url, data)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert len(mailoutbox) == 1


def post_from_elsewhere(url, data):
    from django.test import Client

    return Client(REMOTE_ADDR="10.0.0.9").post(url, data)


def test_it_limits_link_requests_per_address_with_a_429(s0, customer, settings):
    from django.urls import reverse

    settings.PORTAL_RATE_LIMITS = {"link_email": (1, 3600)}
    url = reverse("portal:link", args=[s0.slug])
    data = {"order_number": "X", "email": "a@example.com"}
    assert customer.post(url, data).status_code == 200
    assert customer.post(url, data).status_code == 429


def test_it_keeps_the_file_evidence_visible_to_the_agent(s0, agent, customer):
    from tests.admin.conftest import client_for

    case, secret = case_with_link(s0)
    upload(customer, secret, png("tv.png"))
    evidence = Evidence.objects.get(case=case)
    assert evidence.from_customer
    page = client_for(agent).get(f"/admin/cases/refundcase/{case.pk}/change/").content.decode()
    assert f"/evidence/{evidence.pk}/thumbnail/" in page


def test_it_answers_a_request_with_too_many_files_with_the_form_and_a_message(s0, customer):
    from django.urls import reverse

    from tests.portal.conftest import recent_order

    order = recent_order(s0)
    data = {"order_number": order.number, "email": order.customer.email, "reason": "other",
            "screenshots": [png(f"{i}.png", size=(10 + i, 10)) for i in range(12)]}
    response = customer.post(reverse("portal:request", args=[s0.slug]), data)
    assert response.status_code == 400
    assert "Send at most 10 files at a time." in response.content.decode()
    assert not RefundCase.objects.exists()


def test_it_answers_files_too_large_together_on_the_case_page_and_stores_none(s0, customer, settings):
    settings.EVIDENCE_MAX_BYTES = 20_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5_000  # a body of at most 10 × 20,000 + 5,000 bytes
    case, secret = case_with_link(s0)
    padded = [SimpleUploadedFile(f"{i}.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 19_000, content_type="image/png")
              for i in range(11)]
    response = upload(customer, secret, *padded)
    assert response.status_code == 303
    body = customer.get(response["Location"]).content.decode()
    assert "The files sent together are larger than the 205,000 bytes limit" in body
    assert not case.evidence.exists()
