"""The secret links customers follow to their case: only a hash and a hint of each is kept."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class CaseLink(models.Model):
    """One link a customer was sent. The link itself is never stored: a leaked table opens no case.

    A case may have several live links (the customer asked for theirs again); staff revoke one or
    all of them. ``last_used_at`` and ``uses`` tell staff which link the customer is using.
    """

    class Why(models.TextChoices):
        OPENED = "opened", "Sent when the case was opened"
        RESENT = "resent", "Customer asked for their link"
        EVIDENCE = "evidence", "Sent with an evidence request"
        REISSUED = "reissued", "Re-issued by staff"

    case = models.ForeignKey("cases.RefundCase", on_delete=models.PROTECT, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the link's secret, hex.")
    hint = models.CharField(max_length=8, help_text="Last characters of the link, so a customer can read it out.")
    why = models.CharField(max_length=16, choices=Why.choices)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("created_at")), name="caselink_expires_later"),
        ]
        indexes = [models.Index(fields=["case", "revoked_at"])]

    def __str__(self) -> str:
        return f"link …{self.hint} to {self.case_id}"

    def state_at(self, now) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"
