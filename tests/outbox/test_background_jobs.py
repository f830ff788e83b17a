"""How background work is wired: in-process without a broker, beat's schedule, a broker outage."""

from __future__ import annotations

import pytest

from backoffice.celery import app
from cases import tasks
from cases.models import OutboxMessage, RefundCase
from tests.admin.conftest import open_case
from tests.outbox.celery_conf import celery_conf


def test_it_runs_tasks_in_process_when_no_broker_is_configured(settings):
    assert settings.CELERY_BROKER_URL == "" and app.conf.task_always_eager is True


def test_it_schedules_mail_delivery_mailbox_polling_deadline_sweeps_and_left_over_portal_forms(settings):
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == {
        "cases.deliver_due_mail", "cases.sweep_deadlines", "cases.poll_mailboxes", "cases.portal_submissions_left_over",
        "shop.sync_connected_orders", "shop.settle_refunds",
    }
    app.loader.import_default_modules()  # what a worker and beat do at start: every app's tasks module
    assert scheduled <= set(app.tasks)


def test_it_runs_the_deadline_sweep_as_a_task(db):
    assert tasks.sweep_deadlines.delay().get() == 0


@pytest.fixture
def broker_down():
    with celery_conf(broker_url="redis://127.0.0.1:1/0", task_always_eager=False, broker_connection_timeout=1,
                     task_publish_retry=False):
        yield


def test_it_keeps_the_case_and_queues_the_mail_when_the_broker_is_down(
    s0, broker_down, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = open_case(s0)  # the hand-off fails after the commit: logged, not raised
    assert RefundCase.objects.filter(pk=case.pk).exists()
    message = OutboxMessage.objects.get(case=case)
    assert message.status == "queued" and message.attempts == 0  # the periodic job sends it later
    assert mailoutbox == []
