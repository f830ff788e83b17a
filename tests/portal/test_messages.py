"""The case page is a conversation: the customer writes, with or without files, and staff are told."""

from __future__ import annotations

import pytest
from django.test import Client

from cases import services
from cases.customer_links import case_link_revoke
from cases.models import CaseEvent, RefundCase
from cases.states import State
from portal.forms import MAX_MESSAGE_LENGTH
from tests.admin.conftest import case_url as staff_url
from tests.admin.conftest import client_for
from tests.portal.conftest import case_url, case_with_link, png

pytestmark = pytest.mark.django_db


def write(client, secret, message="", *files):
    data = {"message": message}
    if files:
        data["files"] = list(files)
    return client.post(case_url(secret, "message"), data)


def customer_messages(case) -> list[str]:
    return list(case.events.filter(kind=CaseEvent.Kind.COMMENT, actor_label="customer").values_list("comment", flat=True))


def test_it_adds_the_message_to_the_history_and_marks_it_new_for_the_assignee(s0, agent, customer):
    case, secret = case_with_link(s0, assignee=agent)

    response = write(customer, secret, "It works on my phone but not on the TV.")

    assert response.status_code == 303 and response["Location"] == case_url(secret)
    page = customer.get(response["Location"]).content.decode()
    assert "Your message was sent" in page
    assert "It works on my phone but not on the TV." in page and "You wrote" in page
    event = case.events.get(kind=CaseEvent.Kind.COMMENT)
    assert event.visibility == CaseEvent.Visibility.CUSTOMER and event.actor is None
    case.refresh_from_db()
    assert case.customer_wrote_at is not None
    assert case.state == State.REQUESTED  # a message alone moves nothing


def test_it_takes_a_message_with_files_and_answers_each_file(s0, customer):
    case, secret = case_with_link(s0)

    response = write(customer, secret, "Here is the error.", png("error.png"))

    page = customer.get(response["Location"]).content.decode()
    assert "error.png" in page and "received" in page
    assert customer_messages(case) == ["Here is the error."]
    assert list(case.evidence.values_list("original_name", flat=True)) == ["error.png"]


def test_it_takes_files_without_a_message(s0, customer):
    case, secret = case_with_link(s0)
    write(customer, secret, "", png("only.png"))
    assert customer_messages(case) == []
    assert case.evidence.count() == 1
    assert RefundCase.objects.get(pk=case.pk).customer_wrote_at is None  # files alone are not a message


def test_it_refuses_an_empty_message_with_a_clear_answer(s0, customer):
    case, secret = case_with_link(s0)
    response = write(customer, secret, "   ")
    assert response.status_code == 400
    assert "Write a message or choose a file to send." in response.content.decode()
    assert not case.events.filter(kind=CaseEvent.Kind.COMMENT).exists()


def test_it_refuses_a_message_over_the_length_cap_and_keeps_the_text(s0, customer):
    case, secret = case_with_link(s0)
    long_text = "a" * (MAX_MESSAGE_LENGTH + 1)

    response = write(customer, secret, long_text)

    assert response.status_code == 400
    body = response.content.decode()
    assert f"{MAX_MESSAGE_LENGTH} characters at most" in body and f"it has {MAX_MESSAGE_LENGTH + 1}" in body
    assert long_text in body  # the text comes back, to shorten
    assert not case.events.filter(kind=CaseEvent.Kind.COMMENT).exists()
    assert write(customer, secret, "a" * MAX_MESSAGE_LENGTH).status_code == 303


def test_it_limits_messages_per_case(s0, customer, settings):
    settings.PORTAL_RATE_LIMITS = {"message_case": (2, 3600)}
    case, secret = case_with_link(s0)
    assert write(customer, secret, "one").status_code == 303
    assert write(customer, secret, "two").status_code == 303

    response = write(customer, secret, "three")

    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many" in response.content.decode()
    assert customer_messages(case) == ["one", "two"]


def test_it_answers_an_evidence_request_that_asks_for_words(s0, agent, customer):
    case, secret = case_with_link(s0, assignee=agent)
    services.case_request_evidence(case=case, actor=agent, message="Which device do you watch on?")
    assert "Which device do you watch on?" in customer.get(case_url(secret)).content.decode()

    write(customer, secret, "A Samsung TV, with the Smarters app.")

    case.refresh_from_db()
    assert case.state == State.REQUESTED
    assert case.flagged and case.customer_wrote_at is not None
    answered = case.events.get(transition="evidence_received")
    assert answered.actor_label == "customer"


