"""Staff actions on a case's customer e-mails: send again a message whose delivery failed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format

from cases.events import record_event
from cases.models import CaseEvent, RefundCase
from cases.models_mail import OutboxMessage
from cases.outbox import hand_to_worker
from core.errors import CaseActionError, Code

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def case_mail_send_again(
    *, case: RefundCase, message_id: int, actor: User | None, now: datetime | None = None
) -> OutboxMessage:
    """Put one failed e-mail of ``case`` back in the queue and hand it to the worker once committed.

    The message keeps its bodies and its Message-ID (the customer's mail client shows one message
    however often it is sent); attempts start again from zero, so it gets the whole retry schedule.
    Refused, with a sentence, unless the message belongs to the case and has failed.
    """
    now = now or timezone.now()
    if actor is None or not actor.has_perm("cases.work_refundcase"):
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")
    with transaction.atomic():
        # Two clicks on the button (or two agents) arrive at once: the row lock makes the second wait
        # for the first, and it then finds the message queued (or already sent) and is refused rather
        # than queueing a second delivery. The worker never holds a failed row, so this never waits on
        # a mail server.
        message = (
            OutboxMessage.objects.select_for_update(of=("self",))
            .filter(pk=message_id, case_id=case.pk)
            .first()
        )
        if message is None:
            raise CaseActionError(Code.INVALID_INPUT, why="This case has no such e-mail.")
        if message.status == OutboxMessage.Status.SENT:
            raise CaseActionError(
                Code.INVALID_INPUT,
                why=f"“{message.subject}” was already sent ({date_format(timezone.localtime(message.sent_at), 'DATETIME_FORMAT')}); "
                "it was not sent again.",
            )
        if message.status == OutboxMessage.Status.QUEUED:
            raise CaseActionError(
                Code.INVALID_INPUT,
                why=f"“{message.subject}” is already queued to be sent; it was not queued twice.",
            )
        failed_after = message.attempts
        # Compare-and-set as well as the lock: SQLite ignores FOR UPDATE.
        requeued = OutboxMessage.objects.filter(pk=message.pk, status=OutboxMessage.Status.FAILED).update(
            status=OutboxMessage.Status.QUEUED, attempts=0, next_attempt_at=now
        )
        if not requeued:
            raise CaseActionError(Code.INVALID_INPUT, why=f"“{message.subject}” is already queued to be sent.")
        record_event(
            case, actor=actor, kind=CaseEvent.Kind.MAIL, now=now,
            comment=f"E-mail “{message.subject}” to {message.to} sent again",
            data={"template": message.template, "failed_attempts": failed_after, "last_error": message.last_error[:300]},
        )
        transaction.on_commit(lambda: hand_to_worker(message.pk))
    message.refresh_from_db()
    return message
