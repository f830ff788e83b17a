"""Background jobs: a row per job, claimed by one worker, with progress, cancel, failure and retry.

Whoever asks for the work creates the row (queued) and hands its id to a worker: a Celery task, or
a command running it in the foreground. Each kind of job is a concrete model on ``Job`` with its own
inputs and results; this module is what they share.

- **Claim.** A worker runs a job only after a conditional UPDATE from queued to running has changed
  its row: of two workers handed the same job (a task delivered twice), one claims it and the other
  finds nothing to do. Each claim counts an attempt, and the attempt is the worker's ticket.
- **Progress** is written as the work goes. Every write is conditional on the job still running
  under the worker's attempt, so it is also where a worker learns that its job was cancelled (or
  retried and claimed by another worker): it stops there, with ``JobCancelled``.
- **Cancel** ends a queued job before it starts and a running one at its next progress point.
- **Failure** keeps a reason written for the person who asked; the traceback goes to the log only.
- **Retry** queues a failed or cancelled job again from the start and sends it to its worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Self

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)

REASON_LENGTH = 2000


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
RETRYABLE = (JobStatus.FAILED, JobStatus.CANCELLED)


def job_status_field(*, done: str = JobStatus.DONE.label) -> models.CharField:
    """The status column; a kind of job may word "done" its own way (an export is "Ready")."""
    choices = [(status.value, done if status == JobStatus.DONE else status.label) for status in JobStatus]
    return models.CharField(max_length=10, choices=choices, default=JobStatus.QUEUED)


class JobCancelled(Exception):
    """Raised at a progress point of a job that is no longer this worker's: cancelled, or retried since."""


class JobFailed(Exception):
    """A failure whose message is written for the person who asked: it is shown as it is."""


def failure_reason(error: BaseException) -> str:
    """What a failed job's page says about ``error``: its own words where it has some for people."""
    if isinstance(error, ValidationError):
        text = " ".join(error.messages)
    elif isinstance(error, (JobFailed, PermissionDenied)):
        text = str(error)
    else:
        text = ""
    if not text:
        text = f"It stopped on an unexpected error ({type(error).__name__}); the server log has the details."
    return text[:REASON_LENGTH]


class Job(models.Model):
    """One piece of background work: a concrete model adds what the work needs and what it leaves."""

    Status = JobStatus

    status = job_status_field()
    total = models.PositiveIntegerField(default=0, help_text="How many items the job goes through, once known.")
    processed = models.PositiveIntegerField(default=0, help_text="How many of them are done.")
    error = models.TextField(blank=True, help_text="Why it failed, in words for the person who asked.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+", help_text="Who asked for it (none: a command).")
    attempts = models.PositiveIntegerField(default=0, help_text="How many times a worker took it up.")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    # --- what a kind of job provides -------------------------------------------------------------

    def task(self):
        """The Celery task that runs this kind of job, called with the job's id."""
        raise NotImplementedError(f"{type(self).__name__} names no task")

    def discard_results(self, results: dict[str, Any]) -> None:
        """Undo what ``results`` left outside the row (a file) when the job was cancelled at its very end."""

    # --- asking ----------------------------------------------------------------------------------

    def send_to_worker(self) -> None:
        """Hand the job to its task once the current transaction commits: the worker must find the row."""
        task, pk = self.task(), self.pk
        transaction.on_commit(lambda: task.delay(pk))

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def can_cancel(self) -> bool:
        return self.status in ACTIVE

    @property
    def can_retry(self) -> bool:
        return self.status in RETRYABLE

    @property
    def percent(self) -> int:
        if self.status == JobStatus.DONE:
            return 100
        return min(100, self.processed * 100 // self.total) if self.total else 0

    # --- running (the worker) --------------------------------------------------------------------

    @classmethod
    def claim(cls, pk: int, *, queryset: QuerySet | None = None) -> Self | None:
        """The job, now running under this worker's attempt; None if it is not queued (or another worker won)."""
        rows = cls._default_manager.all() if queryset is None else queryset
        job = rows.filter(pk=pk).first()
        if job is None or job.status != JobStatus.QUEUED:
            return None
        now = timezone.now()
        # The conditional UPDATE is the claim: the database lets one of two racing workers change the row.
        if not cls._default_manager.filter(pk=pk, status=JobStatus.QUEUED, attempts=job.attempts).update(
            status=JobStatus.RUNNING, started_at=now, attempts=job.attempts + 1
        ):
            return None
        job.status, job.started_at, job.attempts = JobStatus.RUNNING, now, job.attempts + 1
        return job

    def _while_mine(self) -> QuerySet:
        """This row as long as it runs under this worker's attempt."""
        return type(self)._default_manager.filter(pk=self.pk, status=JobStatus.RUNNING, attempts=self.attempts)

    def _set(self, fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            setattr(self, name, value)

    def report_progress(self, processed: int, *, total: int | None = None) -> None:
        """Record how far the work is; raises ``JobCancelled`` if the job stopped being this worker's."""
        fields: dict[str, Any] = {"processed": processed}
        if total is not None:
            fields["total"] = total
        if not self._while_mine().update(**fields):
            raise JobCancelled(f"{self._meta.label} {self.pk} is no longer running under attempt {self.attempts}")
        self._set(fields)

    def finish(self, **results: Any) -> bool:
        """Done, with the job's results (values of its own fields); False if it was cancelled meanwhile."""
        fields = {"status": JobStatus.DONE, "finished_at": timezone.now(), **results}
        if not self._while_mine().update(**fields):
            return False
        self._set(fields)
        return True

    def fail(self, reason: str) -> bool:
        """Failed, with ``reason`` in words for the person who asked; False if it was cancelled meanwhile."""
        fields = {"status": JobStatus.FAILED, "error": reason[:REASON_LENGTH], "finished_at": timezone.now()}
        if not self._while_mine().update(**fields):
            return False
        self._set(fields)
        return True

    @classmethod
    def execute(cls, pk: int, work: Callable[[Self], dict[str, Any]], *,
                queryset: QuerySet | None = None) -> Self | None:
        """Claim the job and run ``work`` on it; None if there was nothing to claim.

        ``work`` reports progress on the job it is given and returns the values of its result fields,
        which finish it. An exception fails it with ``failure_reason``; a cancel seen at a progress
        point ends the work quietly.
        """
        job = cls.claim(pk, queryset=queryset)
        if job is None:
            return None
        try:
            results = work(job)
        except JobCancelled:
            pass
        except Exception as error:
            logger.exception("%s %s failed", cls._meta.label, pk)
            job.fail(failure_reason(error))
        else:
            if not job.finish(**results):
                job.discard_results(results)
        try:
            job.refresh_from_db()
        except cls.DoesNotExist:
            pass  # deleted while it ran (with what it belonged to): what the worker knows is all there is
        return job

    # --- controls (staff) ------------------------------------------------------------------------

    def cancel(self) -> bool:
        """Stop the job: a queued one never starts, a running one stops at its next progress point."""
        changed = type(self)._default_manager.filter(pk=self.pk, status__in=ACTIVE).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now()
        )
        self.refresh_from_db()
        return bool(changed)

    def retry(self) -> bool:
        """Queue a failed or cancelled job again from the start, and send it to its worker."""
        changed = type(self)._default_manager.filter(pk=self.pk, status__in=RETRYABLE).update(
            status=JobStatus.QUEUED, processed=0, error="", started_at=None, finished_at=None
        )
        self.refresh_from_db()
        if changed:
            self.send_to_worker()
        return bool(changed)
