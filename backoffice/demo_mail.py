"""What ``seed_demo`` says about mail and background tasks, and the quiet in which it seeds.

The demo's customer e-mails go to memory while it seeds, whatever the settings: in this process
(tasks forced to run here, so no worker with the real mail settings ever gets one) and without the
task log's line per message, which would read "sent" next to "nobody was mailed". What happens to
e-mail after the seed follows ``EMAIL_BACKEND`` and ``CELERY_BROKER_URL``, and is said so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.conf import settings

QUIET_LOGGERS = ("celery.app.trace", "kombu.connection")
BACKEND = "django.core.mail.backends."


@contextmanager
def seeding_quietly() -> Iterator[None]:
    """Tasks run in this process and their per-task log lines are held back (warnings still show)."""
    from backoffice.celery import app

    eager = app.conf.task_always_eager
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    app.conf.task_always_eager = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        app.conf.task_always_eager = eager
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def mail_destination() -> str:
    """Where customer e-mail goes from now on, under the configured ``EMAIL_BACKEND``."""
    backend = settings.EMAIL_BACKEND
    if backend == BACKEND + "console.EmailBackend":
        return "printed in this terminal, not sent to anyone"
    if backend == BACKEND + "locmem.EmailBackend":
        return "kept in memory, not sent to anyone"
    if backend == BACKEND + "filebased.EmailBackend":
        return f"written as files to {settings.EMAIL_FILE_PATH}, not sent to anyone"
    if backend == BACKEND + "dummy.EmailBackend":
        return "thrown away, not sent to anyone"
    if backend == BACKEND + "smtp.EmailBackend":
        return f"sent to customers through the mail server at {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    return f"handed to the mail backend {backend}"


def task_runner() -> str:
    """Who runs background tasks (sending mail among them), under ``CELERY_BROKER_URL``."""
    if not settings.CELERY_BROKER_URL:
        return "in the server's own process, straight after each change (no CELERY_BROKER_URL is set)"
    parts = urlsplit(settings.CELERY_BROKER_URL)
    where = parts.hostname or "localhost"
    if parts.port:
        where = f"{where}:{parts.port}"
    return (
        f"by a Celery worker through the broker at {where}: start one with "
        "`celery -A backoffice worker -B`, or e-mail waits in the outbox"
    )


def mail_lines(*, emails: int, created: bool) -> list[str]:
    lines = []
    if created:
        lines.append(
            f"While seeding, {emails} customer e-mails were written to the demo cases and delivered only to "
            "memory: their case pages list them as sent, but nobody was mailed."
        )
    lines.append(f"From now on, customer e-mail is {mail_destination()}.")
    lines.append(f"Background tasks run {task_runner()}.")
    return lines
