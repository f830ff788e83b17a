"""`manage.py ingest_mail` on a Maildir and an mbox: once per message, put away, never lost."""

from __future__ import annotations

import mailbox
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.models import CaseEvent, Evidence, OutboxMessage, RefundCase
from mail.ingest import ingest, ingest_one
from mail.mailboxes import MailboxConfigError, parse_mailbox_url
from mail.models import IntakeFailure, IntakeMessage
from tests.conftest import image_bytes, make_order, race
from tests.mail.mail_builders import deliver_to_maildir, files_in, make_maildir, refund_mail

pytestmark = pytest.mark.clause("S0-REQUEST")


@pytest.fixture
def maildir(tmp_path):
    return make_maildir(tmp_path / "support")


def recent_order(storefront, email="kim@example.com"):
    return make_order(storefront, email=email, purchased_at=timezone.now() - timedelta(hours=3))


def run(url: str, *args) -> str:
    out = StringIO()
    call_command("ingest_mail", "--mailbox", url, "-v", "2", *args, stdout=out)
    return out.getvalue()


def test_it_opens_cases_replies_and_keeps_a_broken_message_aside(s0, maildir, media):
    order = recent_order(s0)
    screenshot = image_bytes("PNG")
    deliver_to_maildir(maildir, refund_mail(sender="kim@example.com", to=s0.support_email,
                                            body=f"Order {order.number} shows a black screen.",
                                            images=[("screen.png", screenshot)]))
    deliver_to_maildir(maildir, refund_mail(sender="lee@example.com", to=s0.support_email, body="no order here"))
    deliver_to_maildir(maildir, b"this is not an e-mail at all")

    output = run(f"maildir://{maildir}")

    assert "processed 2, already done 0, kept aside 1" in output
    case = RefundCase.objects.get(order=order)
    assert case.channel == "email" and case.description.startswith(f"Order {order.number}")
    evidence = Evidence.objects.get(case=case)
    assert evidence.from_customer and evidence.kind == "screenshot" and evidence.width == 64
    assert OutboxMessage.objects.filter(to="lee@example.com", template="").count() == 1  # asked for the order
    failure = IntakeFailure.objects.get()
    assert "not an e-mail" in failure.error and bytes(failure.raw) == b"this is not an e-mail at all"
    # Nothing left in the inbox, nothing lost: two put away as processed, one aside.
    assert files_in(maildir) == []
    assert len(files_in(maildir, "Processed")) == 2 and len(files_in(maildir, "Failed")) == 1


def test_it_handles_a_message_once_even_when_delivered_again(s0, maildir):
    order = recent_order(s0)
    raw = refund_mail(sender="kim@example.com", to=s0.support_email, body=f"order {order.number}")
    deliver_to_maildir(maildir, raw)
    run(f"maildir://{maildir}?storefront={s0.slug}")
    deliver_to_maildir(maildir, raw)  # the mail server delivered it twice
    output = run(f"maildir://{maildir}?storefront={s0.slug}")
    assert "processed 0, already done 1, kept aside 0" in output
    assert RefundCase.objects.filter(order=order).count() == 1
    assert OutboxMessage.objects.filter(template="received").count() == 1
    assert len(files_in(maildir, "Processed")) == 2 and files_in(maildir) == []


def test_it_recognises_a_message_without_message_id_by_its_bytes(s0, maildir):
    order = recent_order(s0)
    raw = refund_mail(sender="kim@example.com", to=s0.support_email, body=f"order {order.number}", message_id=None)
    deliver_to_maildir(maildir, raw)
    deliver_to_maildir(maildir, raw)
    output = run(f"maildir://{maildir}")
    assert "processed 1, already done 1" in output
    assert RefundCase.objects.filter(order=order).count() == 1


def test_it_puts_away_a_message_handled_before_the_run_was_cut_short(s0, maildir):
    order = recent_order(s0)
    deliver_to_maildir(maildir, refund_mail(sender="kim@example.com", to=s0.support_email, body=f"#{order.number}"))
    config = parse_mailbox_url(f"maildir://{maildir}")
    [path] = files_in(maildir)
    uid = path.name.split(":")[0]
    ingest_one(config, uid, path.read_bytes())  # handled and committed, then the process died: not moved
    assert IntakeMessage.objects.get(mailbox=config.name, uid=uid).case.order == order

    report = ingest(config)
    assert (report.processed, report.already) == (0, 1)
    assert files_in(maildir) == [] and len(files_in(maildir, "Processed")) == 1
    assert RefundCase.objects.filter(order=order).count() == 1


def test_it_finds_the_storefront_by_the_address_the_mail_was_sent_to(s0, s1, maildir):
    order = recent_order(s1, email="sam@example.com")
    deliver_to_maildir(maildir, refund_mail(sender="sam@example.com", to=s1.support_email, body=f"#{order.number}"))
    deliver_to_maildir(maildir, refund_mail(sender="sam@example.com", to="someone@else.example", body="hello"))
    run(f"maildir://{maildir}")
    assert RefundCase.objects.get().order == order
    assert "no storefront's support address" in IntakeFailure.objects.get().error


