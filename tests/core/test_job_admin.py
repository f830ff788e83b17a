"""A job's admin (core/job_admin.py): the list, and Cancel and Retry, posted with the CSRF token by those allowed."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from core.jobs import Job, JobFailed
from reports.models import Backtest, ExportJob
from tests.admin.conftest import client_for, messages_of
from tests.core.conftest import queued_backtest, queued_export

pytestmark = pytest.mark.django_db


def admin_url(job: Job, name: str) -> str:
    return reverse(f"admin:{job._meta.app_label}_{job._meta.model_name}_{name}", args=[job.pk])


def stored(job: Job) -> Job:
    return type(job).objects.get(pk=job.pk)


def failed(job: Job) -> Job:
    def work(running: Job) -> dict:
        raise JobFailed("The disk was full.")

    return type(job).execute(job.pk, work)


@pytest.fixture
def backtest(s0, manager) -> Backtest:
    return queued_backtest(s0, manager)


@pytest.fixture
def export(manager, media) -> ExportJob:
    return queued_export(manager)


def test_it_lists_jobs_with_their_status_progress_times_and_who_asked(backtest, manager):
    running = Backtest.claim(backtest.pk)
    running.report_progress(50, total=200)
    page = client_for(manager).get(reverse("admin:reports_backtest_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    for column in ("Status", "Progress", "Requested by", "Created at", "Started at", "Finished at", "Attempts"):
        assert column in html
    assert "Running" in html and "50 of 200 (25 %)" in html and "maria" in html


def test_it_cancels_a_job_only_on_a_post_by_someone_allowed(backtest, agent, outsider, manager):
    cancel = admin_url(backtest, "cancel")
    for user in (agent, outsider):
        assert client_for(user).post(cancel).status_code == 403
    assert client_for(manager).get(cancel).status_code == 405  # a link followed changes nothing
    assert stored(backtest).status == Job.Status.QUEUED

    response = client_for(manager).post(cancel)
    assert response.status_code == 302 and response["Location"] == admin_url(backtest, "change")
    assert stored(backtest).status == Job.Status.CANCELLED
    assert LogEntry.objects.get(object_id=str(backtest.pk)).change_message == "Cancelled."


def test_it_takes_the_buttons_only_with_the_pages_csrf_token(backtest, manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.post(admin_url(backtest, "cancel")).status_code == 403
    assert stored(backtest).status == Job.Status.QUEUED

    page = client.get(admin_url(backtest, "change")).content.decode()
    form = re.search(r'<form method="post" action="([^"]+)">.*?name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert form and form.group(1) == admin_url(backtest, "cancel")
    assert 'value="Cancel this backtest"' in page and "Run this backtest again" not in page
    assert client.post(form.group(1), {"csrfmiddlewaretoken": form.group(2)}).status_code == 302
    assert stored(backtest).status == Job.Status.CANCELLED


def test_it_runs_a_failed_job_again_from_its_page(backtest, manager, agent, django_capture_on_commit_callbacks):
    failed(backtest)
    assert client_for(agent).post(admin_url(backtest, "retry")).status_code == 403
    client = client_for(manager)
    page = client.get(admin_url(backtest, "change")).content.decode()
    assert "Run this backtest again" in page and "Cancel this backtest" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(admin_url(backtest, "retry"), follow=True)
    assert messages_of(response) == [f"Backtest #{backtest.pk} is queued again."]
    ran = stored(backtest)
    assert (ran.status, ran.attempts, ran.error) == (Job.Status.DONE, 2, "")


def test_it_says_when_there_is_nothing_to_cancel_or_retry(backtest, manager):
    client = client_for(manager)
    response = client.post(admin_url(backtest, "retry"), follow=True)
    assert messages_of(response) == [f"Backtest #{backtest.pk} is queued: only a failed or cancelled job runs again."]
    Backtest.execute(backtest.pk, lambda running: {})
    response = client.post(admin_url(backtest, "cancel"), follow=True)
    assert messages_of(response) == [f"Backtest #{backtest.pk} is done: there is nothing to cancel."]
    assert stored(backtest).status == Job.Status.DONE


def test_it_lets_only_the_user_who_asked_control_an_export(export, manager, manager2, agent):
    for user in (manager2, agent):
        assert client_for(user).post(admin_url(export, "cancel")).status_code in (403, 404)
        assert client_for(user).get(admin_url(export, "change")).status_code in (302, 403)
    assert stored(export).status == Job.Status.QUEUED
    assert client_for(manager).post(admin_url(export, "cancel")).status_code == 302
    assert stored(export).status == Job.Status.CANCELLED


def test_it_shows_the_buttons_on_the_exports_own_page_and_comes_back_to_it(export, manager):
    client = client_for(manager)
    page_url = reverse("admin:cases_refundcase_export_job", args=[export.pk])
    page = client.get(page_url).content.decode()
    assert 'value="Cancel this export job"' in page and f'name="next" value="{page_url}"' in page
    response = client.post(admin_url(export, "cancel"), {"next": page_url})
    assert response["Location"] == page_url
    page = client.get(page_url).content.decode()
    assert "The export was cancelled" in page and 'http-equiv="refresh"' not in page
    assert "Run this export job again" in page
    # Only back to a page of this site.
    response = client.post(admin_url(export, "retry"), {"next": "https://elsewhere.example/"})
    assert response["Location"] == admin_url(export, "change")


def test_it_shows_the_buttons_on_a_backtests_run_page(backtest, manager):
    page = client_for(manager).get(reverse("admin:policies_policydraft_backtest_run",
                                           args=[backtest.draft_id, backtest.pk])).content.decode()
    assert 'value="Cancel this backtest"' in page
    backtest.cancel()
    page = client_for(manager).get(reverse("admin:policies_policydraft_backtest_run",
                                           args=[backtest.draft_id, backtest.pk])).content.decode()
    assert "The backtest was cancelled" in page and "Run this backtest again" in page
