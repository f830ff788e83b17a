"""Who exported which cases, the exports that run in the background, and policy backtests."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.jobs import Job, job_status_field

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


class ExportJob(Job):
    """An export too big (or an XLSX) to stream in the request: built by a task, offered when ready."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                     help_text="Who asked for it: only they see it.")
    status = job_status_field(done="Ready")
    record = models.OneToOneField(ExportRecord, on_delete=models.PROTECT, related_name="job")
    format = models.CharField(max_length=5, choices=FORMATS)
    query = models.TextField(blank=True, help_text="The case list's query string: filters and search.")
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)

    class Meta(Job.Meta):
        constraints = [
            models.CheckConstraint(condition=models.Q(processed__lte=models.F("total")),
                                   name="export_job_processed_within_total"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_format_display()}, {self.get_status_display().lower()})"

    def task(self):
        from reports.tasks import run_export_job

        return run_export_job

    def discard_results(self, results: dict) -> None:
        if results.get("file"):
            self.file.storage.delete(results["file"])

    @property
    def name(self) -> str:
        """What the export holds, in words: its list filters, how many cases, when."""
        from reports.names import export_name

        held = export_name(self.record.filters, username=self.requested_by.get_username())
        return f"{held}: {self.total:,} case{'s' if self.total != 1 else ''}, {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def filename(self) -> str:
        return f"cases-{self.created_at:%Y%m%d-%H%M%S}.{self.format}"


class Backtest(Job):
    """One replay of a policy draft over the closed cases of a period (``reports.backtest``).

    ``total`` is the closed cases of the period; the summary is kept when the run ends. The table kept
    the name it had when backtests belonged to the policies app.
    """

    draft = models.ForeignKey("policies.PolicyDraft", on_delete=models.CASCADE, related_name="backtests")
    parameters = models.JSONField(help_text="The draft's parameters when it ran; a later edit makes it stale.")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    changed = models.PositiveIntegerField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta(Job.Meta):
        db_table = "policies_backtest"
        constraints = [
            models.CheckConstraint(condition=models.Q(period_start__lt=models.F("period_end")),
                                   name="backtest_period_ordered"),
        ]

    def __str__(self) -> str:
        return f"Backtest of {self.draft} ({self.get_status_display()})"

    def task(self):
        from reports.tasks import run_backtest

        return run_backtest

    @property
    def last_day(self):
        """The period's last day, included (the period ends at the start of the day after)."""
        return timezone.localtime(self.period_end - timedelta(microseconds=1)).date()

    @property
    def is_current(self) -> bool:
        """Ran on the draft as it is now."""
        return self.parameters == self.draft.parameters()
