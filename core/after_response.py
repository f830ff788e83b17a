"""Work a web request leaves until its response has gone out, when no broker is configured: the
customer's e-mail (docs/mail.md) and the portal forms' search for the order (docs/portal.md).

A request's callers ``defer`` a job; once the response is sent (Django's ``request_finished``, which
the WSGI server fires when it closes the response) the jobs run, in the same process and thread.
Outside a request (commands, shells, workers) ``defer`` declines and the caller runs the job itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

logger = logging.getLogger(__name__)
_local = threading.local()


def defer(job: Callable[[], object]) -> bool:
    """Run ``job`` after this thread's response is sent; False when the thread serves no request."""
    jobs = getattr(_local, "jobs", None)
    if jobs is None:
        return False
    jobs.append(job)
    return True


def queue(task, *args) -> None:
    """Hand ``task`` to the workers. Without a broker Celery would run it inside this call: in a web
    request it runs once the response is sent instead, so the customer neither waits for it nor can
    time it."""
    if task.app.conf.task_always_eager and defer(lambda: task.delay(*args)):
        return
    task.delay(*args)


def _start(**kwargs) -> None:
    _finish()  # jobs of an earlier request whose end was never signalled still run, late
    _local.jobs = []


def _finish(**kwargs) -> None:
    jobs, _local.jobs = getattr(_local, "jobs", None) or [], None
    for job in jobs:
        try:
            job()
        except Exception:  # the response is gone: a failed job is logged, the next one still runs
            logger.exception("A job after the response failed")


def connect() -> None:
    request_started.connect(_start, dispatch_uid="core.after_response.start")
    # Before Django closes the request's database connection (with CONN_MAX_AGE 0), not after:
    # receivers run in the order they were connected, and Django connected its own at import.
    request_finished.disconnect(close_old_connections)
    request_finished.connect(_finish, dispatch_uid="core.after_response.finish")
    request_finished.connect(close_old_connections)
