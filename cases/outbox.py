"""The outbox: customer e-mails are rows first, and a worker sends them.

``queue_mail`` writes the message in the caller's transaction, so it exists exactly when the change it
reports was committed, and asks a worker to send it once that commit happened. ``deliver`` sends one
message under its row lock; a failure is recorded and retried later, each wait twice the one before
(``OUTBOX_RETRY_BASE_SECONDS`` up to ``OUTBOX_RETRY_MAX_SECONDS``), until ``OUTBOX_MAX_ATTEMPTS``,
after which the message shows as failed on the case page. ``deliver_due`` (every minute, from beat or
``manage.py send_queued_mail``) picks up what is due, including messages whose hand-off to the worker
was lost (broker down at commit time).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.utils import formataddr, make_msgid

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.utils import timezone

from cases.models_mail import OutboxMessage
from core import after_response

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000


def queue_mail(
    *, storefront, to: str, subject: str, text: str, html: str = "", auto_reply: bool = False, case=None,
    template: str = "", now: datetime | None = None,
) -> OutboxMessage:
    """Write one e-mail from the storefront's support address (S0-SUPPORT-COMMS) to the outbox."""
    message = outbox_message(storefront=storefront, to=to, subject=subject, text=text, html=html,
                             auto_reply=auto_reply, case=case, template=template, now=now)
    message.save(force_insert=True)
    transaction.on_commit(lambda: hand_to_worker(message.pk))
    return message


def outbox_message(
    *, storefront, to: str, subject: str, text: str, html: str = "", auto_reply: bool = False, case=None,
    template: str = "", now: datetime | None = None,
) -> OutboxMessage:
    """The outbox row for one e-mail, not yet saved (``queue_mail`` saves one, ``queue_mails`` many)."""
    now = now or timezone.now()
    domain = (storefront.support_email.rpartition("@")[2] or "localhost").strip()
    return OutboxMessage(
        case=case, storefront=storefront, template=template, to=to, subject=subject[:255], text_body=text,
        html_body=html, auto_reply=auto_reply, message_id=make_msgid(domain=domain), created_at=now,
        next_attempt_at=now,
    )


def queue_mails(messages: list[OutboxMessage]) -> list[OutboxMessage]:
    """Write many unsaved rows of ``outbox_message`` in one insert (the deadline sweep's batch), each
    handed to a worker once the transaction commits, as ``queue_mail`` does for one."""
    if not messages:
        return messages
    if connection.features.can_return_rows_from_bulk_insert:
        OutboxMessage.objects.bulk_create(messages)
    else:  # the worker needs each row's id
        for message in messages:
            message.save(force_insert=True)
    ids = [message.pk for message in messages]
    transaction.on_commit(lambda: [hand_to_worker(pk) for pk in ids])
    return messages


def hand_to_worker(message_id: int) -> None:
    """Ask a worker to send the message now. Never raises: the case change is already committed,
    and if the broker is unreachable the periodic ``deliver_due`` sends the message later.

    Without a broker the task runs in this process: in a web request, once the response is sent
    (the customer does not wait for the mail server), elsewhere at once.
    """
    try:
        after_response.queue(deliver_mail, message_id)
    except Exception:
        logger.exception("Could not hand outbox message %s to a worker; it will be sent by the next sweep", message_id)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: base, 2×base, 4×base … capped."""
    base = settings.OUTBOX_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), settings.OUTBOX_RETRY_MAX_SECONDS))


def deliver(message_id: int, *, now: datetime | None = None) -> str | None:
    """Send one due message; its new status, or None if it is not due (or another worker has it)."""
    now = now or timezone.now()
    with transaction.atomic():
        # skip_locked: another worker is sending this very message; holding the lock while the mail
        # server answers makes the second worker skip it rather than send it twice.
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("storefront")
            .filter(pk=message_id, status=OutboxMessage.Status.QUEUED, next_attempt_at__lte=now)
            .first()
        )
        if message is None:
            return None
        message.attempts += 1
        try:
            _email(message).send()
        except Exception as error:  # any failure of the mail server or the network: try again later
            message.last_error = f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]
            if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                message.status = OutboxMessage.Status.FAILED
                logger.error("Giving up on outbox message %s after %s attempts: %s", message.pk, message.attempts,
                             message.last_error)
            else:
                message.next_attempt_at = now + retry_delay(message.attempts)
                logger.warning("Outbox message %s failed (attempt %s), retrying at %s: %s", message.pk,
                               message.attempts, message.next_attempt_at, message.last_error)
        else:
            message.status = OutboxMessage.Status.SENT
            message.sent_at = now
        message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at", "sent_at"])
        return message.status


def deliver_due(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Send every queued message that is due; counts by outcome."""
    now = now or timezone.now()
    due = list(
        OutboxMessage.objects.filter(status=OutboxMessage.Status.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {"sent": 0, "queued": 0, "failed": 0}
    for pk in due:
        status = deliver(pk, now=now)
        if status is not None:
            counts[status] += 1
    return counts


def send_again(message: OutboxMessage, *, now: datetime | None = None) -> None:
    """Put a failed message back in the queue (staff, once the mail server is fixed)."""
    now = now or timezone.now()
    updated = OutboxMessage.objects.filter(pk=message.pk, status=OutboxMessage.Status.FAILED).update(
        status=OutboxMessage.Status.QUEUED, attempts=0, next_attempt_at=now
    )
    if updated:
        transaction.on_commit(lambda: hand_to_worker(message.pk))


def _email(message: OutboxMessage) -> EmailMultiAlternatives:
    storefront = message.storefront
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.text_body,
        from_email=formataddr((storefront.name, storefront.support_email)),
        to=[message.to],
        reply_to=[storefront.support_email],
        headers={
            # RFC 3834: well-behaved auto-responders stay silent; Exchange honours its own header.
            "Auto-Submitted": "auto-replied" if message.auto_reply else "auto-generated",
            "X-Auto-Response-Suppress": "All",
            "Message-ID": message.message_id,
        },
    )
    if message.html_body:
        email.attach_alternative(message.html_body, "text/html")
    return email


def case_outbox(*, case) -> list[OutboxMessage]:
    """The case's e-mails, newest first, without their bodies (the case page shows status only)."""
    if getattr(case, "has_mail", True) is False:  # the case page's query knows there are none
        return []
    return list(
        OutboxMessage.objects.filter(case=case)
        .only("pk", "case_id", "template", "to", "subject", "status", "attempts", "last_error", "next_attempt_at",
              "created_at", "sent_at")
        .order_by("-created_at", "-pk")
    )


# The worker's entry points live beside what they run, so that handing a message over needs no
# import of the task module (which also runs the sweeps, and they write mail here).
@shared_task(name="cases.deliver_mail", ignore_result=True)
def deliver_mail(message_id: int) -> str | None:
    return deliver(message_id)


@shared_task(name="cases.deliver_due_mail", ignore_result=True)
def deliver_due_mail() -> dict[str, int]:
    return deliver_due()
