"""The outbox every customer e-mail is written to, in the transaction of the change it tells about."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessage(models.Model):
    """One e-mail to a customer, written in the transaction of the change it tells them about.

    A worker sends it afterwards (``cases.outbox.deliver``); a failed attempt is retried later with
    a growing delay, and the change it reports is never undone by a mail outage.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    case = models.ForeignKey(
        "cases.RefundCase", null=True, blank=True, on_delete=models.PROTECT, related_name="outbox_messages"
    )
    storefront = models.ForeignKey("orders.Storefront", on_delete=models.PROTECT, related_name="+")
    template = models.CharField(max_length=64, blank=True, help_text="The e-mail template it was written from.")
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    text_body = models.TextField()
    html_body = models.TextField(blank=True)
    auto_reply = models.BooleanField(
        default=False, help_text="Answers the customer's own e-mail (Auto-Submitted: auto-replied)."
    )
    message_id = models.CharField(max_length=255, unique=True, help_text="Kept across retries: one message, one id.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            # The worker's queue: only queued rows, by when they are due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="queued"), name="outbox_due"),
            models.Index(fields=["case", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False) | ~Q(status="sent"), name="outbox_sent_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to} ({self.status})"

    @property
    def failed(self) -> bool:
        return self.status == self.Status.FAILED
