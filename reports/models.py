"""Who exported which cases, and the exports that run in the background."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

FORMATS = [("csv", "CSV"), ("json", "JSON"), ("xlsx", "Excel (XLSX)")]


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Export records are append-only; they cannot be updated.")

    def delete(self):
        raise TypeError("Export records are append-only; they cannot be deleted.")


class ExportRecord(models.Model):
    """One export of the case report: who, when, with which filter, how many rows. Written once."""

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Command line"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    actor_label = models.CharField(max_length=150, help_text="Who exported, as shown: a user or the command's OS user.")
    via = models.CharField(max_length=10, choices=Via.choices)
    format = models.CharField(max_length=5, choices=FORMATS)
    filters = models.JSONField(default=dict, blank=True, help_text="The case list's filters and search, or the command's.")
    row_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_label}: {self.row_count} cases as {self.format} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Export records are append-only; they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Export records are append-only; they cannot be deleted.")


class ExportJob(models.Model):
    """An export too big (or an XLSX) to stream in the request: built by a task, offered when ready."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    record = models.OneToOneField(ExportRecord, on_delete=models.PROTECT, related_name="job")
    format = models.CharField(max_length=5, choices=FORMATS)
    query = models.TextField(blank=True, help_text="The case list's query string: filters and search.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(done__lte=models.F("total")), name="export_job_done_within_total"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_format_display()}, {self.get_status_display().lower()})"

    @property
    def name(self) -> str:
        """What the export holds, in words: its list filters, how many cases, when."""
        from reports.names import export_name

        held = export_name(self.record.filters, username=self.user.get_username())
        return f"{held}: {self.total:,} case{'s' if self.total != 1 else ''}, {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return int(self.done * 100 / self.total) if self.total else 0

    @property
    def filename(self) -> str:
        return f"cases-{self.created_at:%Y%m%d-%H%M%S}.{self.format}"
