"""Background job of the mailbox reader (Celery); the name is the one beat schedules already use."""

from __future__ import annotations

from celery import shared_task

from mail.ingest import ingest_configured


@shared_task(name="cases.poll_mailboxes", ignore_result=True)
def poll_mailboxes() -> dict[str, int]:

    return {name: report.processed for name, report in ingest_configured().items()}
