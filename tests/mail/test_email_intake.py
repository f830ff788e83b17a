"""S0-REQUEST: refund e-mails open cases; anything else gets a reply asking for the order."""

import pytest

from cases.models import RefundCase
from mail.intake import intake_email
from tests.conftest import at, make_order

pytestmark = pytest.mark.clause("S0-REQUEST")


@pytest.mark.clause("S0-WINDOW")
def test_it_opens_a_case_for_a_refund_request_naming_the_senders_order(s0, mailoutbox, django_capture_on_commit_callbacks):
    order = make_order(s0, email="kim@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        result = intake_email(
            storefront=s0, sender="Kim@Example.com", subject="REFUND request",
            body=f"Hi, order #{order.number} does not work at all.", received_at=at("2026-01-02 08:00"),
        )
    assert result.case is not None and result.reason == "opened"
    assert result.case.order == order
    assert result.case.channel == "email"
    assert result.case.requested_at == at("2026-01-02 08:00")
    assert result.case.decision["clauses"] == ["S0-WINDOW"]
    assert [m.to for m in mailoutbox] == [["kim@example.com"]]
    assert "We received your request" in mailoutbox[0].subject


def test_it_replies_and_opens_nothing_without_the_subject(s0, mailoutbox, django_capture_on_commit_callbacks):
    order = make_order(s0, email="kim@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        result = intake_email(storefront=s0, sender="kim@example.com", subject="Help", body=f"order {order.number}")
    assert result.case is None and result.replied
    assert RefundCase.objects.count() == 0
    assert len(mailoutbox) == 1
    assert "Refund Request" in mailoutbox[0].body
    assert mailoutbox[0].from_email == "IPTV Smarters Pro <support@iptvsmarterspro.org>"


def test_it_replies_when_the_order_is_not_the_senders(s0, mailoutbox, django_capture_on_commit_callbacks):
    order = make_order(s0, email="kim@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        result = intake_email(
            storefront=s0, sender="someone@example.com", subject="Refund Request", body=f"order {order.number}"
        )
    assert result.case is None and result.reason == "missing order"
    assert RefundCase.objects.count() == 0
    assert "order number" in mailoutbox[0].body


def test_it_does_not_open_a_second_case_on_an_order_with_an_open_one(s0, django_capture_on_commit_callbacks):
    order = make_order(s0, email="kim@example.com")
    first = intake_email(storefront=s0, sender="kim@example.com", subject="Refund Request",
                         body=order.number, received_at=at("2026-01-02 08:00"))
    second = intake_email(storefront=s0, sender="kim@example.com", subject="Refund Request",
                          body=order.number, received_at=at("2026-01-02 09:00"))
    assert first.case is not None
    assert second.case is None and first.case.number in second.reason
    assert RefundCase.objects.count() == 1


def test_it_ignores_automatic_replies(s0, mailoutbox, django_capture_on_commit_callbacks):
    """An out-of-office answer to our own reply must not start a mail loop."""
    with django_capture_on_commit_callbacks(execute=True):
        result = intake_email(storefront=s0, sender="kim@example.com", subject="Out of office", body="Away.",
                              headers={"Auto-Submitted": "auto-replied"})
    assert result.case is None and not result.replied
    assert mailoutbox == []


def test_it_opens_emailed_cases_with_the_reason_still_to_confirm(s0):
    order = make_order(s0, email="kim@example.com")
    case = intake_email(storefront=s0, sender="kim@example.com", subject="Refund Request",
                        body=f"#{order.number}", received_at=at("2026-01-02 08:00")).case
    assert case.reason == "other" and case.reason_confirmed is False


def test_it_finds_the_marker_anywhere_in_the_subject(s0):
    order = make_order(s0, email="kim@example.com")
    result = intake_email(storefront=s0, sender="kim@example.com",
                          subject=f"Re: Refund Request - order #{order.number}", body="Please.",
                          received_at=at("2026-01-02 08:00"))
    assert result.case is not None and result.case.order == order


def test_it_only_matches_orders_of_the_mailbox_storefront(s0, s1, mailoutbox, django_capture_on_commit_callbacks):
    """Order numbers are unique per storefront only: a smarters-pro order mailed to s0 is unknown there."""
    other = make_order(s1, email="kim@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        result = intake_email(storefront=s0, sender="kim@example.com", subject="Refund Request",
                              body=f"order {other.number}")
    assert result.case is None and result.replied
    assert RefundCase.objects.count() == 0
    assert mailoutbox[0].from_email == "IPTV Smarters Pro <support@iptvsmarterspro.org>"
