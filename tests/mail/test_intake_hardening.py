"""S0-REQUEST intake against hostile and robotic mail: NUL bytes, forged senders, auto-replies,
redeliveries and implausible Date headers."""

from datetime import timedelta

import pytest

from cases.models import CaseEvent, RefundCase
from mail.intake import intake_email
from mail.models import IntakeMessage
from tests.conftest import at, make_order

RECEIVED = at("2026-01-02 08:00")


def send(s0, order, **kwargs):
    kwargs.setdefault("sender", "kim@example.com")
    kwargs.setdefault("subject", "Refund Request")
    kwargs.setdefault("body", f"order #{order.number} does not work")
    kwargs.setdefault("received_at", RECEIVED)
    return intake_email(storefront=s0, **kwargs)


@pytest.fixture
def order(s0):
    return make_order(s0, email="kim@example.com", purchased_at=at("2026-01-01 10:00"))


def _opens_a_case_despite_a_nul_byte(s0, order):
    result = send(s0, order, body=f"order #{order.number}\x00 broken\x00", subject="Refund Request\x00")
    assert result.case is not None
    assert result.case.description == f"order #{order.number} broken"


def test_it_opens_a_case_despite_a_nul_byte_in_the_body(s0, order):
    _opens_a_case_despite_a_nul_byte(s0, order)


@pytest.mark.postgres
def test_it_opens_a_case_despite_a_nul_byte_in_the_body_on_postgres(s0, order):
    _opens_a_case_despite_a_nul_byte(s0, order)


