"""Background jobs (core/jobs.py): claimed once, stopped by a cancel, failed in words, queued again.

Each test runs on every kind of job the product has (an export and a policy backtest): they share
one base and must behave the same.
"""

from __future__ import annotations

import logging

import pytest

from core.jobs import Job, JobCancelled, JobFailed
from tests.conftest import race

pytestmark = pytest.mark.django_db


def stored(job: Job) -> Job:
    return type(job).objects.get(pk=job.pk)


def test_it_claims_a_queued_job_once(job):
    model = type(job)
    claimed = model.claim(job.pk)
    assert claimed is not None
    assert (claimed.status, claimed.attempts) == (Job.Status.RUNNING, 1)
    assert model.claim(job.pk) is None
    row = stored(job)
    assert (row.status, row.attempts) == (Job.Status.RUNNING, 1) and row.started_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_one_of_two_workers_claim_a_job_at_the_same_moment(job):
    model = type(job)
    for round_ in range(10):
        # Queued again each round (committed here, an export's task has already run it once).
        model.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, attempts=round_)
        done, refused = race(lambda i: model.claim(job.pk), threads=2)
        assert refused == []
        winners = [claimed for claimed in done if claimed is not None]
        assert len(done) == 2 and len(winners) == 1, f"round {round_}: {done}"
        assert stored(job).attempts == winners[0].attempts == round_ + 1


def test_it_runs_the_work_and_keeps_its_results(job):
    def work(running: Job) -> dict:
        running.report_progress(0, total=2)
        running.report_progress(2)
        return {"processed": 2}

    finished = type(job).execute(job.pk, work)
    assert (finished.status, finished.processed, finished.total, finished.percent) == (Job.Status.DONE, 2, 2, 100)
    assert finished.finished_at is not None and finished.error == ""
    assert type(job).execute(job.pk, work) is None  # a second delivery finds nothing to claim


def test_it_never_starts_a_job_cancelled_while_queued(job):
    assert job.cancel() is True
    assert job.status == Job.Status.CANCELLED and job.finished_at is not None
    assert type(job).claim(job.pk) is None
    assert job.task()(job.pk) == "claimed elsewhere"  # its task, delivered anyway
    assert stored(job).status == Job.Status.CANCELLED
    assert job.cancel() is False  # nothing left to cancel


def test_it_stops_a_running_job_at_its_next_progress_point(job):
    steps = []

    def work(running: Job) -> dict:
        running.report_progress(0, total=3)
        steps.append(1)
        stored(running).cancel()  # staff press Cancel while it runs
        running.report_progress(1)
        steps.append(2)  # never reached
        return {"processed": 3}

    ended = type(job).execute(job.pk, work)
    assert steps == [1]
    assert (ended.status, ended.processed, ended.error) == (Job.Status.CANCELLED, 0, "")


def test_it_keeps_a_cancel_that_comes_after_the_last_progress_point(job):
    running = type(job).claim(job.pk)
    stored(job).cancel()
    assert running.finish(processed=0) is False
    assert running.fail("Too late to fail.") is False
    assert stored(job).status == Job.Status.CANCELLED and stored(job).error == ""


def test_it_fails_a_job_with_the_reason_written_for_people(job):
    def work(running: Job) -> dict:
        raise JobFailed("The shop did not answer; run it again in an hour.")

    failed = type(job).execute(job.pk, work)
    assert (failed.status, failed.error) == (Job.Status.FAILED, "The shop did not answer; run it again in an hour.")
    assert failed.finished_at is not None


def test_it_fails_a_job_on_an_unexpected_error_without_showing_the_traceback(job, caplog):
    def work(running: Job) -> dict:
        return {"processed": 1 // 0}

    with caplog.at_level(logging.ERROR, logger="core.jobs"):
        failed = type(job).execute(job.pk, work)
    assert failed.status == Job.Status.FAILED
    assert failed.error == "It stopped on an unexpected error (ZeroDivisionError); the server log has the details."
    logged = [record for record in caplog.records if record.name == "core.jobs"]
    assert logged and logged[0].exc_info is not None  # the traceback goes to the log


def test_it_queues_a_failed_job_again_and_sends_it_to_its_worker(job, django_capture_on_commit_callbacks):
    def work(running: Job) -> dict:
        raise JobFailed("The disk was full.")

    failed = type(job).execute(job.pk, work)
    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert failed.retry() is True
        assert (failed.status, failed.error, failed.processed, failed.started_at, failed.finished_at) == (
            Job.Status.QUEUED, "", 0, None, None)
    assert len(sent) == 1  # after the commit, so the worker finds the row
    ran = stored(job)  # no broker in tests: the task ran in-process
    assert (ran.status, ran.attempts, ran.error) == (Job.Status.DONE, 2, "")


def test_it_queues_a_cancelled_job_again(job, django_capture_on_commit_callbacks):
    job.cancel()
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert job.retry() is True
    assert job.status == Job.Status.QUEUED and len(sent) == 1


def test_it_retries_only_a_failed_or_cancelled_job(job, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert job.retry() is False  # queued
        running = type(job).claim(job.pk)
        assert running.retry() is False
        running.finish(processed=0)
        assert running.retry() is False
    assert sent == [] and stored(job).status == Job.Status.DONE


def test_it_stops_the_old_worker_of_a_job_cancelled_and_retried_while_it_ran(job, django_capture_on_commit_callbacks):
    first = type(job).claim(job.pk)
    stored(job).cancel()
    with django_capture_on_commit_callbacks(execute=False):
        stored(job).retry()
    second = type(job).claim(job.pk)
    assert (first.attempts, second.attempts) == (1, 2)
    with pytest.raises(JobCancelled):
        first.report_progress(0)
    second.report_progress(0)
    assert first.finish(processed=0) is False
    assert second.finish(processed=0) is True
    assert stored(job).status == Job.Status.DONE


def test_it_counts_progress_in_percent(job):
    running = type(job).claim(job.pk)
    assert running.percent == 0
    running.report_progress(1, total=4)
    assert stored(job).percent == 25
    running.finish(processed=4)
    assert stored(job).percent == 100
