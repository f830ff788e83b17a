"""Portal forms kept as sent until their job matches them to an order, with the files they carried."""

from __future__ import annotations

from django.db import models


class PortalSubmission(models.Model):
    """A request or "send my link" form as the customer sent it, before anything looks for the order.

    The view writes this row, and the same rows for the files, whatever was typed in; a job then
    matches it with an order and deletes it. So the answer takes the same work whether or not the
    order exists (decision 0036).
    """

    class Kind(models.TextChoices):
        REQUEST = "request", "Refund request"
        LINK = "link", "Link asked for again"

    storefront = models.ForeignKey("orders.Storefront", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    order_number = models.CharField(max_length=40)
    email = models.CharField(max_length=254)
    reason = models.CharField(max_length=32, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "cases_portalsubmission"  # made by the cases app before the portal had its own

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.storefront_id} at {self.created_at:%Y-%m-%d %H:%M}"


class PendingFile(models.Model):
    """One file of a submission, already through the upload pipeline: re-encoded, or refused and why."""

    submission = models.ForeignKey(PortalSubmission, on_delete=models.CASCADE, related_name="files")
    original_name = models.CharField(max_length=200, blank=True)
    refusal = models.CharField(max_length=300, blank=True)
    file = models.FileField(upload_to="portal-pending/", blank=True, max_length=200)
    thumbnail = models.FileField(upload_to="portal-pending/", blank=True, max_length=200)
    content_type = models.CharField(max_length=64, blank=True)
    thumbnail_type = models.CharField(max_length=64, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    received_size = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        db_table = "cases_pendingfile"

    def __str__(self) -> str:
        return self.original_name or f"file {self.pk}"
