"""`manage.py ingest_mail` against a real IMAP server over TLS (dovecot, started by the tests)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from cases.models import OutboxMessage, RefundCase
from mail.ingest import ingest
from mail.mailboxes import parse_mailbox_url
from mail.models import IntakeFailure, IntakeMessage
from tests.conftest import image_bytes, race
from tests.mail.ingest import recent_order, run
from tests.mail.mail_builders import nested_mail, refund_mail

pytestmark = pytest.mark.clause("S0-REQUEST")



def folder_uids(server, folder: str) -> list[str]:
    with server.mailbox() as box:
        if not box.folder.exists(folder):
            return []
        box.folder.set(folder)
        return box.uids("ALL")


def append(server, raw: bytes) -> None:
    with server.mailbox() as box:
        box.append(raw, "INBOX")


def test_it_reads_a_real_imap_mailbox_and_moves_what_it_handled(s0, imap, media):
    order = recent_order(s0)
    append(imap, refund_mail(sender="kim@example.com", to=s0.support_email, body=f"Order #{order.number} froze.",
                             images=[("tv.png", image_bytes("PNG"))]))
    append(imap, refund_mail(sender="lee@example.com", to=s0.support_email, body="no order number"))
    append(imap, b"Subject: no sender at all\r\n\r\nhello\r\n")

    output = run(imap.url())

    assert "processed 2, already done 0, kept aside 1" in output
    case = RefundCase.objects.get(order=order)
    assert case.channel == "email" and case.evidence.count() == 1
    assert OutboxMessage.objects.filter(to="lee@example.com").exists()
    assert "no sender address" in IntakeFailure.objects.get().error
    assert folder_uids(imap, "INBOX") == []
    assert len(folder_uids(imap, "Processed")) == 2 and len(folder_uids(imap, "Failed")) == 1


def test_it_handles_a_message_delivered_twice_once(s0, imap):
    order = recent_order(s0)
    raw = refund_mail(sender="kim@example.com", to=s0.support_email, body=f"order {order.number}")
    append(imap, raw)
    run(imap.url())
    append(imap, raw)
    assert "processed 0, already done 1, kept aside 0" in run(imap.url())
    assert RefundCase.objects.filter(order=order).count() == 1
    assert len(folder_uids(imap, "Processed")) == 2


def test_it_can_flag_instead_of_moving(s0, imap):
    order = recent_order(s0)
    append(imap, refund_mail(sender="kim@example.com", to=s0.support_email, body=f"order {order.number}"))
    url = imap.url(processed="", failed="")
    assert "processed 1" in run(url)
    assert len(folder_uids(imap, "INBOX")) == 1  # still there, flagged as handled
    assert "processed 0, already done 0, kept aside 0" in run(url)
    assert RefundCase.objects.filter(order=order).count() == 1


def test_it_refuses_a_server_whose_certificate_it_cannot_verify(s0, imap):
    append(imap, refund_mail(sender="kim@example.com", to=s0.support_email))
    url = imap.url().split("?")[0]  # no cafile: the test server's certificate is not trusted
    with pytest.raises(CommandError, match="could not read 1 mailbox"):
        run(url)
    assert not IntakeMessage.objects.exists() and len(folder_uids(imap, "INBOX")) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_handles_each_imap_message_once_when_two_runs_read_at_once(s0, imap):
    orders = [recent_order(s0, email=f"c{i}@example.com") for i in range(3)]
    for order in orders:
        append(imap, refund_mail(sender=order.customer.email, to=s0.support_email, body=f"order {order.number}"))
    config = parse_mailbox_url(imap.url())
    done, refused = race(lambda i: ingest(config), threads=2)
    assert sum(report.processed for report in done) == 3
    assert RefundCase.objects.count() == 3 and OutboxMessage.objects.filter(template="received").count() == 3
    assert folder_uids(imap, "INBOX") == [] and len(folder_uids(imap, "Processed")) == 3


def test_it_keeps_a_message_it_cannot_parse_aside_and_reads_the_next(s0, imap):
    order = recent_order(s0)
    append(imap, nested_mail(sender="eve@example.com", to=s0.support_email, levels=1200).replace(b"\n", b"\r\n"))
    append(imap, refund_mail(sender="kim@example.com", to=s0.support_email, body=f"order {order.number}"))
    assert "processed 1, already done 0, kept aside 1" in run(imap.url())
    assert IntakeFailure.objects.get().error == "the message has parts inside parts more than 50 levels deep"
    assert RefundCase.objects.filter(order=order).count() == 1
    assert len(folder_uids(imap, "Failed")) == 1 and folder_uids(imap, "INBOX") == []
