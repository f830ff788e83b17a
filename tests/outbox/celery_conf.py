"""Pointing the one Celery app of the process at another broker for a test, and back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from backoffice.celery import app


def forget_connections() -> None:
    """Fresh pools and result backend for the settings now in force (what Celery does after a fork)."""
    app._after_fork()
    app._backend_cache = None
    app._local = threading.local()


@contextmanager
def celery_conf(**changes) -> Iterator[None]:
    saved = {key: app.conf[key] for key in changes}
    app.conf.update(changes)
    forget_connections()
    try:
        yield
    finally:
        app.conf.update(saved)
        forget_connections()