@pytest.mark.parametrize("results", [
    "mx.example.net; dmarc=fail (p=reject) header.from=example.com",
    "mx.example.net; dkim=fail header.d=example.com; spf=pass smtp.mailfrom=example.com",
    "mx.example.net; spf=fail smtp.mailfrom=kim@example.com",
    "mx.example.net; dmarc=fail",
])
def test_it_opens_nothing_and_answers_nothing_when_the_sender_fails_authentication(
    s0, order, results, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = send(s0, order, headers={"Authentication-Results": results})
    assert result.case is None and not result.replied
    assert result.reason == "sender authentication failed"
    assert RefundCase.objects.count() == 0
    assert mailoutbox == []


def test_it_ignores_a_failure_for_another_domain(s0, order):
    """A mailing list's broken signature says nothing about the sender."""
    result = send(s0, order, headers={
        "Authentication-Results": "mx.example.net; dkim=fail header.d=lists.example.org; dmarc=pass header.from=example.com"
    })
    assert result.case is not None


@pytest.mark.parametrize("headers", [
    {"X-Auto-Response-Suppress": "All"},
    {"X-MS-Exchange-Generated-Message-Source": "Mailbox Rules Agent"},
    {"X-MS-Exchange-Inbox-Rules-Loop": "kim@example.com"},
    {"X-Autorespond": "yes"},
    {"X-Autoreply": "yes"},
    {"Precedence": "list"},
    {"Precedence": "bulk"},
    {"Precedence": "junk"},
    {"List-Id": "<customers.example.com>"},
    {"Auto-Submitted": "auto-generated"},
    {"Auto-Submitted": "auto-notified; owner-email=kim@example.com"},
])
def test_it_does_not_answer_robots(s0, headers, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = intake_email(storefront=s0, sender="kim@example.com", subject="Automatic reply: Out of office",
                              body="I am away.", headers=headers)
    assert result.case is None and not result.replied
    assert mailoutbox == []


def test_it_still_answers_a_person_who_says_auto_submitted_no(s0, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = intake_email(storefront=s0, sender="kim@example.com", subject="Help", body="Hi",
                              headers={"Auto-Submitted": "no"})
    assert result.replied and len(mailoutbox) == 1


def test_it_marks_its_own_mail_as_automatic_and_keeps_the_marker_out_of_subjects(
    s0, order, mailoutbox, django_capture_on_commit_callbacks
):
    """Ten robots answering our mail used to get ten answers: our subjects carried the marker."""
    with django_capture_on_commit_callbacks(execute=True):
        send(s0, order, subject="Refund Request", body="no order number here")  # asks for the order
        send(s0, order)  # opens the case: acknowledgement
    assert len(mailoutbox) == 2
    for message in mailoutbox:
        assert "refund request" not in message.subject.lower()
        assert message.extra_headers["Auto-Submitted"] == "auto-replied"
    # A robot quoting our subjects back opens nothing and gets no answer.
    for message in list(mailoutbox):
        with django_capture_on_commit_callbacks(execute=True):
            echo = intake_email(storefront=s0, sender="kim@example.com", subject=f"Re: {message.subject}",
                                body=message.body, headers={"Auto-Submitted": "auto-replied"})
        assert echo.case is None and not echo.replied
    assert len(mailoutbox) == 2


def test_it_marks_state_change_mail_auto_generated(s0, order, manager, mailoutbox, django_capture_on_commit_callbacks):
    from cases.notifications import send_case_email

    case = send(s0, order).case
    with django_capture_on_commit_callbacks(execute=True):
        send_case_email(case_id=case.pk, template="withdrawn")
    assert mailoutbox[-1].extra_headers["Auto-Submitted"] == "auto-generated"
    assert "refund request" not in mailoutbox[-1].subject.lower()


def test_it_treats_a_second_delivery_of_the_same_message_as_a_no_op(
    s0, order, mailoutbox, django_capture_on_commit_callbacks
):
    headers = {"Message-ID": "<abc123@mail.example.com>"}
    with django_capture_on_commit_callbacks(execute=True):
        first = send(s0, order, headers=headers)
    RefundCase.objects.filter(pk=first.case.pk).update(state="withdrawn")  # closed: a new case would be allowed
    with django_capture_on_commit_callbacks(execute=True):
        second = send(s0, order, headers={"message-id": " <abc123@mail.example.com> "},
                      received_at=RECEIVED + timedelta(hours=1))
    assert second.case is None and not second.replied
    assert second.reason == "already processed"
    assert RefundCase.objects.count() == 1
    assert len(mailoutbox) == 1
    assert IntakeMessage.objects.get().case == first.case


def test_it_handles_a_redelivered_reply_once(s0, order, mailoutbox, django_capture_on_commit_callbacks):
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            send(s0, order, subject="Help", headers={"Message-ID": "<x@y>"})
    assert len(mailoutbox) == 1


@pytest.mark.clause("S0-WINDOW")
def test_it_never_takes_the_senders_date_as_the_request_time(s0):
    """Bought 60 h before we received the mail, the customer's Date says 40 h: the window follows our server."""
    order = make_order(s0, email="kim@example.com", purchased_at=RECEIVED - timedelta(hours=60))
    result = send(s0, order, headers={"Date": "Thu, 01 Jan 2026 12:00:00 +0000"})
    case = result.case
    assert case.requested_at == RECEIVED
    assert case.decision["outcome"] == "partial_refund" and case.decision["clauses"] == ["S0-PARTIAL"]
    note = case.events.get(kind=CaseEvent.Kind.COMMENT)
    assert note.visibility == CaseEvent.Visibility.INTERNAL
    assert note.comment == (
        "The customer's mail says it was sent at 1 January 2026, 12:00 UTC. "
        "The request time is when it reached us, 2 January 2026, 08:00 UTC."
    )


@pytest.mark.parametrize("date", [
    "Fri, 02 Jan 2026 07:30:00 +0000",  # a plausible one is not used either
    "Sat, 03 Jan 2026 08:00:00 +0000",  # after we received it
    "Thu, 01 Jan 2026 09:00:00 +0000",  # before the order was placed
    "Wed, 31 Dec 2025 09:00:00 +0000",
    "not a date",
    "Fri, 02 Jan 2026 07:30:00",  # no zone
])
def test_it_uses_the_receive_time_whatever_the_sender_date_says(s0, order, date):
    result = send(s0, order, headers={"Date": date})
    assert result.case.requested_at == RECEIVED


def test_it_does_not_believe_a_date_long_before_receipt(s0):
    """A backdated Date must not move a late request into the 48 h window (S0-WINDOW)."""
    order = make_order(s0, email="kim@example.com", purchased_at=at("2025-12-30 10:00"))
    result = send(s0, order, headers={"Date": "Wed, 31 Dec 2025 09:00:00 +0000"})
    assert result.case.requested_at == RECEIVED