def test_it_adds_a_reply_with_screenshots_to_the_case_it_answers(s0, maildir, media):
    order = recent_order(s0)
    deliver_to_maildir(maildir, refund_mail(sender="kim@example.com", to=s0.support_email, body=f"#{order.number}"))
    run(f"maildir://{maildir}")
    case = RefundCase.objects.get(order=order)
    reply = refund_mail(
        sender="kim@example.com", to=s0.support_email, subject=f"Re: [{case.number}] We need a little more information",
        body="Here is the error.\n\nOn Monday, support wrote:\n> To review your request we need",
        images=[("error.jpg", image_bytes("JPEG"))],
    )
    deliver_to_maildir(maildir, reply)
    run(f"maildir://{maildir}")
    case.refresh_from_db()
    assert case.flagged and case.evidence.count() == 1
    comment = case.events.get(kind=CaseEvent.Kind.COMMENT, actor_label="customer")
    assert comment.comment == "Here is the error." and comment.actor_label == "customer"


def test_it_does_not_add_a_strangers_mail_to_a_case_named_in_the_subject(s0, maildir, media):
    order = recent_order(s0)
    deliver_to_maildir(maildir, refund_mail(sender="kim@example.com", to=s0.support_email, body=f"#{order.number}"))
    run(f"maildir://{maildir}")
    case = RefundCase.objects.get(order=order)
    deliver_to_maildir(maildir, refund_mail(
        sender="mallory@example.com", to=s0.support_email, subject=f"Re: [{case.number}] evidence",
        images=[("fake.png", image_bytes("PNG"))],
    ))
    run(f"maildir://{maildir}")
    assert case.evidence.count() == 0 and not case.events.filter(kind=CaseEvent.Kind.COMMENT, actor_label="customer").exists()
    assert OutboxMessage.objects.filter(to="mallory@example.com").count() == 1  # told how to ask, nothing more


def test_it_opens_the_case_but_stores_no_file_for_an_attachment_that_is_not_an_image(s0, maildir, media):
    order = recent_order(s0)
    deliver_to_maildir(maildir, refund_mail(sender="kim@example.com", to=s0.support_email, body=f"#{order.number}",
                                            images=[("screen.png", b"<html><script>alert(1)</script>")]))
    output = run(f"maildir://{maildir}")
    case = RefundCase.objects.get(order=order)
    assert case.evidence.count() == 0
    assert "attachments refused: screen.png" in output
    assert IntakeMessage.objects.get(case=case).outcome.startswith("opened; attachments refused")


def test_it_ignores_robot_mail_without_losing_it(s0, maildir):
    deliver_to_maildir(maildir, refund_mail(sender="robot@example.com", to=s0.support_email,
                                            headers={"Auto-Submitted": "auto-replied"}))
    output = run(f"maildir://{maildir}")
    assert "automatic message" in output and not RefundCase.objects.exists() and not OutboxMessage.objects.exists()
    assert len(files_in(maildir, "Processed")) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_handles_each_message_once_when_two_runs_read_the_mailbox_at_once(s0, tmp_path):
    maildir = make_maildir(tmp_path / "support")
    orders = [recent_order(s0, email=f"c{i}@example.com") for i in range(4)]
    for order in orders:
        deliver_to_maildir(maildir, refund_mail(sender=order.customer.email, to=s0.support_email,
                                                body=f"order {order.number}"))
    config = parse_mailbox_url(f"maildir://{maildir}")
    done, refused = race(lambda i: ingest(config), threads=2)
    assert sum(report.processed for report in done) == 4
    assert RefundCase.objects.count() == 4 and IntakeMessage.objects.count() == 4
    assert OutboxMessage.objects.filter(template="received").count() == 4
    assert files_in(maildir) == [] and len(files_in(maildir, "Processed")) == 4


def test_it_flags_handled_messages_in_an_mbox_and_keeps_every_message(s0, tmp_path):
    order = recent_order(s0)
    path = tmp_path / "support.mbox"
    box = mailbox.mbox(path)
    box.add(refund_mail(sender="kim@example.com", to=s0.support_email, body=f"order {order.number}"))
    box.add(b"From: nobody\n\n")  # no address: kept aside
    box.close()

    output = run(f"mbox://{path}")
    assert "processed 1, already done 0, kept aside 1" in output
    assert RefundCase.objects.filter(order=order).count() == 1
    flags = sorted(message.get_flags() for message in mailbox.mbox(path))
    assert flags == ["F", "R"]  # both still there: one read, one flagged
    assert "processed 0, already done 0, kept aside 0" in run(f"mbox://{path}")


def test_it_refuses_imap_without_tls_and_never_shows_the_password():
    with pytest.raises(MailboxConfigError, match="without TLS"):
        parse_mailbox_url("imap://user:secret@mail.example.com/INBOX")
    config = parse_mailbox_url("imaps://support%40shop.example:s%3Acret@mail.example.com/INBOX?storefront=x")
    assert config.password == "s:cret" and config.username == "support@shop.example"
    assert "cret" not in config.name and "cret" not in repr(config)
    assert config.port == 993 and config.storefront == "x"


def test_it_says_when_no_mailbox_is_configured(db, settings):
    settings.INTAKE_MAILBOXES = []
    with pytest.raises(CommandError, match="No mailbox"):
        call_command("ingest_mail")


def test_it_reports_a_mailbox_it_cannot_read(db, tmp_path):
    with pytest.raises(CommandError, match="could not read 1 mailbox"):
        call_command("ingest_mail", "--mailbox", f"maildir://{tmp_path}/missing", stdout=StringIO(),
                     stderr=StringIO())