def test_it_does_nothing_for_a_forged_post_to_a_token_that_is_not_a_live_link(s0, agent, customer):
    mine, my_secret = case_with_link(s0)
    other, other_secret = case_with_link(s0)
    case_link_revoke(case=other, actor=agent)

    made_up = write(customer, my_secret[:-4] + "abcd", "Let me in.")
    revoked = write(customer, other_secret, "Let me in.")

    assert made_up.status_code == 404 and revoked.status_code == 410
    assert customer_messages(mine) == [] and customer_messages(other) == []
    assert not RefundCase.objects.filter(customer_wrote_at__isnull=False).exists()


def test_it_refuses_a_message_without_the_csrf_token(s0):
    case, secret = case_with_link(s0)
    response = write(Client(enforce_csrf_checks=True), secret, "No token.")
    assert response.status_code == 403
    assert customer_messages(case) == []


def test_it_lets_the_customer_write_on_a_closed_case_but_not_send_files(s0, agent, customer):
    case, secret = case_with_link(s0)
    services.case_deny(case=case, actor=agent, reason="other", note="Not covered.")
    page = customer.get(case_url(secret)).content.decode()
    assert "Write to us" in page and 'name="files"' not in page

    assert write(customer, secret, "Why not?").status_code == 303
    files = write(customer, secret, "And a file.", png())

    assert files.status_code == 400 and "closed" in files.content.decode()
    assert customer_messages(case) == ["Why not?"] and not case.evidence.exists()


def test_it_clears_the_new_message_mark_when_the_assignee_opens_the_case(s0, agent, agent2, customer):
    case, secret = case_with_link(s0, assignee=agent)
    write(customer, secret, "Hello?")

    other = client_for(agent2).get(staff_url(case))
    assert "nobody has answered yet" in other.content.decode()
    assert RefundCase.objects.get(pk=case.pk).customer_wrote_at is not None  # not the assignee
    client_for(agent).get(staff_url(case))

    assert RefundCase.objects.get(pk=case.pk).customer_wrote_at is None


def test_it_clears_the_new_message_mark_when_staff_answer_the_customer(s0, agent, agent2, customer):
    case, secret = case_with_link(s0, assignee=agent)
    write(customer, secret, "Hello?")
    client_for(agent2).post(staff_url(case, "comment"), {"comment": "Looking into it.", "customer_visible": "on"})
    assert RefundCase.objects.get(pk=case.pk).customer_wrote_at is None


def test_it_keeps_the_mark_after_an_internal_note(s0, agent, agent2, customer):
    case, secret = case_with_link(s0, assignee=agent)
    write(customer, secret, "Hello?")
    client_for(agent2).post(staff_url(case, "comment"), {"comment": "Asked the streaming team."})
    assert RefundCase.objects.get(pk=case.pk).customer_wrote_at is not None


def test_it_renders_one_event_in_the_customers_words_and_in_staff_words(s0, agent, customer):
    case, secret = case_with_link(s0, assignee=agent)
    services.case_request_evidence(case=case, actor=agent, message="Which device do you watch on?")
    write(customer, secret, "A Samsung TV.", png("tv.png"))

    mine = customer.get(case_url(secret)).content.decode()
    staff = client_for(agent).get(staff_url(case)).content.decode()

    assert "You wrote" in mine and "You sent a file" in mine
    assert "You sent the information we asked for" in mine
    assert "The customer" not in mine
    assert "The customer sent a message" in staff and "The customer sent a file" in staff
    assert "The customer sent what was asked for" in staff
    assert "You sent" not in staff and "You wrote" not in staff
    assert staff.count("A Samsung TV.") == 1  # the message itself, once


def test_it_sends_nothing_when_the_files_are_too_large_together(s0, customer, settings):
    """The upload handler stops reading such a body; the words that came with it are not sent alone."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.EVIDENCE_MAX_BYTES = 20_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5_000
    case, secret = case_with_link(s0)
    padded = [SimpleUploadedFile(f"{i}.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 19_000, content_type="image/png")
              for i in range(11)]

    response = write(customer, secret, "Here are my screenshots.", *padded)

    assert response.status_code == 400
    assert "The files sent together are larger than" in response.content.decode()
    assert customer_messages(case) == []
    assert not case.evidence.exists()
