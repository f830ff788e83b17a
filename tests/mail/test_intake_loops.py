"""Mail loops: robots without RFC 3834 headers, our own addresses and delivery reports get no reply,
and nobody gets more than one "we need the details" reply a day."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from cases.models import OutboxMessage, RefundCase
from mail.intake import intake_email
from mail.models import IntakeMessage, IntakeReply
from tests.conftest import race
from tests.mail.mail_builders import deliver_to_maildir, make_maildir, refund_mail

pytestmark = pytest.mark.clause("S0-REQUEST")


def write(storefront, sender, n=0, **kwargs):
    kwargs.setdefault("headers", {"Message-ID": f"<ticket-{n}@helpdesk.example>"})
    return intake_email(storefront=storefront, sender=sender, subject=kwargs.pop("subject", f"Ticket #{n} updated"),
                        body="Your ticket was updated.", **kwargs)


def test_it_answers_a_robot_without_auto_submitted_once_a_day(s0, s1, mailoutbox, django_capture_on_commit_callbacks):
    for n in range(8):
        cache.clear()  # the count lives in the database: a restart or another worker keeps it
        with django_capture_on_commit_callbacks(execute=True):
            result = write(s0 if n % 2 else s1, "tickets@helpdesk.example", n)
        assert result.replied == (n == 0)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["tickets@helpdesk.example"]
    assert IntakeMessage.objects.filter(outcome="missing subject; this sender was answered today").count() == 7
    assert IntakeReply.objects.get().sender == "tickets@helpdesk.example"


def test_it_answers_the_same_sender_again_on_another_day(s0, mailoutbox, django_capture_on_commit_callbacks):
    IntakeReply.objects.create(sender="kim@example.com", day=timezone.now().date() - timedelta(days=1), storefront=s0)
    with django_capture_on_commit_callbacks(execute=True):
        assert write(s0, "Kim@Example.com").replied
    assert len(mailoutbox) == 1


@pytest.mark.parametrize("sender", [
    "support@iptvsmarterspro.org",  # this storefront's support address
    "SUPPORT@smarterspro.example",  # the other storefront's
    "refunds@shop.example",  # DEFAULT_FROM_EMAIL
    "intake@mail.shop.example",  # the IMAP user of an intake mailbox
    "inbox@shop.example",  # a mailbox's address=
])
def test_it_never_answers_our_own_addresses(s0, s1, sender, settings, mailoutbox, django_capture_on_commit_callbacks):
    s1.support_email = "support@smarterspro.example"
    s1.save()
    settings.DEFAULT_FROM_EMAIL = "Refunds <refunds@shop.example>"
    settings.INTAKE_MAILBOXES = ["imaps://intake%40mail.shop.example:pw@imap.shop.example/INBOX",
                                 "maildir:///var/mail/support?address=inbox@shop.example"]
    with django_capture_on_commit_callbacks(execute=True):
        result = write(s0, sender, subject="Refund Request")
    assert not result.replied and result.reason == "sent from one of our own addresses"
    assert mailoutbox == [] and not RefundCase.objects.exists()


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.net", "postmaster@example.com"])
def test_it_never_answers_a_mail_servers_own_address(s0, sender, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = write(s0, sender, subject="Undelivered Mail Returned to Sender")
    assert not result.replied and result.reason == "delivery report"
    assert mailoutbox == []


def delivery_report(*, to: str) -> bytes:
    """A bounce as a mail server writes it (RFC 3464), from an address that is not MAILER-DAEMON."""
    return (
        "From: Mail Delivery System <robot@mx.example.net>\n"
        f"To: {to}\nSubject: Returned mail\nMessage-ID: <dsn-1@mx.example.net>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n\n'
        "--r\nContent-Type: text/plain\n\nYour message could not be delivered.\n"
        "--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: rfc822; nobody@example.com\nAction: failed\nStatus: 5.1.1\n"
        "--r--\n"
    ).encode()


def run(url: str) -> str:
    out = StringIO()
    call_command("ingest_mail", "--mailbox", url, "-v", "2", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_never_answers_delivery_reports_or_an_empty_return_path_from_a_mailbox(s0, tmp_path):
    maildir = make_maildir(tmp_path / "support")
    deliver_to_maildir(maildir, delivery_report(to=s0.support_email))
    for path in ("<>", "< >"):
        deliver_to_maildir(maildir, refund_mail(sender=f"bounce{len(path)}@mx.example.net", to=s0.support_email,
                                                headers={"Return-Path": path}))
    output = run(f"maildir://{maildir}")
    assert "processed 3" in output
    assert output.count("delivery report") == 1 and output.count("automatic message") == 2
    assert not OutboxMessage.objects.exists()


def test_it_never_answers_the_address_of_the_mailbox_it_reads(s0, tmp_path):
    maildir = make_maildir(tmp_path / "support")
    deliver_to_maildir(maildir, refund_mail(sender="inbox@shop.example", to=s0.support_email, body="a copy"))
    run(f"maildir://{maildir}?address=inbox@shop.example")
    assert not OutboxMessage.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_sends_one_reply_when_two_workers_answer_the_same_sender_at_once(s0):
    done, refused = race(lambda i: write(s0, "tickets@helpdesk.example", i), threads=4)
    assert sorted(result.replied for result in done) == [False, False, False, True]
    assert OutboxMessage.objects.filter(to="tickets@helpdesk.example").count() == 1
