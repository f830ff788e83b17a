"""Messages built to break the reader: each is kept aside with a plain reason and the run goes on."""

from __future__ import annotations

import mailbox
from datetime import timedelta
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime

import pytest
from django.utils import timezone

from cases.models import OutboxMessage, RefundCase
from mail.html import html_to_text
from mail.intake import intake_email
from mail.models import IntakeFailure
from tests.conftest import make_order
from tests.mail.ingest import recent_order, run
from tests.mail.mail_builders import deliver_to_maildir, files_in, make_maildir, nested_mail, refund_mail

pytestmark = pytest.mark.clause("S0-REQUEST")



def mbox_flags(path) -> list[str]:
    """Each message's flags, read from its status headers alone (parsing the nested one would fail)."""
    box = mailbox.mbox(path)
    headers = [BytesHeaderParser().parsebytes(box.get_bytes(key)) for key in box.keys()]
    return sorted("".join(sorted(h.get("Status", "") + h.get("X-Status", ""))) for h in headers)


def test_it_keeps_a_deeply_nested_message_in_an_mbox_aside_and_reads_the_ones_after_it(s0, tmp_path):
    first, last = recent_order(s0), recent_order(s0, email="lee@example.com")
    path = tmp_path / "support.mbox"
    box = mailbox.mbox(path)
    box.add(refund_mail(sender="kim@example.com", to=s0.support_email, body=f"order {first.number}"))
    box.add(nested_mail(sender="eve@example.com", to=s0.support_email, levels=1200))
    box.add(refund_mail(sender="lee@example.com", to=s0.support_email, body=f"order {last.number}"))
    box.close()

    assert "processed 2, already done 0, kept aside 1" in run(f"mbox://{path}")

    assert RefundCase.objects.filter(order__in=[first, last]).count() == 2
    failure = IntakeFailure.objects.get()
    assert failure.error == "the message has parts inside parts more than 50 levels deep"
    assert bytes(failure.raw).count(b"multipart/mixed") == 1200
    # Every message is still in the file, each flagged: the next run has nothing left to stop on.
    assert mbox_flags(path) == ["F", "R", "R"]
    assert "processed 0, already done 0, kept aside 0" in run(f"mbox://{path}")


def test_it_keeps_a_deeply_nested_message_in_a_maildir_aside_with_a_plain_reason(s0, tmp_path):
    maildir = make_maildir(tmp_path / "support")
    order = recent_order(s0)
    deliver_to_maildir(maildir, nested_mail(sender="eve@example.com", to=s0.support_email, levels=1200))
    deliver_to_maildir(maildir, refund_mail(sender="kim@example.com", to=s0.support_email, body=f"#{order.number}"))
    assert "processed 1, already done 0, kept aside 1" in run(f"maildir://{maildir}")
    assert IntakeFailure.objects.get().error == "the message has parts inside parts more than 50 levels deep"
    assert len(files_in(maildir, "Failed")) == 1


def test_it_still_reads_mail_with_a_few_nested_parts(s0, tmp_path):
    maildir = make_maildir(tmp_path / "support")
    deliver_to_maildir(maildir, nested_mail(sender="kim@example.com", to=s0.support_email, levels=5))
    assert "processed 1, already done 0, kept aside 0" in run(f"maildir://{maildir}")


def html_mail(*, sender: str, to: str, html: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Refund Request"
    message.set_content(html, subtype="html")
    return message.as_bytes()


def test_it_finds_the_order_number_in_an_html_only_mail_whose_blocks_touch(s0, tmp_path):
    maildir = make_maildir(tmp_path / "support")
    order = recent_order(s0)
    deliver_to_maildir(maildir, html_mail(sender="kim@example.com", to=s0.support_email,
                                          html=f"<div>My order is {order.number}</div><div>Thanks</div>"))
    run(f"maildir://{maildir}")
    case = RefundCase.objects.get(order=order)
    assert case.description == f"My order is {order.number}\nThanks"


def test_it_reads_html_as_the_lines_the_customer_saw():
    html = (
        "<html><head><title>t</title><style>p {color: red}</style></head><body>"
        "<p>Hello&nbsp;there,<br>my TV &amp; app froze.</p><ul>\n  <li>order 100234</li>\n  <li>since Monday</li>\n</ul>"
        "<table><tr><td>Plan</td><td>3 months</td></tr></table><script>alert(1)</script>"
        "<h2>Kim</h2><p>a<br><br>b</p></body></html>"
    )
    assert html_to_text(html) == (
        "Hello there,\nmy TV & app froze.\norder 100234\nsince Monday\nPlan 3 months\nKim\na\n\nb"
    )


def test_it_keeps_aside_a_message_whose_sender_is_only_a_name(s0, tmp_path):
    maildir = make_maildir(tmp_path / "support")
    raw = refund_mail(sender="kim@example.com", to=s0.support_email, body="no order here")
    deliver_to_maildir(maildir, raw.replace(b"From: A Customer <kim@example.com>", b"From: Just A Name"))
    assert "processed 0, already done 0, kept aside 1" in run(f"maildir://{maildir}")
    assert not OutboxMessage.objects.exists() and not RefundCase.objects.exists()
    assert IntakeFailure.objects.get().error == "the sender (From) gives no e-mail address, only a name: Just A Name"


def test_it_answers_no_sender_that_is_not_an_address(s0, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = intake_email(storefront=s0, sender="Just A Name", subject="Help", body="Hi")
    assert not result.replied and result.reason == "no sender address"
    assert mailoutbox == [] and not OutboxMessage.objects.exists()


def received(host: str, when) -> str:
    return f"from client.example (client.example [192.0.2.7]) by {host} with ESMTPS id 4Xy; {format_datetime(when)}"


def opened_at(s0, tmp_path, *received_headers: str):
    maildir = make_maildir(tmp_path / "support")
    order = make_order(s0, email="kim@example.com", purchased_at=timezone.now() - timedelta(days=30))
    raw = refund_mail(sender="kim@example.com", to=s0.support_email, body=f"order {order.number}")
    # Received headers go on top, in the order the mail servers added them (the newest first).
    raw = b"".join(f"Received: {header}\n".encode() for header in received_headers) + raw
    deliver_to_maildir(maildir, raw)
    run(f"maildir://{maildir}")
    return RefundCase.objects.get(order=order).requested_at


def test_it_ignores_a_received_header_no_server_of_ours_wrote(s0, tmp_path, settings):
    settings.INTAKE_TRUSTED_RECEIVERS = []
    before = timezone.now()
    forged = received("mx.shop.example", timezone.now() - timedelta(days=10))
    assert opened_at(s0, tmp_path, forged) >= before


def test_it_takes_the_request_time_from_the_server_we_trust(s0, tmp_path, settings):
    settings.INTAKE_TRUSTED_RECEIVERS = ["mx.shop.example"]
    ours = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    requested_at = opened_at(
        s0, tmp_path,
        received("lmtp.internal", ours + timedelta(seconds=5)),  # a later hop not in the list
        received("MX.Shop.Example.", ours),
        received("mx.shop.example", ours - timedelta(days=10)),  # forged below ours by the sender
    )
    assert requested_at == ours
