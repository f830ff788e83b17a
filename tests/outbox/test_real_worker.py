"""Background work through a real Celery worker and the local Redis broker (skipped without Redis)."""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from backoffice.celery import app
from cases.models import OutboxMessage
from tests.admin.conftest import open_case
from tests.outbox.celery_conf import celery_conf

BROKER = "redis://127.0.0.1:6379/5"  # a database of our own on the shared Redis


def redis_is_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def real_worker():
    if not redis_is_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    import celery.contrib.testing.tasks  # noqa: F401  (the ping task start_worker checks the worker with)
    from celery.contrib.testing.worker import start_worker

    with celery_conf(broker_url=BROKER, result_backend=BROKER, task_always_eager=False):
        try:
            with app.connection_for_write() as connection:
                connection.default_channel.queue_purge(app.conf.task_default_queue)
        except Exception:  # noqa: BLE001 (no queue yet)
            pass
        with start_worker(app, pool="solo", loglevel="WARNING", perform_ping_check=True, shutdown_timeout=20):
            with reads_without_table_locks():
                yield app


@contextmanager
def reads_without_table_locks():
    """On SQLite, let this test's reads take no table locks, so the worker's writes never fail on them.

    The test database is one in-memory database in shared-cache mode, shared with the worker's
    thread; there a reader's table lock makes a writer fail at once (SQLITE_LOCKED) rather than wait.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA read_uncommitted = 1")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 0")


def unlocked(call):
    """Run `call`, waiting out SQLite's table locks.

    On SQLite the test database is one in-memory database in shared-cache mode, shared with the
    worker's thread; a table the worker is writing is locked to us (SQLITE_LOCKED), and that error
    does not wait the busy timeout out the way a file database's does.
    """
    for _ in range(100):
        try:
            return call()
        except OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.05)
    return call()


def wait_for(check, timeout: float = 30.0, *, nudge=None):
    deadline = time.monotonic() + timeout
    tries = 0
    while time.monotonic() < deadline:
        result = unlocked(check)
        if result:
            return result
        tries += 1
        if nudge is not None and tries % 10 == 0:
            nudge()
        time.sleep(0.2)
    raise AssertionError("the worker did not finish in time")


@pytest.mark.filterwarnings("ignore:Call to deprecated setex")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_sends_a_case_email_through_a_real_worker(s0, real_worker, mailoutbox):
    case = open_case(s0)  # commits: the hand-off goes to the broker, and the worker sends the mail
    message = wait_for(lambda: OutboxMessage.objects.filter(case=case, status="sent").first())
    assert message.attempts == 1 and message.sent_at <= timezone.now()
    assert [m.subject for m in mailoutbox] == [message.subject]


@pytest.mark.filterwarnings("ignore:Call to deprecated setex")  # the ping check's result, in redis-py
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_runs_the_periodic_mail_job_on_the_worker(s0, real_worker, mailoutbox):
    case = open_case(s0)
    wait_for(lambda: OutboxMessage.objects.filter(case=case, status="sent").exists())
    result = real_worker.send_task("cases.deliver_due_mail")  # what beat sends every minute
    assert result.id
    unlocked(lambda: OutboxMessage.objects.create(
        storefront=s0, case=case, to="late@example.com", subject="queued while the broker was down",
        text_body="x", message_id="<late@test>",
    ))
    # Sent again while waiting, as beat would a minute later: on SQLite a run can lose the shared
    # in-memory database's lock to this test's own reads and leave the message for the next run.
    wait_for(
        lambda: OutboxMessage.objects.filter(message_id="<late@test>", status="sent").exists(),
        nudge=lambda: real_worker.send_task("cases.deliver_due_mail"),
    )
    assert sorted(m.to[0] for m in mailoutbox) == sorted([case.order.customer.email, "late@example.com"])
