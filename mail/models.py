"""What the mailbox reader keeps: each message handled once, the ones it could not read, replies it sent."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class IntakeMessage(models.Model):
    """One e-mail the intake has handled, by Message-ID: a second delivery of it is a no-op."""

    storefront = models.ForeignKey("orders.Storefront", on_delete=models.PROTECT, related_name="intake_messages")
    message_id = models.CharField(max_length=998)
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=200, blank=True)
    case = models.ForeignKey("cases.RefundCase", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Where the mailbox reader found it: the same UID is handled once even without a Message-ID.
    mailbox = models.CharField(max_length=300, blank=True)
    uid = models.CharField(max_length=200, blank=True)
    put_away_at = models.DateTimeField(null=True, blank=True, help_text="Moved or flagged in its mailbox.")

    class Meta:
        db_table = "cases_intakemessage"  # made by the cases app before intake had its own
        constraints = [
            models.UniqueConstraint(fields=["storefront", "message_id"], name="intake_message_once"),
            models.UniqueConstraint(fields=["mailbox", "uid"], condition=~Q(uid=""), name="intake_message_uid_once"),
        ]

    def __str__(self) -> str:
        return self.message_id


class IntakeFailure(models.Model):
    """A mailbox message the intake could not handle: kept, with its error, while the rest go on.

    The message itself is moved to the mailbox's failed folder (or flagged); its bytes are also kept
    here so that nothing is lost whatever happens to the mailbox.
    """

    mailbox = models.CharField(max_length=300)
    uid = models.CharField(max_length=200)
    message_id = models.CharField(max_length=998, blank=True)
    sender = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    error = models.TextField()
    raw = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True, help_text="Set when it was handled after all.")
    put_away_at = models.DateTimeField(null=True, blank=True, help_text="Moved or flagged in its mailbox.")

    class Meta:
        db_table = "cases_intakefailure"  # made by the cases app before intake had its own
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["mailbox", "uid"], name="intake_failure_once")]

    def __str__(self) -> str:
        return f"{self.mailbox} {self.uid}: {self.error[:60]}"


class IntakeReply(models.Model):
    """The intake asked this sender for the details today: one such reply per sender and day.

    A database row, not a cache entry, so the limit holds across workers and restarts; the insert is
    the claim, so two workers answering the same robot at once send one reply.
    """

    sender = models.CharField(max_length=320, help_text="The sender's e-mail, in lower case.")
    day = models.DateField(help_text="The day (UTC) of the reply.")
    storefront = models.ForeignKey("orders.Storefront", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "cases_intakereply"  # made by the cases app before intake had its own
        constraints = [models.UniqueConstraint(fields=["sender", "day"], name="intake_reply_once_a_day")]

    def __str__(self) -> str:
        return f"{self.sender} on {self.day}"
